"""Queueing disciplines of a TX queue (kernel-spec §10.4–§10.6; L6.6 net/sched/sch_generic.c).

The root of a multi-queue device is `mq`, a pure container: one child per TX queue, built
with `net.core.default_qdisc`. `pfifo_fast` (the default) is lockless (TCQ_F_NOLOCK), may
be bypassed when empty, and keeps three bands, each a ring of `txqueuelen` packets; a band
whose ring is full drops (NET_XMIT_DROP). 3.10/3.13's `pfifo_fast` (`nolock` off) is
locked by the root lock (kernel-spec §10.7) and its three bands share one limit of
`txqueuelen` packets. `fq_codel` (the alternative) is locked and never
bypassed: flows by skb hash, DRR over new and old flows, CoDel per flow, and a drop from
the fattest flow over its limit. The qdisc's own counters are what `tc -s qdisc show`
prints.

Interface the TX path drives: `qdisc_enqueue(skb, priority, hash, now)` → NET_XMIT_*,
`dequeue(now)`, `requeue`, `bypassed`, `empty`, `qlen`, `skbs`, `stats`, `can_bypass`, and
`to_free`: the skbs a qdisc dropped besides a refused one, with their drop stage, for the
caller to book and free.
"""

from __future__ import annotations

from collections import deque

