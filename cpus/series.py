"""Per-interval time series of one CPU (`[observe] interval`), as `mpstat -P ALL 1`,
`sar -n DEV 1` and `ethtool -S` diffs in a loop give them on a real host.

The CPU is run to each interval boundary T and read there, at the first step boundary at
or after T (a sampler, too, reads at an instruction boundary): CPU time by context cut at
T exactly (the step that straddles T is split, as at the end of a run), the softnet_data,
interrupt, softirq, RX queue and drop counters as they stand, the backlog, RX ring and
socket occupancy at that moment. Delivered packets are binned by the time the application
read them, with their wire-to-application latency, so a flow's row counts exactly what
was read inside its interval. Running the CPU in pieces changes nothing it does
(`Cpu.run` executes every step that starts, and every event that falls, before its limit,
wherever the limits lie), so results and rounds are the same with a time series or
without, in either mode.

May import: the standard library, numpy, `engine.histogram` and this package's modules.
"""

from __future__ import annotations

from array import array

import numpy as np

from softnet.engine.histogram import bin_index

from .books import Books
from .cpu import ACCT_NAMES, NET_RX_SOFTIRQ, NET_TX_SOFTIRQ
from .igb import ring_backlog


FOLD_READS = 3 * 8192          # reads held before they are binned


class SeriesBooks(Books):
    """The books, plus each delivered packet's (read time, flow, wire-to-app latency)."""

    __slots__ = ("reads", "on_full")

    def __init__(self, nflows: int, nsenders: int = 0) -> None:
        super().__init__(nflows, nsenders)
        self.reads = array("q")
        self.on_full = None         # folds `reads` away (CpuSeries), so memory stays flat

    def delivered_seg(self, skb, pid: int, t_wire: int, t_dma: int, t_poll: int,
                      now: int) -> None:
        super().delivered_seg(skb, pid, t_wire, t_dma, t_poll, now)
        self.reads.extend((now, skb.flow, now - t_wire))
        if len(self.reads) >= FOLD_READS:
            self.on_full(self)


