"""The nic logical process: the wire and the device's shared parts.

Per window of simulated time it takes the frames the flows start, serialises them on the
wire, classifies each by RSS (Toeplitz over the fields `rx_flow_hash` selects, then the
RETA), and hands each frame to the CPU process that serves its queue, stamped with the
time its descriptor is written back (wire arrival + PCIe latency). With no input links it
can run as far ahead as the pipes let it: receive is feed-forward (design §2).

ntuple rules are part of the plan-time queue of a flow (a matching rule wins over RSS;
action -1 drops at the classifier). With aRFS (`arfs` records, nic/arfs.py) or ixgbe's ATR
(filters that come with tail writes, nic/atr.py) the CPUs program filters at run time:
then the nic classifies a frame when its last bit arrives, and holds frames that arrive at
or after its safe time until every filter stamped before them is known.
"""

from __future__ import annotations

import numpy as np

from softnet.engine.lp import LogicalProcess
from softnet.engine.records import accepted, refuse
from softnet.engine.skb import TraceChoice

from .arfs import ArfsTable
from .atr import AtrTable
from .rss import flow_hash_and_queue, rule_matches
from .rr import RrClients
from .rxring import TCP_ACK_LEN
from .traffic import FlowSource, Wire
from .tx import FCS, TxEngine

TARGET_FRAMES_PER_WINDOW = 4096


