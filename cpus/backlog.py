"""RPS and the per-CPU backlog (kernel-spec §7.2–§7.6, L6.6).

`get_rps_cpu` picks a CPU from the RX queue's `rps_cpus` map with the skb's software flow
hash (igb's hash is L3-typed, so RPS re-hashes) and `reciprocal_scale`. The enqueue itself
(`enqueue_to_backlog`) runs on the CPU that owns the target `softnet_data`: for a remote
target the skb travels over the interconnect link and the target decides admission
(`netdev_max_backlog`, flow limit) when it lands.

The IPI: the enqueue that finds the target's backlog idle sets its SCHED bit and owes the
target an IPI, which the enqueuing CPU sends at the end of its `net_rx_action` (or at the
start of its own `process_backlog`). The enqueuing CPU cannot see the target's state, so it
sends a marker to every CPU it enqueued to in that run; the target takes it as the IPI
(`rps_trigger_softirq`: schedule the backlog NAPI, `received_rps`++, a CAL interrupt) only
when that CPU is the one whose enqueue woke the backlog — which is exactly when the kernel
sends one.

Flow limit (§7.4) uses the enqueuing CPU's table; here each target keeps the part of each
enqueuing CPU's table that concerns enqueues to it, and reports the counts back under the
enqueuing CPU.
"""

from __future__ import annotations

from collections import deque

from .napi import NapiStruct, napi_list_schedule

FLOW_LIMIT_HISTORY = 128


def get_rps_cpu(rps_map: list[int] | None, sw_hash: int) -> int:
    """-1 when the queue has no RPS map; else map[reciprocal_scale(hash, len)]."""
    if not rps_map:
        return -1
    return rps_map[(sw_hash * len(rps_map)) >> 32]


class FlowLimit:
    __slots__ = ("buckets", "history", "head", "count", "mask")

    def __init__(self, table_len: int) -> None:
        self.buckets = [0] * table_len
        self.history = [0] * FLOW_LIMIT_HISTORY
        self.head = 0
        self.count = 0
        self.mask = table_len - 1

    def over(self, sw_hash: int) -> bool:
        """skb_flow_limit's table update: True means drop."""
        new = sw_hash & self.mask
        old = self.history[self.head]
        self.history[self.head] = new
        self.head = (self.head + 1) & (FLOW_LIMIT_HISTORY - 1)
        if self.buckets[old]:
            self.buckets[old] -= 1
        self.buckets[new] += 1
        if self.buckets[new] > FLOW_LIMIT_HISTORY >> 1:
            self.count += 1
            return True
        return False