class CpuSeries:
    __slots__ = ("lp", "interval", "end", "next_t", "k", "prev", "cpu_rows", "queue_rows",
                 "sock_rows", "drop_rows", "flow_dropped", "flow_reads", "txq_rows",
                 "sent_rows")

    def __init__(self, lp, interval: int, end: int) -> None:
        self.lp = lp
        self.interval = interval
        self.end = end
        self.next_t = min(interval, end)
        self.k = 0                          # the interval that ends at next_t
        self.prev: dict = {}                # counters at the last boundary
        self.cpu_rows: list[list] = []
        self.queue_rows: list[list] = []
        self.sock_rows: list[list] = []
        self.drop_rows: list[list] = []     # [k, "rx"|"tx", stage, n], n > 0
        self.flow_dropped: list[list] = []  # [k, flow, n], n > 0
        # a TX queue's halves: [k, queue, cleaned here, packets, bytes, produced here,
        # qlen, backlog, bql limit, bql inflight, stopped]
        self.txq_rows: list[list] = []
        self.sent_rows: list[list] = []     # [k, sender, sendmsg calls], n > 0
        # (k, flow) -> [reads, latency sum, max, {bin: count}]
        self.flow_reads: dict[tuple[int, int], list] = {}
        lp.books.on_full = self._fold_reads

    def advance(self, safe: int) -> None:
        """Run the CPU to each boundary up to `safe` and sample there."""
        cpu = self.lp.cpu
        while self.k >= 0 and self.next_t <= safe:
            cpu.run(self.next_t)
            self.sample(self.next_t)
            if self.next_t >= self.end:
                self.k = -1                 # the last interval is in
                return
            self.k += 1
            self.next_t = min(self.next_t + self.interval, self.end)

    def _delta(self, key, value: int) -> int:
        d = value - self.prev.get(key, 0)
        self.prev[key] = value
        return d

    def sample(self, t: int) -> None:
        lp, k, d = self.lp, self.k, self._delta
        cpu, sd = lp.cpu, lp.sd
        times = cpu.time_by_context(t)
        self.cpu_rows.append(
            [k, lp.cpu_id, *(d(("t", n), times[n]) for n in ACCT_NAMES),
             d("irqs", sum(cpu.irq_counts.values())),
             d("net_rx", cpu.kstat_softirqs[NET_RX_SOFTIRQ]),
             d("net_tx", cpu.kstat_softirqs[NET_TX_SOFTIRQ]),
             d("processed", sd.processed), d("time_squeeze", sd.time_squeeze),
             d("backlog_dropped", sd.dropped), lp.backlog.queued()])
        for qv in lp.qvectors:
            ring = qv.rx_ring
            if ring is None:
                continue
            q = ring.index
            taken = qv.ring_packets
            dropped = ring.rqdpc + ring.mpc
            self.queue_rows.append(
                [k, q, lp.cpu_id, d(("pk", q), taken), d(("dr", q), dropped),
                 d(("irq", q), cpu.irq_counts.get(qv.vec.name, 0)),
                 ring_backlog(qv, t), qv.vec.interval])
        for s in lp.sockets.values():
            self.sock_rows.append([k, s.index, lp.cpu_id, s.queued(), s.rmem_alloc,
                                   s.rcvbuf])
        for q, txq in lp.txqs.items():
            cleans, produces = q in lp.txq_cleaned, q in lp.tx.queues
            self.txq_rows.append(
                [k, q, cleans, d(("txp", q), txq.ring.packets) if cleans else 0,
                 d(("txb", q), txq.ring.bytes) if cleans else 0, produces,
                 *((txq.qdisc.qlen(), txq.qdisc.backlog, txq.dql.limit, txq.dql.inflight(),
                    txq.stopped()) if produces else (0, 0, 0, 0, False))])
        for sender, n in enumerate(lp.books.tx_sent):
            n = d(("sent", sender), n)
            if n:
                self.sent_rows.append([k, sender, n])
        books = lp.books
        # the receive books (received and forwarded packets) and the senders' apart: a
        # stage may be in both (qdisc_drop)
        for side, drops in (("rx", books.drops), ("tx", books.tx_drops)):
            for stage, n in drops.items():
                n = d((side, stage), n)
                if n:
                    self.drop_rows.append([k, side, stage, n])
        for f, n in enumerate(books.flow_dropped):
            n = d(("fd", f), n)
            if n:
                self.flow_dropped.append([k, f, n])
        # reads carry their own time: binned when the buffer fills or at the end, not here

    def _fold_reads(self, books: SeriesBooks) -> None:
        if not books.reads:
            return
        a = np.frombuffer(books.reads, dtype=np.int64).reshape(-1, 3)
        books.reads = array("q")
        # by read time: a read in a step that straddles the boundary is the next one's
        ks = np.minimum(a[:, 0] // self.interval, (self.end - 1) // self.interval)
        flows = a[:, 1]
        lat = a[:, 2]
        bins = bin_index(lat.copy())
        keys, counts = np.unique(np.stack([ks, flows, bins]), axis=1, return_counts=True)
        kf, inv = np.unique(np.stack([ks, flows]), axis=1, return_inverse=True)
        inv = inv.reshape(-1)
        sums = np.zeros(kf.shape[1], dtype=np.int64)
        np.add.at(sums, inv, lat)
        maxes = np.zeros(kf.shape[1], dtype=np.int64)
        np.maximum.at(maxes, inv, lat)
        fr = self.flow_reads
        for (kk, f), total, mx in zip(kf.T.tolist(), sums.tolist(), maxes.tolist()):
            e = fr.get((kk, f))
            if e is None:
                e = fr[(kk, f)] = [0, 0, 0, {}]
            e[1] += total
            e[2] = max(e[2], mx)
        for (kk, f, b), c in zip(keys.T.tolist(), counts.tolist()):
            e = fr[(kk, f)]
            e[0] += c
            e[3][b] = e[3].get(b, 0) + c

    def export(self) -> dict:
        self._fold_reads(self.lp.books)
        return {"cpu": self.cpu_rows, "queue": self.queue_rows, "socket": self.sock_rows,
                "txq": self.txq_rows, "sent": self.sent_rows,
                "drops": self.drop_rows, "flow_dropped": self.flow_dropped,
                "flow_reads": [[k, f, e[0], e[1], e[2], sorted(e[3].items())]
                               for (k, f), e in sorted(self.flow_reads.items())]}