class NicLP(LogicalProcess):
    def __init__(self, name: str, index: int, args: dict) -> None:
        self.name = name
        self.index = index
        self.end = args["duration_ns"]
        self.pcie_ns = args["pcie_latency_ns"]
        self.flows = args["flows"]
        self.queue_cpu = args["queue_cpu"]            # RX queue -> name of the serving LP
        self.lp_index = args.get("lp_index", {})
        # a request/response flow's frames come from its clients (nic.rr), not a source
        self.sources = [FlowSource(i, f, args["seed"], self.end)
                        for i, f in enumerate(self.flows) if f["arrival"] != "rr"]
        self.sizes = np.array([f["size"] for f in self.flows], dtype=np.int64)
        # one receive wire per port (each port is its own link); flows arrive on theirs
        self.nports = args.get("ports", 1)
        flow_port = args.get("flow_port") or [0] * len(self.flows)
        self.flow_port = np.array(flow_port, dtype=np.int64)
        self.wires = [Wire(args["line_rate_bps"]) for _ in range(self.nports)]
        self.wire = self.wires[0]
        hq = [flow_hash_and_queue(f, args["rss"]) for f in self.flows]
        self.flow_hash = [h for h, _ in hq]
        # queues are numbered across ports: port × combined + the port's RSS queue
        self.nq = nq = args.get("combined", 1)
        self.flow_queue = np.array([q if q < 0 else pt * nq + q
                                    for pt, (_, q) in zip(flow_port, hq)], dtype=np.int64)
        # frames a sideband (ethtool) filter matched: fdir_sb_match; action -1 drops them
        self.rule_hit = np.array([any(rule_matches(r, f) for r in args["rss"].get("rules", ()))
                                  for f in self.flows], dtype=bool)
        self.sb_match = 0
        self.dropped = np.zeros(len(self.flows), dtype=np.int64)
        # the filters the CPUs write at run time: ice's aRFS, or ixgbe's ATR
        a = args.get("arfs")
        self.filters = AtrTable(len(self.flows), self.nports) if args.get("atr") else \
            None if not a else ArfsTable(len(self.flows), a["hz"], a["expire_j"],
                                                 a["service_period_ns"])
        self.steers: list[tuple] = []        # (stamp, origin, seq, flow, rxq, flow_id)
        tx = args.get("tx")
        arp = (tx or {}).get("arp") or {}
        self.arp_delay = arp.get("reply_delay_ns", 0)
        self.arp_notify = arp.get("notify", [])   # neighbour -> the CPUs that send to it
        self.arp_cpus = {c for cs in self.arp_notify for c in cs}
        self.txe = None if not tx else TxEngine(
            args["line_rate_bps"], tx["pcie_read_ns"],
            {int(q): lp for q, lp in tx["queue_cpu"].items()}, tx["nsenders"],
            len(self.flows), self.end, self.nports, args.get("combined", 1))
        self.tx_out: dict[str, list] = {}
        self.rx_until_sent: dict[str, int] = {}
        self.out_seq = 0
        self.held = None                     # (arrive, ids, flows, words) not yet classified
        total_pps = sum(f["pps"] for f in self.flows) or 1.0
        self.window = int(min(max(TARGET_FRAMES_PER_WINDOW / total_pps * 1e9, 20_000), 5_000_000))
        self.out: dict[str, list[np.ndarray]] = {}
        self.offered = np.zeros(len(self.flows), dtype=np.int64)
        self.not_offered = 0          # started by a sender but still on the wire at the end
        self.next_id = 0
        # [observe] pcap = ["wire"]: frames seen on each port's receive wire, in time order,
        # as (arrival of the last bit, flow, packet id), up to `count` per port
        cap = args["capture"]
        self.cap_flows = None if cap is None else np.array(cap["flows"], dtype=np.int64)
        self.cap_count = 0 if cap is None else cap["count"]
        self.cap_rx: list[list] = [[] for _ in range(self.nports)]
        self.cap_cut = [False] * self.nports     # frames were left out at the count cap
        if cap is not None and self.txe is not None:   # … and the frames that left
            self.txe.cap_tx = [[] for _ in range(self.nports)]
            self.txe.cap_count = cap["count"]
            self.txe.cap_flows = set(cap["flows"]) if cap["filtered"] else None
        tr = args["trace"]
        if tr is not None and tr["sample"] and self.txe is not None:
            self.txe.trace = TraceChoice(tr["sample"], tr["window"][0],
                                      min(tr["window"][1], self.end), tr["flows"],
                                      tr["senders"])
        # … and the neighbours' ARP replies on each port's receive wire, unless only some
        # flows are captured
        self.cap_arp_rx = [[] for _ in range(self.nports)] \
            if cap is not None and not cap["filtered"] else None
        # [observe] interval: frames offered per (interval, flow), by wire arrival time
        self.series_ns = args["series_ns"]
        if self.txe is not None:
            self.txe.series_ns = self.series_ns
        self.series_offered: dict[tuple[int, int], int] = {}
        self.series_dropped: dict[tuple[int, int], int] = {}   # by an ntuple drop rule
        rr = args.get("rr")
        self.rr = None if rr is None else RrClients(rr["instances"], self.end, rr["hz"])
        if rr is not None:
            self.txe.rr_servers = set(rr["servers"])
        self.done_generating = not self.flows
        self.t = 0

    def receive(self, src, payload):
        if self.filters is None and self.txe is None:
            raise RuntimeError(f"nic has no input links (got a frame from {src})")
        origin = self.lp_index[src]
        sync = getattr(self, "sync", None)       # unit tests drive an LP without one
        floor = sync.advanced_to if sync is not None else -1
        link = getattr(self, "in_links", {}).get(src)
        carries = link.carries if link is not None else ()
        accepts = accepted("nic", carries)
        for kind, stamp, seq, body in payload["cpu"]:
            if stamp < floor:                # a promise was broken: fail, never mis-order
                raise RuntimeError(f"nic: a {kind} record from {src} stamped {stamp} "
                                   f"arrived after advancing to {floor}")
            if kind not in accepts:
                refuse(kind, "nic", src, carries)
            if kind == "db":                 # a tail write: packets for the wire
                self.txe.doorbell(stamp, origin, seq, body[0], body[1], body[2],
                                  body[3] if len(body) > 3 else None)
                for flow in body[4] if len(body) > 4 else ():   # ATR's filters: in
                    # the Flow Director of the port the ring is on, which sees only
                    # that port's frames
                    if body[0] // self.nq == self.flow_port[flow]:
                        self.steers.append((stamp, origin, seq, flow, body[0]))
            else:                            # arfs: ndo_rx_flow_steer
                self.steers.append((stamp, origin, seq, *body))

    def advance(self, safe: int) -> None:
        if self.rr is not None:
            self._advance_rr(safe)
            return
        if self.filters is None and self.txe is not None:
            # receive does not depend on what the CPUs transmit: frames may be generated
            # a window beyond the doorbells' safe time, so the CPUs are not held to it;
            # a whole window at a time once half of it is used, as numpy on the few
            # frames of one round costs more than the frames
            if self.t - safe < self.window // 2:
                self._generate(max(self.t, min(self.end, safe + self.window)))
        else:
            self._generate(safe)
        if self.filters is not None:
            self._release(safe)
        if self.txe is not None:
            self._transmit(safe)

    def _transmit(self, safe: int) -> None:
        """Doorbells rung before `safe`: frames out, write-backs and ARP replies back."""
        done: dict[str, list] = {}
        self.txe.advance(safe, done)
        pcie = self.pcie_ns
        # a neighbour answers a request: its reply (60 bytes) follows on the receive
        # wire, and arp_rcv's neigh_update reaches each CPU that sends to it
        reply = self.arp_delay + self.wire.tx_ps_one(64) // 1000 + pcie
        for t, k, port in self.txe.arp_out:
            if self.cap_arp_rx is not None:
                self._capture_arp_reply(port, t + reply - pcie, k, t + reply)
            for dst in self.arp_notify[k]:
                self.out_seq += 1
                self.tx_out.setdefault(dst, []).append(("arp", t + reply, self.out_seq, k))
        self.txe.arp_out.clear()
        for dst, lst in done.items():
            for queue, times, clean in lst:
                times = [t + pcie for t in times]    # the write-back reaches the host
                seq = self.out_seq + 1
                self.out_seq += len(times)
                self.tx_out.setdefault(dst, []).append(("txc", times[0], seq,
                                                        (queue, times, clean)))

    def _advance_rr(self, safe: int) -> None:
        """With request/response clients, what the CPUs transmit decides what arrives:
        the doorbells before `safe` first (their responses reach the clients), then the
        frames, up to where no response not yet known could start a request earlier (a
        doorbell rung at `safe` at best, then the clients' think time)."""
        self._transmit(safe)
        for t, flow, word in self.txe.rr_out:
            self.rr.response(t, flow, word)
        self.txe.rr_out.clear()
        bound = self.rr.send_bound(self.txe.next_done_bound(safe))
        target = safe if self.filters is not None else safe + self.window
        self._generate(max(self.t, min(target, bound, self.end)))
        if self.filters is not None:
            self._release(safe)

    def _generate(self, safe: int) -> None:
        if self.done_generating:
            self.t = safe
            return
        starts, flows, words = [], [], []
        for src in self.sources:
            t = src.take(safe)
            if t.size:
                starts.append(t)
                flows.append(np.full(t.size, src.index, dtype=np.int64))
                words.append(np.zeros(t.size, dtype=np.int64))
        if self.rr is not None:              # the clients' requests before `safe`
            req = self.rr.requests_before(safe)
            if req:
                starts.append(np.array([t for t, _, _ in req], dtype=np.int64))
                flows.append(np.array([f for _, f, _ in req], dtype=np.int64))
                words.append(np.array([w for _, _, w in req], dtype=np.int64))
        self.t = safe
        if self.rr is None and all(s.exhausted for s in self.sources):
            self.done_generating = True
        if not starts:
            return
        t = np.concatenate(starts)
        f = np.concatenate(flows)
        w = np.concatenate(words)
        order = np.lexsort((f, t))          # by time, then flow index: deterministic ties
        t, f, w = t[order], f[order], w[order]
        if self.nports == 1:
            arrive = self.wire.serialise(t, self.frame_sizes(f, w))
        else:                               # each port's frames on its own wire
            arrive = np.empty_like(t)
            port = self.flow_port[f]
            for pt, wi in enumerate(self.wires):
                m = port == pt
                if m.any():
                    arrive[m] = wi.serialise(t[m], self.frame_sizes(f[m], w[m]))
            order = np.lexsort((f, arrive))
            arrive, f, w = arrive[order], f[order], w[order]
        keep = arrive < self.end
        if not keep.all():
            self.not_offered += int((~keep).sum())
            late_ports = set(self.flow_port[f[~keep]].tolist())
            arrive, f, w = arrive[keep], f[keep], w[keep]
            # a wire past the end: nothing more arrives on that port, and whatever its
            # flows still start before the end is still on the wire then too (counted
            # here whatever the window, so the count does not depend on how the run was
            # cut into rounds)
            for s in self.sources:
                if int(self.flow_port[s.index]) in late_ports:
                    self.not_offered += s.count_rest(self.end)
            self.done_generating = all(s.exhausted for s in self.sources)
        n = arrive.size
        if n == 0:
            return
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        np.add.at(self.offered, f, 1)
        if self.cap_flows is not None:
            self._capture_rx(arrive, ids, f)
        if self.series_ns:
            self._series_count(arrive, f, self.series_offered)
        if self.filters is None:
            self._emit(arrive, ids, f, self.flow_queue[f], w)
        elif self.held is None:
            self.held = (arrive, ids, f, w)
        else:
            self.held = tuple(np.concatenate((h, x)) for h, x in
                              zip(self.held, (arrive, ids, f, w)))

    def frame_sizes(self, f, w):
        """Frame sizes on the wire: a flow's, or a TCP_RR pure ACK's (word < 0)."""
        sizes = self.sizes[f]
        return np.where(w < 0, TCP_ACK_LEN + FCS, sizes) if self.rr is not None else sizes

    def _capture_rx(self, arrive, ids, f) -> None:
        m = np.isin(f, self.cap_flows)
        port = self.flow_port[f]
        for pt, got in enumerate(self.cap_rx):
            room = self.cap_count - len(got)
            sel = m & (port == pt)
            if int(sel.sum()) > room:
                self.cap_cut[pt] = True
            if room <= 0:
                continue
            got.extend(zip(arrive[sel][:room].tolist(), f[sel][:room].tolist(),
                           ids[sel][:room].tolist()))

    def _capture_arp_reply(self, port: int, t: int, neigh: int, t_host: int) -> None:
        """(last bit on the wire, neighbour, when arp_rcv has it on the host)."""
        got = self.cap_arp_rx[port]
        if t < self.end and not self.cap_cut[port]:
            # the receive wire's count: its frames and its replies together
            if len(got) + len(self.cap_rx[port]) < self.cap_count:
                got.append((t, neigh, t_host))
            else:
                self.cap_cut[port] = True

    def _series_count(self, arrive, f, so: dict) -> None:
        ks = arrive // self.series_ns
        keys, counts = np.unique(np.stack([ks, f]), axis=1, return_counts=True)
        for (k, fl), c in zip(keys.T.tolist(), counts.tolist()):
            so[(k, fl)] = so.get((k, fl), 0) + c

    def _release(self, safe: int) -> None:
        """Classify the held frames that arrived before `safe`, each with the aRFS filters
        live at its arrival (every steer record stamped before `safe` is here)."""
        if self.held is None:
            e = np.empty(0, dtype=np.int64)
            self.held = (e, e, e, e)
        arrive, ids, f, w = self.held
        k = int(np.searchsorted(arrive, safe, side="left"))     # arrivals are in order
        self.held = (arrive[k:], ids[k:], f[k:], w[k:]) if k < arrive.size else None
        arrive, ids, f, w = arrive[:k], ids[:k], f[:k], w[:k]
        table = self.filters
        # steer records and the service timer, in time order (a timer run first on a tie)
        steers = sorted([(t, -1) for t in table.timers_before(safe)]
                        + [s for s in self.steers if s[0] < safe])
        self.steers = [s for s in self.steers if s[0] >= safe]
        start = 0
        for st in steers + [None]:
            end = k if st is None else int(np.searchsorted(arrive, st[0], side="left"))
            if end > start:
                fs = f[start:end]
                over = np.array(table.flow_queue, dtype=np.int64)[fs]
                hit = (over >= 0) & ~self.rule_hit[fs]
                table.lookups(hit, self.flow_port[fs])
                q = np.where(hit, over, self.flow_queue[fs])
                self._emit(arrive[start:end], ids[start:end], fs, q, w[start:end])
                start = end
            if st is None:
                pass
            elif st[1] < 0:
                table.service_task(st[0])
            else:
                table.steer(st[0], *st[3:])

    def _emit(self, arrive, ids, f, q, words) -> None:
        """Hand classified frames to the CPUs serving their queues (-1: a drop rule), each
        with its TCP_RR word (0 for other frames)."""
        hit = self.rule_hit[f]
        if hit.any():
            self.sb_match += int(hit.sum())
            drop = q < 0
            if drop.any():
                np.add.at(self.dropped, f[drop], 1)
                if self.series_ns:
                    self._series_count(arrive[drop], f[drop], self.series_dropped)
                keep = ~drop
                arrive, ids, f, q = arrive[keep], ids[keep], f[keep], q[keep]
                words = words[keep]
        stamp = arrive + self.pcie_ns
        for qi, dst in enumerate(self.queue_cpu):
            m = q == qi
            if m.any():
                self.out.setdefault(dst, []).append(
                    np.stack([stamp[m], ids[m], f[m], arrive[m], q[m], words[m]]))

    def promise(self, dst: str, safe: int) -> int:
        p = self._rx_promise(dst, safe)
        if self.txe is not None and dst in self.txe.queue_cpu.values():
            p = min(p, self.txe.next_done_bound(safe) + self.pcie_ns)
        if dst in self.arp_cpus:             # an ARP reply to a request not yet rung
            p = min(p, self.txe.next_done_bound(safe) + self.arp_delay + self.pcie_ns)
        return p

    def _rx_promise(self, dst: str, safe: int) -> int:
        base = self.end if self.done_generating else max(
            safe, self.t, min(w.free_at_ns() for w in self.wires))
        if self.filters is not None:
            # CPUs wait on the nic here: tell them when the next frame can arrive at all
            # (request/response clients: at their next event, or for a response not yet
            # rung, its think time after it — what `_advance_rr` generates up to)
            if not self.done_generating:
                nxt = [t for t in (s.next_start() for s in self.sources) if t is not None]
                if self.rr is not None:
                    nxt.append(self.rr.next_send(self.txe.next_done_bound(safe)))
                base = max(base, min(nxt)) if nxt else self.end
            if self.held is not None:         # held frames arrived at or after `safe`
                base = min(base, int(self.held[0][0]))
        return base + self.pcie_ns

    def take_outbox(self, dst: str):
        parts = self.out.pop(dst, None)
        recs = self.tx_out.pop(dst, None)
        out = {}
        if self.txe is not None and self.filters is None:
            # the receive part of this link's promise on its own: a CPU whose TX queues
            # are idle cannot be made to transmit by a completion, only by a frame
            ru = self._rx_promise(dst, self.t)
            if ru > self.rx_until_sent.get(dst, -1):
                self.rx_until_sent[dst] = ru
                out["rx_until"] = ru
        if parts:
            cols = np.concatenate(parts, axis=1)
            out["rx"] = [c.tobytes() for c in cols]  # rows of int64, native order
        if recs:
            out["cpu"] = recs                     # TX descriptor write-backs
        return out or None

    def progress(self) -> dict:
        # what was offered is counted where it lands (cpus), at the receivers' clocks; a
        # frame an ntuple rule drops lands nowhere: counted here, offered and dropped alike
        nd = int(self.dropped.sum())
        return {"offered": nd, "dropped": nd,
                "on_wire": self.txe.frames if self.txe is not None else 0}

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
            "wire_busy_ns": self.wire.busy_ns_before(self.end),
            "wire_busy_ns_by_port": [w.busy_ns_before(self.end) for w in self.wires],
            "fdir_sb_match": self.sb_match,
            "ntuple_dropped_by_flow": self.dropped.tolist(),
            "tx": None if self.txe is None else self.txe.result(),
            **({"rr": self.rr.result()} if self.rr is not None else {}),
            **({"trace_tx": self.txe.trace_tx} if self.txe is not None
               and self.txe.trace is not None else {}),
            **({"capture_rx": self.cap_rx, "capture_cut": self.cap_cut,
                "capture_arp_rx": self.cap_arp_rx,
                "capture_tx": self.txe.cap_tx if self.txe else None,
                "capture_tx_cut": self.txe.cap_cut if self.txe else None}
               if self.cap_flows is not None else {}),
            **({"series_offered": sorted([k, f, n] for (k, f), n in
                                         self.series_offered.items()),
                "series_ntuple_dropped": sorted([k, f, n] for (k, f), n in
                                                self.series_dropped.items()),
                "series_forwarded": sorted([k, f, n] for (k, f), n in
                                           (self.txe.series_fwd if self.txe else {}).items()),
                "series_on_wire": sorted([k, a, n] for (k, a), n in
                                         (self.txe.series_sent if self.txe else {}).items())}
               if self.series_ns else {}),
            ("atr" if isinstance(self.filters, AtrTable) else "arfs"):
                None if self.filters is None else dict(
                    self.filters.result(), flow_queue=self.filters.flow_queue,
                    queue_changes=self.filters.changes),
        }


def build(name: str, index: int, args: dict) -> NicLP:
    return NicLP(name, index, args)