class Backlog:
    """This CPU's input_pkt_queue / process_queue and its backlog NAPI."""

    __slots__ = ("cpu", "sd", "stack", "books", "max_backlog", "input_pkt_queue",
                 "process_queue", "napi", "owed_ipi_from", "fl_cpus", "fl_len", "fl",
                 "input_queue_head", "input_queue_tail", "send_ipis", "heads", "in_hand",
                 "complete_early")

    def __init__(self, cpu, sd, stack, books, max_backlog: int, dev_weight: int,
                 fl_cpus: set[int], fl_len: int, send_ipis) -> None:
        self.cpu = cpu
        self.sd = sd
        self.stack = stack
        self.books = books
        self.max_backlog = max_backlog
        self.input_pkt_queue: deque = deque()
        self.process_queue: deque = deque()
        self.napi = NapiStruct("backlog", dev_weight, self.process_backlog, None)
        self.owed_ipi_from: int | None = None
        self.fl_cpus = fl_cpus          # flow_limit_cpu_bitmap
        self.fl_len = fl_len
        self.fl: dict[int, FlowLimit] = {}
        self.input_queue_head = 0
        self.input_queue_tail = 0
        self.send_ipis = send_ipis      # generator fn: send this CPU's queued RPS IPIs
        self.heads = None               # rfs.HeadReports when RFS may enqueue here
        self.in_hand = None             # the skb process_backlog is on
        # 3.x: the NAPI completes as soon as what it spliced fits the quota left, so
        # packets that arrive meanwhile schedule it again (devices-probe-kernels.md §4.2)
        self.complete_early = False

    def _flow_limit(self, skb, qlen: int, src: int) -> bool:
        if src not in self.fl_cpus or qlen < self.max_backlog >> 1:
            return False
        fl = self.fl.get(src)
        if fl is None:
            fl = self.fl[src] = FlowLimit(self.fl_len)
        return fl.over(self.stack.sw_hash[skb.flow])

    def enqueue_to_backlog(self, skb, src: int) -> bool:
        """On this (the target) CPU. False: dropped (softnet `dropped`, netdev rx_dropped)."""
        qlen = len(self.input_pkt_queue)
        if qlen <= self.max_backlog and not self._flow_limit(skb, qlen, src):
            if qlen == 0 and not self.napi.sched:
                self.napi.sched = True
                if src == self.cpu.index:
                    napi_list_schedule(self.cpu, self.sd, self.napi, True)
                else:
                    self.owed_ipi_from = src
            self.input_pkt_queue.append(skb)
            self.input_queue_tail += 1
            if skb.rps_src >= 0:
                self.heads.queued(skb)
            return True
        if skb.rps_src >= 0:
            self.heads.dropped(skb)
        self.sd.dropped += 1
        core = self.stack.rx_dropped_core
        core[skb.flow] = core.get(skb.flow, 0) + 1
        limited = qlen <= self.max_backlog
        self.books.drop(skb.flow, "flow_limit" if limited else "backlog", skb.nsegs)
        return False

    def ipi_from(self, src: int) -> bool:
        """A marker from `src` at the end of its net_rx_action: is it the IPI?"""
        if self.owed_ipi_from != src:
            return False
        self.owed_ipi_from = None
        return True

    def rps_trigger_softirq(self) -> None:
        """The IPI handler, in hard-IRQ context on this CPU."""
        self.sd.received_rps += 1
        napi_list_schedule(self.cpu, self.sd, self.napi, True)

    def process_backlog(self, cpu, napi, quota: int):
        """The backlog NAPI's poll (§7.6): protocol processing of queued skbs."""
        if self.sd.rps_ipi_list:
            yield from self.send_ipis()
        stack = self.stack
        extra = cpu.costs.process_backlog_packet
        work = 0
        pq = self.process_queue
        while True:
            while pq:
                skb = pq.popleft()
                stack.held += skb.nsegs
                self.input_queue_head += 1
                self.in_hand = skb                 # until its head report is made
                yield stack.receive_skb(skb, cpu.now) + extra
                if stack.fwd_pending:
                    yield from stack.transmit_forwarded()
                if skb.rps_src >= 0:
                    self.heads.processed(skb)      # input_queue_head_incr
                self.in_hand = None
                work += 1
                if work >= quota:
                    return work
            if self.complete_early:
                qlen = len(self.input_pkt_queue)
                if qlen:
                    pq.extend(self.input_pkt_queue)
                    self.input_pkt_queue.clear()
                    yield cpu.costs.process_backlog_splice
                if qlen < quota - work:     # list_del, napi->state = 0
                    napi.sched = False
                    quota = work + qlen
                    if not qlen:
                        return work
                continue
            if not self.input_pkt_queue:
                napi.sched = False          # napi->state = 0: no MISSED logic
                return work
            pq.extend(self.input_pkt_queue)  # splice to the tail of process_queue
            self.input_pkt_queue.clear()
            yield cpu.costs.process_backlog_splice

    def queued(self) -> int:
        """Wire packets waiting here (a GRO super-packet counts all of its own)."""
        return (sum(s.nsegs for s in self.input_pkt_queue)
                + sum(s.nsegs for s in self.process_queue))
