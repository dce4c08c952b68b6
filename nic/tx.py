"""The NIC's transmit side (kernel-spec §11.1; design §2): doorbells in, frames on the
wire, descriptor write-backs out.

A tail write (`db` record) makes the packets behind it visible to the device. The device
reads the descriptors and then the packet data over PCIe (two dependent DMA reads), puts
the frames on its transmit wire at line rate in the order they became ready (queues
interleave packet by packet), and writes each descriptor back (DD) once its frame has
left, which reaches the CPU serving the queue's vector one PCIe latency later (`txc`).
The on-chip TX FIFO is not modelled: write-back waits for the wire, so BQL and the ring
see everything not yet sent.
"""

from __future__ import annotations

import heapq

import numpy as np

from .traffic import Wire

FCS = 4
MIN_FRAME = 64


class TxEngine:
    __slots__ = ("wire", "read_ns", "queue_cpu", "pending", "ready", "on_wire_by_sender",
                 "on_wire_by_flow", "frames", "bytes", "end", "in_flight", "queue_packets",
                 "queue_bytes")

    def __init__(self, line_rate_bps: int, read_ns: int, queue_cpu: dict[int, str],
                 nsenders: int, nflows: int, end: int) -> None:
        self.wire = Wire(line_rate_bps)        # full duplex: the transmit direction
        self.read_ns = read_ns
        self.queue_cpu = queue_cpu
        self.pending: list = []                # doorbells not yet processed (heap)
        self.on_wire_by_sender = [0] * nsenders
        self.on_wire_by_flow = [0] * nflows    # forwarded packets, by received flow
        self.frames = 0                        # GPTC / TPT
        self.bytes = 0                         # GOTC
        self.end = end
        self.in_flight = 0                     # fetched, not yet off the wire at the end
        self.queue_packets: dict[int, int] = {}
        self.queue_bytes: dict[int, int] = {}

    def doorbell(self, stamp: int, origin: int, seq: int, queue: int, pkts: list) -> None:
        heapq.heappush(self.pending, (stamp, origin, seq, queue, pkts))

    def advance(self, safe: int, out: dict) -> None:
        """Transmit everything rung before `safe`; completions go to `out[lp]` as records."""
        while self.pending and self.pending[0][0] < safe:
            stamp, _, seq, queue, pkts = heapq.heappop(self.pending)
            ready = stamp + 2 * self.read_ns            # descriptor read, then data read
            sizes = np.array([max(p[3] + FCS, MIN_FRAME) for p in pkts], dtype=np.int64)
            done = self.wire.serialise(np.full(len(pkts), ready, dtype=np.int64), sizes)
            done_l = [int(t) for t in done.tolist()]
            for p, t in zip(pkts, done_l):
                if t < self.end:
                    self.frames += 1
                    self.bytes += p[3] + FCS
                    self.queue_packets[queue] = self.queue_packets.get(queue, 0) + 1
                    self.queue_bytes[queue] = self.queue_bytes.get(queue, 0) + p[3]
                    if p[2] >= 0:
                        self.on_wire_by_sender[p[2]] += 1
                    else:
                        self.on_wire_by_flow[p[1]] += 1
                else:
                    self.in_flight += 1
            out.setdefault(self.queue_cpu[queue], []).append((queue, done_l))

    def next_done_bound(self, safe: int) -> int:
        """Least write-back time of a doorbell not yet rung: one rung at `safe` at best."""
        return safe + 2 * self.read_ns + int(self.wire.tx_ps(np.array([MIN_FRAME]))[0]) // 1000

    def pending_packets(self) -> int:
        return sum(len(d[4]) for d in self.pending)

    def result(self) -> dict:
        return {"on_wire_by_sender": self.on_wire_by_sender,
                "forwarded_by_flow": self.on_wire_by_flow, "frames": self.frames,
                "bytes": self.bytes, "in_flight": self.in_flight + self.pending_packets(),
                "queue_packets": {str(q): n for q, n in self.queue_packets.items()},
                "queue_bytes": {str(q): n for q, n in self.queue_bytes.items()}}
