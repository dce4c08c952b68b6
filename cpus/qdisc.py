"""Queueing disciplines of a TX queue (kernel-spec §10.4–§10.6; L6.6 net/sched/sch_generic.c).

The root of a multi-queue device is `mq`, a pure container: one child per TX queue, built
with `net.core.default_qdisc`. `pfifo_fast` (the default) is lockless (TCQ_F_NOLOCK), may
be bypassed when empty, and keeps three bands, each a ring of `txqueuelen` packets; a band
whose ring is full drops (NET_XMIT_DROP). The qdisc's own counters are what
`tc -s qdisc show` prints.
"""

from __future__ import annotations

from collections import deque

# pfifo_fast: skb->priority & TC_PRIO_MAX -> band (sch_generic.c prio2band)
PRIO2BAND = (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
PFIFO_FAST_BANDS = 3


class PfifoFast:
    kind = "pfifo_fast"
    can_bypass = True                 # TCQ_F_CAN_BYPASS
    __slots__ = ("bands", "limit", "bytes", "packets", "drops", "requeues", "overlimits",
                 "backlog", "gso_skb")

    def __init__(self, txqueuelen: int) -> None:
        self.bands = [deque() for _ in range(PFIFO_FAST_BANDS)]
        self.limit = txqueuelen       # each band's skb_array is tx_queue_len long
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

    def enqueue(self, skb, priority: int = 0) -> bool:
        """pfifo_fast_enqueue: False is NET_XMIT_DROP (that band's ring is full)."""
        band = self.bands[PRIO2BAND[priority & 15]]
        if len(band) >= self.limit:
            self.drops += 1
            return False
        band.append(skb)
        self.backlog += skb.len
        return True

    def dequeue(self):
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
        self.bytes += skb.len       # pfifo_fast_dequeue: qdisc_bstats_cpu_update
        self.packets += 1
        return skb

    def bypassed(self, skb) -> None:
        """qdisc_bstats_cpu_update on the bypass path."""
        self.bytes += skb.len
        self.packets += 1

    def requeue(self, skb) -> None:
        """dev_requeue_skb: the driver was busy; the skb goes back to the head."""
        self.gso_skb.appendleft(skb)
        self.backlog += skb.len
        self.requeues += 1

    def stats(self) -> dict:
        return {"bytes": self.bytes, "packets": self.packets, "drops": self.drops,
                "overlimits": self.overlimits, "requeues": self.requeues,
                "backlog": self.backlog, "qlen": self.qlen()}
