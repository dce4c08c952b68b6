"""The nic logical process: the wire and the device's shared parts.

Per window of simulated time it takes the frames the flows start, serialises them on the
wire, classifies each by RSS (Toeplitz over the fields `rx_flow_hash` selects, then the
RETA), and hands each frame to the CPU process that serves its queue, stamped with the
time its descriptor is written back (wire arrival + PCIe latency). With no input links it
can run as far ahead as the pipes let it: receive is feed-forward (design §2).
"""

from __future__ import annotations

import numpy as np

from engine.lp import LogicalProcess

from .rss import flow_hash_and_queue
from .traffic import FlowSource, Wire

TARGET_FRAMES_PER_WINDOW = 4096


class NicLP(LogicalProcess):
    def __init__(self, name: str, index: int, args: dict) -> None:
        self.name = name
        self.index = index
        self.end = args["duration_ns"]
        self.pcie_ns = args["pcie_latency_ns"]
        self.flows = args["flows"]
        self.queue_cpu = args["queue_cpu"]            # RX queue -> name of the serving LP
        self.sources = [FlowSource(i, f, args["seed"], self.end) for i, f in enumerate(self.flows)]
        self.sizes = np.array([f["size"] for f in self.flows], dtype=np.int64)
        self.wire = Wire(args["line_rate_bps"])
        hq = [flow_hash_and_queue(f, args["rss"]) for f in self.flows]
        self.flow_hash = [h for h, _ in hq]
        self.flow_queue = np.array([q for _, q in hq], dtype=np.int64)
        total_pps = sum(f["pps"] for f in self.flows) or 1.0
        self.window = int(min(max(TARGET_FRAMES_PER_WINDOW / total_pps * 1e9, 20_000), 5_000_000))
        self.out: dict[str, list[np.ndarray]] = {}
        self.offered = np.zeros(len(self.flows), dtype=np.int64)
        self.not_offered = 0          # started by a sender but still on the wire at the end
        self.next_id = 0
        self.done_generating = not self.flows
        self.t = 0

    def receive(self, src, payload):
        raise RuntimeError(f"nic has no input links (got a frame from {src})")

    def advance(self, safe: int) -> None:
        if self.done_generating:
            self.t = safe
            return
        starts, flows = [], []
        for src in self.sources:
            t = src.take(safe)
            if t.size:
                starts.append(t)
                flows.append(np.full(t.size, src.index, dtype=np.int64))
        self.t = safe
        if all(s.exhausted for s in self.sources):
            self.done_generating = True
        if not starts:
            return
        t = np.concatenate(starts)
        f = np.concatenate(flows)
        order = np.lexsort((f, t))          # by time, then flow index: deterministic ties
        t, f = t[order], f[order]
        arrive = self.wire.serialise(t, self.sizes[f])
        keep = arrive < self.end
        if not keep.all():
            self.not_offered += int((~keep).sum())
            arrive, f = arrive[keep], f[keep]
            self.done_generating = True     # the wire is past the end: nothing more arrives
            for s in self.sources:
                s.exhausted = True
        n = arrive.size
        if n == 0:
            return
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        np.add.at(self.offered, f, 1)
        q = self.flow_queue[f]
        stamp = arrive + self.pcie_ns
        for qi, dst in enumerate(self.queue_cpu):
            m = q == qi
            if m.any():
                self.out.setdefault(dst, []).append(
                    np.stack([stamp[m], ids[m], f[m], arrive[m], q[m]]))

    def promise(self, dst: str, safe: int) -> int:
        if self.done_generating:
            return self.end + self.pcie_ns
        return max(safe, self.wire.free_at_ns()) + self.pcie_ns

    def take_outbox(self, dst: str):
        parts = self.out.pop(dst, None)
        if not parts:
            return None
        cols = np.concatenate(parts, axis=1)
        return {"rx": [c.tobytes() for c in cols]}  # rows of int64, native order

    def progress(self) -> dict:
        return {"offered": int(self.offered.sum())}

    def result(self) -> dict:
        sizes = self.sizes
        return {
            "kind": "nic",
            "offered": int(self.offered.sum()),
            "offered_by_flow": self.offered.tolist(),
            "not_offered": self.not_offered,
            "gprc": int(self.offered.sum()),
            "gorc": int((self.offered * sizes).sum()) if len(sizes) else 0,
            "flow_hash": self.flow_hash,
            "flow_queue": self.flow_queue.tolist(),
            "wire_busy_ns": self.wire.busy_ps // 1000,
        }


def build(name: str, index: int, args: dict) -> NicLP:
    return NicLP(name, index, args)