# include/linux/netdevice.h: what a qdisc's enqueue answers
NET_XMIT_SUCCESS, NET_XMIT_DROP, NET_XMIT_CN = 0x00, 0x01, 0x02
# pfifo_fast: skb->priority & TC_PRIO_MAX -> band (sch_generic.c prio2band)
PRIO2BAND = (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
PFIFO_FAST_BANDS = 3


class PfifoFast:
    kind = "pfifo_fast"
    can_bypass = True                 # TCQ_F_CAN_BYPASS
    __slots__ = ("bands", "limit", "bytes", "packets", "drops", "requeues", "overlimits",
                 "backlog", "gso_skb", "nolock")

    def __init__(self, txqueuelen: int, nolock: bool = True) -> None:
        self.bands = [deque() for _ in range(PFIFO_FAST_BANDS)]
        self.limit = txqueuelen       # each band's skb_array is tx_queue_len long
        self.nolock = nolock          # TCQ_F_NOLOCK (4.16+); else the root lock
        self.bytes = 0                # bstats: what left the qdisc (dequeued or bypassed)
        self.packets = 0
        self.drops = 0
        self.requeues = 0
        self.overlimits = 0
        self.backlog = 0              # bytes queued
        self.gso_skb: deque = deque()  # requeued skbs, sent first (dev_requeue_skb)

    def qlen(self) -> int:
        return sum(len(b) for b in self.bands) + len(self.gso_skb)

    def empty(self) -> bool:
        return not self.gso_skb and not any(self.bands)

    to_free = ()                      # it frees only the packet it refuses

    def qdisc_enqueue(self, skb, priority: int, hash_: int, now: int) -> int:
        return NET_XMIT_SUCCESS if self.enqueue(skb, priority) else NET_XMIT_DROP

    def enqueue(self, skb, priority: int = 0) -> bool:
        """pfifo_fast_enqueue: False is NET_XMIT_DROP (that band's ring is full)."""
        band = self.bands[PRIO2BAND[priority & 15]]
        # 3.x: skb_queue_len(&qdisc->q), every band's and a requeued skb, against the limit
        if (len(band) if self.nolock else self.qlen()) >= self.limit:
            self.drops += 1
            return False
        band.append(skb)
        self.backlog += skb.len
        return True

    def dequeue(self, now: int = 0):
        """dequeue_skb: requeued skbs first, then bands 0, 1, 2."""
        if self.gso_skb:               # counted in bstats when first dequeued
            skb = self.gso_skb.popleft()
            self.backlog -= skb.len
            return skb
        for band in self.bands:
            if band:
                skb = band.popleft()
                break
        else:
            return None
        self.backlog -= skb.len
        self.bytes += qdisc_pkt_len(skb)   # pfifo_fast_dequeue: qdisc_bstats_cpu_update
        self.packets += pkt_segs(skb)
        return skb

    def bypassed(self, skb) -> None:
        """qdisc_bstats_cpu_update on the bypass path."""
        self.bytes += qdisc_pkt_len(skb)
        self.packets += pkt_segs(skb)

    def requeue(self, skb) -> None:
        """dev_requeue_skb: the driver was busy; the skb goes back to the head."""
        self.gso_skb.appendleft(skb)
        self.backlog += skb.len
        self.requeues += 1

    def stats(self) -> dict:
        return {"bytes": self.bytes, "packets": self.packets, "drops": self.drops,
                "overlimits": self.overlimits, "requeues": self.requeues,
                "backlog": self.backlog, "qlen": self.qlen()}

    def skbs(self):
        """Every skb the qdisc holds (requeued first), for the books at the end of a run."""
        yield from self.gso_skb
        for band in self.bands:
            yield from band


# -- fq_codel (L6.6 net/sched/sch_fq_codel.c, include/net/codel.h, codel_impl.h) ----------
# codel.h: codel_time_t is u32 in units of 2^CODEL_SHIFT ns (~1.024 us)
CODEL_SHIFT = 10
REC_INV_SQRT_SHIFT = 32 - 16          # rec_inv_sqrt is a u16 (REC_INV_SQRT_BITS = 16)
U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1
# psched_mtu(dev) = mtu + hard_header_len: Ethernet, MTU 1500 (the default quantum and
# codel's params->mtu)
PSCHED_MTU = 1514
# fq_codel_init defaults
FQ_CODEL_DEFAULTS = {"limit": 10240, "flows": 1024, "quantum": PSCHED_MTU,
                     "target_us": 5000, "interval_us": 100000, "memory_limit": 32 << 20,
                     "ecn": True, "drop_batch": 64}


def codel_time(ns: int) -> int:
    """codel_get_time(): ktime_get_ns() >> CODEL_SHIFT, as a u32."""
    return (ns >> CODEL_SHIFT) & U32


def us_to_codel(us: int) -> int:
    """fq_codel_change: (val * NSEC_PER_USEC) >> CODEL_SHIFT. MS2TIME(5) is the same."""
    return (us * 1000) >> CODEL_SHIFT


def codel_time_to_us(t: int) -> int:
    """codel.h codel_time_to_us: what `tc` is told (5 ms comes back as 4999 us)."""
    return ((t & U32) << CODEL_SHIFT) // 1000


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


def codel_time_after(a: int, b: int) -> bool:
    return _s32(a - b) > 0


def codel_time_after_eq(a: int, b: int) -> bool:
    return _s32(a - b) >= 0


def codel_time_before(a: int, b: int) -> bool:
    return _s32(a - b) < 0


def codel_newton_step(count: int, rec_inv_sqrt: int) -> int:
    """codel_Newton_step: one Newton iteration of 1/sqrt(count) in Q0.32, kept as u16
    (the kernel avoids sqrt and divide; this is its exact integer arithmetic)."""
    invsqrt = (rec_inv_sqrt << REC_INV_SQRT_SHIFT) & U32
    invsqrt2 = (invsqrt * invsqrt) >> 32
    val = ((3 << 32) - (count & U32) * invsqrt2) & U64
    val >>= 2                         # avoid overflow in the following multiply
    val = ((val * invsqrt) & U64) >> (32 - 2 + 1)
    return (val >> REC_INV_SQRT_SHIFT) & 0xFFFF


def codel_control_law(t: int, interval: int, rec_inv_sqrt: int) -> int:
    """t + interval / sqrt(count): reciprocal_scale(interval, rec_inv_sqrt << 16)."""
    return (t + ((interval * ((rec_inv_sqrt << REC_INV_SQRT_SHIFT) & U32)) >> 32)) & U32


class CodelVars:
    """struct codel_vars, zeroed by codel_vars_init."""
    __slots__ = ("count", "lastcount", "dropping", "rec_inv_sqrt", "first_above_time",
                 "drop_next", "ldelay")

    def __init__(self) -> None:
        self.count = 0
        self.lastcount = 0
        self.dropping = False
        self.rec_inv_sqrt = 0
        self.first_above_time = 0
        self.drop_next = 0
        self.ldelay = 0


class FqCodelFlow:
    """struct fq_codel_flow: a FIFO of (skb, enqueue time, mem_usage), its DRR deficit and
    CoDel state; `chain` is which list its flowchain is on (None: list_empty)."""
    __slots__ = ("idx", "q", "deficit", "dropped", "cvars", "chain")

    def __init__(self, idx: int) -> None:
        self.idx = idx                    # flow - q->flows
        self.q: deque = deque()
        self.deficit = 0
        self.dropped = 0
        self.cvars = CodelVars()
        self.chain = None


class FqCodel:
    """fq_codel as an mq child: flows by skb hash, new/old flow lists served by DRR, a
    CoDel head-drop per flow, and the fat-flow drop when the qdisc is over its limit.
    Not lockless (no TCQ_F_NOLOCK) and not bypassable (no TCQ_F_CAN_BYPASS): every packet
    is enqueued and dequeued. `enqueue` answers NET_XMIT_*; the skbs it or `dequeue` freed
    wait in `to_free` for the caller to book (kfree_skb_list after the root lock)."""
    kind = "fq_codel"
    nolock = False                    # the root lock, busylock when contended
    can_bypass = False
    __slots__ = ("limit", "flows_cnt", "quantum", "target", "interval", "mtu",
                 "memory_limit", "ecn", "drop_batch_size", "flows", "backlogs", "new_flows",
                 "old_flows", "qlen_", "backlog", "memory_usage", "drop_overlimit",
                 "drop_overmemory", "new_flow_count", "maxpacket", "ecn_mark", "ce_mark",
                 "drop_count", "drop_len", "bytes", "packets", "drops", "requeues",
                 "overlimits", "gso_skb", "to_free", "codel_drops")

    def __init__(self, limit: int = 10240, flows: int = 1024, quantum: int = PSCHED_MTU,
                 target_us: int = 5000, interval_us: int = 100000,
                 memory_limit: int = 32 << 20, ecn: bool = True, drop_batch: int = 64,
                 mtu: int = PSCHED_MTU) -> None:
        self.limit = limit                    # sch->limit, packets
        self.flows_cnt = flows
        self.quantum = quantum
        self.target = us_to_codel(target_us)  # codel time units
        self.interval = us_to_codel(interval_us)
        self.mtu = mtu                        # cparams.mtu = psched_mtu(dev)
        self.memory_limit = memory_limit
        self.ecn = ecn                        # no ECT traffic here: CoDel always drops
        self.drop_batch_size = drop_batch
        self.flows: dict[int, FqCodelFlow] = {}   # allocated when first used
        self.backlogs: dict[int, int] = {}        # q->backlogs[idx], bytes
        self.new_flows: deque = deque()
        self.old_flows: deque = deque()
        self.qlen_ = 0                        # sch->q.qlen (requeued skbs included)
        self.backlog = 0                      # sch->qstats.backlog, bytes
        self.memory_usage = 0                 # truesize of what the flows hold
        self.drop_overlimit = 0
        self.drop_overmemory = 0
        self.new_flow_count = 0
        self.maxpacket = 0                    # cstats
        self.ecn_mark = 0
        self.ce_mark = 0
        self.drop_count = 0                   # cstats.drop_count/len: codel drops not yet
        self.drop_len = 0                     # reported to the parents
        self.bytes = 0                        # bstats (at dequeue)
        self.packets = 0
        self.drops = 0                        # qstats.drops: overlimit and CoDel drops
        self.requeues = 0
        self.overlimits = 0                   # fq_codel never counts overlimits
        self.gso_skb: deque = deque()         # requeued skbs (dev_requeue_skb)
        self.to_free: list = []               # (skb, stage) freed, for the caller to book
        self.codel_drops = 0

    def qlen(self) -> int:
        return self.qlen_

    def qdisc_enqueue(self, skb, priority: int, hash_: int, now: int) -> int:
        return self.enqueue(skb, priority, hash_, now)

    def empty(self) -> bool:
        return self.qlen_ == 0

    def skbs(self):
        yield from self.gso_skb
        for idx in sorted(self.flows):
            for skb, _, _ in self.flows[idx].q:
                yield skb

    # -- enqueue ---------------------------------------------------------------------
    def fq_codel_classify(self, hash_: int) -> int:
        """No filter and skb->priority 0 (not this qdisc's handle): 1 + the hash bucket."""
        return ((hash_ & U32) * self.flows_cnt >> 32) + 1     # reciprocal_scale

    def enqueue(self, skb, priority: int = 0, hash_: int = 0, now: int = 0) -> int:
        """fq_codel_enqueue: NET_XMIT_SUCCESS, or NET_XMIT_CN when the overflow drop hit
        this packet's own flow (the sender then counts it sent: spec §10.1)."""
        idx = self.fq_codel_classify(hash_) - 1
        flow = self.flows.get(idx)
        if flow is None:
            flow = self.flows[idx] = FqCodelFlow(idx)
            self.backlogs[idx] = 0
        mem = skb.truesize                    # get_codel_cb(skb)->mem_usage
        flow.q.append((skb, codel_time(now), mem))   # codel_set_enqueue_time
        self.backlogs[idx] += skb.len
        self.backlog += skb.len
        if flow.chain is None:
            self.new_flows.append(flow)
            flow.chain = self.new_flows
            self.new_flow_count += 1
            flow.deficit = self.quantum
        self.memory_usage += mem
        memory_limited = self.memory_usage > self.memory_limit
        self.qlen_ += 1
        if self.qlen_ <= self.limit and not memory_limited:
            return NET_XMIT_SUCCESS
        prev_qlen = self.qlen_
        ret = self.fq_codel_drop(self.drop_batch_size)
        dropped = prev_qlen - self.qlen_
        self.drop_overlimit += dropped
        if memory_limited:
            self.drop_overmemory += dropped
        return NET_XMIT_CN if ret == idx else NET_XMIT_SUCCESS

    def fq_codel_drop(self, max_packets: int) -> int:
        """Drop from the head of the fattest flow (lowest index on ties) until half its
        backlog is gone or `max_packets` were dropped; CoDel counts them as signal."""
        maxbacklog = idx = 0
        for i in sorted(self.backlogs):
            if self.backlogs[i] > maxbacklog:
                maxbacklog, idx = self.backlogs[i], i
        threshold = maxbacklog >> 1
        flow = self.flows[idx]
        length = mem = i = 0
        while True:
            skb, _, m = flow.q.popleft()
            length += skb.len
            mem += m
            self.to_free.append((skb, "fq_codel_drop"))
            i += 1
            if not (i < max_packets and length < threshold):
                break
        flow.cvars.count = (flow.cvars.count + i) & U32
        flow.dropped += i
        self.backlogs[idx] -= length
        self.memory_usage -= mem
        self.drops += i
        self.backlog -= length
        self.qlen_ -= i
        return idx

    # -- dequeue ---------------------------------------------------------------------
    def dequeue(self, now: int = 0):
        """dequeue_skb's requeued skb first, else fq_codel_dequeue."""
        if self.gso_skb:
            skb = self.gso_skb.popleft()
            self.qlen_ -= 1
            self.backlog -= skb.len
            return skb
        return self.fq_codel_dequeue(codel_time(now))

    def fq_codel_dequeue(self, now: int):
        while True:
            head = self.new_flows
            if not head:
                head = self.old_flows
                if not head:
                    return None
            flow = head[0]
            if flow.deficit <= 0:
                flow.deficit += self.quantum
                head.popleft()                # list_move_tail to old_flows
                self.old_flows.append(flow)
                flow.chain = self.old_flows
                continue
            skb = self.codel_dequeue(flow, now)
            if skb is None:
                head.popleft()
                # force a pass through old_flows to prevent starvation
                if head is self.new_flows and self.old_flows:
                    self.old_flows.append(flow)
                    flow.chain = self.old_flows
                else:
                    flow.chain = None         # list_del_init
                continue
            self.bytes += qdisc_pkt_len(skb)  # qdisc_bstats_update
            self.packets += pkt_segs(skb)
            flow.deficit -= skb.len
            if self.drop_count and self.qlen_:
                # qdisc_tree_reduce_backlog: nothing to tell, mq sums its children
                self.drop_count = self.drop_len = 0
            return skb

    def dequeue_func(self, flow: FqCodelFlow):
        if not flow.q:
            return None, 0
        skb, t, mem = flow.q.popleft()
        self.backlogs[flow.idx] -= skb.len
        self.memory_usage -= mem
        self.qlen_ -= 1
        self.backlog -= skb.len
        return skb, t

    def drop_func(self, flow: FqCodelFlow, skb) -> None:
        """kfree_skb + qdisc_qstats_drop (the sender never hears of it)."""
        self.to_free.append((skb, "codel_drop"))
        self.drops += 1
        self.codel_drops += 1
        flow.dropped += 1

    def codel_should_drop(self, skb, t_enq: int, v: CodelVars, now: int) -> bool:
        if skb is None:
            v.first_above_time = 0
            return False
        v.ldelay = (now - t_enq) & U32
        if skb.len > self.maxpacket:
            self.maxpacket = skb.len
        if codel_time_before(v.ldelay, self.target) or self.backlog <= self.mtu:
            # went below: stay below for at least an interval
            v.first_above_time = 0
            return False
        if v.first_above_time == 0:
            # just went above: if it stays above for an interval, it is ok to drop
            v.first_above_time = (now + self.interval) & U32
            return False
        return codel_time_after(now, v.first_above_time)

    def codel_dequeue(self, flow: FqCodelFlow, now: int):
        """codel_impl.h codel_dequeue (ECN marking never applies: no ECT packets)."""
        v = flow.cvars
        skb, t = self.dequeue_func(flow)
        if skb is None:
            v.dropping = False
            return None
        drop = self.codel_should_drop(skb, t, v, now)
        if v.dropping:
            if not drop:
                v.dropping = False            # sojourn below target: leave dropping state
            elif codel_time_after_eq(now, v.drop_next):
                # time for the next drop(s): a large backlog may make the next one due now
                while v.dropping and codel_time_after_eq(now, v.drop_next):
                    v.count = (v.count + 1) & U32
                    v.rec_inv_sqrt = codel_newton_step(v.count, v.rec_inv_sqrt)
                    self.drop_len += skb.len
                    self.drop_func(flow, skb)
                    self.drop_count += 1
                    skb, t = self.dequeue_func(flow)
                    if not self.codel_should_drop(skb, t, v, now):
                        v.dropping = False
                    else:
                        v.drop_next = codel_control_law(v.drop_next, self.interval,
                                                        v.rec_inv_sqrt)
        elif drop:
            self.drop_len += skb.len
            self.drop_func(flow, skb)
            self.drop_count += 1
            skb, t = self.dequeue_func(flow)
            drop = self.codel_should_drop(skb, t, v, now)
            v.dropping = True
            # went above target soon after the last cycle: resume near its drop rate
            delta = (v.count - v.lastcount) & U32
            if delta > 1 and codel_time_before((now - v.drop_next) & U32,
                                               16 * self.interval):
                v.count = delta
                v.rec_inv_sqrt = codel_newton_step(v.count, v.rec_inv_sqrt)
            else:
                v.count = 1
                v.rec_inv_sqrt = U32 >> REC_INV_SQRT_SHIFT
            v.lastcount = v.count
            v.drop_next = codel_control_law(now, self.interval, v.rec_inv_sqrt)
        return skb

    def requeue(self, skb) -> None:
        """dev_requeue_skb on a locked qdisc: q->gso_skb, q.qlen++, backlog, requeues."""
        self.gso_skb.appendleft(skb)
        self.qlen_ += 1
        self.backlog += skb.len
        self.requeues += 1

    def bypassed(self, skb) -> None:
        raise AssertionError("fq_codel has no TCQ_F_CAN_BYPASS")

    def stats(self) -> dict:
        """qstats/bstats, the options `tc qdisc show` prints, fq_codel_dump_stats'
        xstats, and each used flow's class stats (fq_codel_dump_class_stats)."""
        flows = {}
        for idx in sorted(self.flows):
            f = self.flows[idx]
            v = f.cvars
            flows[str(idx + 1)] = {"qlen": len(f.q), "backlog": self.backlogs[idx],
                                   "drops": f.dropped, "deficit": f.deficit,
                                   "count": v.count, "lastcount": v.lastcount,
                                   "ldelay_us": codel_time_to_us(v.ldelay),
                                   "dropping": v.dropping}
        return {"kind": self.kind, "bytes": self.bytes, "packets": self.packets,
                "drops": self.drops, "overlimits": self.overlimits,
                "requeues": self.requeues, "backlog": self.backlog, "qlen": self.qlen_,
                "limit": self.limit, "flows": self.flows_cnt, "quantum": self.quantum,
                "target_us": codel_time_to_us(self.target),
                "interval_us": codel_time_to_us(self.interval),
                "memory_limit": self.memory_limit, "ecn": self.ecn,
                "drop_batch": self.drop_batch_size,
                "maxpacket": self.maxpacket, "drop_overlimit": self.drop_overlimit,
                "new_flow_count": self.new_flow_count, "ecn_mark": self.ecn_mark,
                "ce_mark": self.ce_mark, "memory_used": self.memory_usage,
                "drop_overmemory": self.drop_overmemory,
                "new_flows_len": len(self.new_flows), "old_flows_len": len(self.old_flows),
                "codel_drops": self.codel_drops, "flow_stats": flows}


def pkt_segs(skb) -> int:
    """bstats packets of an skb: gso_segs for a GSO skb (UDP GSO, or a forwarded GRO
    super-packet), else 1 (_bstats_update counts skb_shinfo(skb)->gso_segs)."""
    return skb.gso_segs or skb.nsegs


def qdisc_pkt_len(skb) -> int:
    """qdisc_pkt_len_init: skb->len plus, for a GSO skb, the headers every segment after
    the first repeats (eth + IP + L4; a forwarded TCP super-packet's L4 header is 32 bytes
    with timestamps, a UDP GSO skb's 8)."""
    n = pkt_segs(skb)
    if n <= 1:
        return skb.len
    l4 = 8 if skb.gso_segs else 32
    return skb.len + (n - 1) * (14 + 20 + l4)
