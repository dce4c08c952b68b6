"""One MSI-X vector's hardware state: auto-masking and interrupt throttling (EITR; on the
E810 with adaptive-tx, a TX cause throttled by an interval of its own).

The I350 sets GPIE.EIAME with EIAM/EIAC (kernel-spec §3.1): a vector that fires is masked
by hardware and its cause cleared; it stays silent until the driver writes EIMS again
(`igb_ring_irq_enable`, after NAPI completes). EITR is a minimum interval between two
interrupts of the vector, in units of 0.25 us (§3.6). So a vector fires at
    max(first write-back after it was armed, previous interrupt + interval),
or right away on re-arm (still respecting the interval) if a write-back arrived while it
was masked.
"""

from __future__ import annotations

EITR_UNIT_PS = 250_000     # 0.25 us in picoseconds
EITR_MIN = 0x4             # what igb writes when moderation is off (igb_write_itr)


def eitr_ns(itr_val: int) -> int:
    """Interval in ns for an EITR value as the driver writes it (`itr_val & 0x7FFC`)."""
    v = itr_val & 0x7FFC
    if v == 0:
        v = EITR_MIN
    return v * EITR_UNIT_PS // 1000


class MsixVector:
    __slots__ = ("entry", "name", "irq", "masked", "last_fire", "interval",
                 "cause_pending", "irq_at", "rings", "floor", "tx_interval", "tx_cause")

    def __init__(self, entry: int, name: str, irq: int, interval: int) -> None:
        self.entry = entry
        self.name = name
        self.irq = irq
        self.masked = False        # igb_irq_enable at igb_up arms every vector
        self.last_fire = None
        self.interval = interval
        # the least interval a driver that rewrites it between two interrupts (ice's
        # net_dim, from the CPU's kworker) may write: what a bound on interrupts not yet
        # scheduled may count on. None: the interval changes only as the vector fires
        # (igb writes EITR in its handler), so no later interrupt comes sooner than the
        # next one, which the interval now in force governs
        self.floor: int | None = None
        self.cause_pending = False
        # a TX cause throttled by an ITR of its own (ice's ITR1, with adaptive-tx): its
        # interval, and whether one is latched; None: TX causes are like any other
        self.tx_interval: int | None = None
        self.tx_cause = False
        self.irq_at = None         # time of the scheduled assertion, if any
        self.rings = []            # RxRing objects whose write-backs raise this vector

    def earliest(self, t: int) -> int:
        """Earliest assertion time not before t, given the throttling interval."""
        if self.last_fire is None:
            return t
        return max(t, self.last_fire + self.interval)

    def earliest_bound(self, t: int) -> int:
        """No interrupt of this vector comes before this, whatever the driver writes to
        its interval before then (for bounds computed ahead of time)."""
        if self.last_fire is None:
            return t
        return max(t, self.last_fire + (self.interval if self.floor is None else self.floor))

    def next_fire(self, now: int) -> int | None:
        """When an armed vector will fire, judged at `now`: at once if a cause is pending,
        else at the first frame still to be written back to one of its rings."""
        if self.masked:
            return None
        tx = None
        if self.tx_cause:           # the TX cause's own throttle
            tx = now if self.last_fire is None else max(now, self.last_fire +
                                                        self.tx_interval)
        if self.cause_pending:
            e = self.earliest(now)
            return e if tx is None else min(e, tx)
        first = None
        for r in self.rings:
            if r.hw_avail <= 0 or r.pbuf:
                continue       # no descriptor until the driver polls: no write-back
            s = r.first_pending_stamp()
            if s is not None and (first is None or s < first):
                first = s
        rx = None if first is None else self.earliest(first)
        return tx if rx is None else rx if tx is None else min(rx, tx)

    def fire(self, t: int) -> None:
        self.masked = True          # EIAM auto-mask
        self.cause_pending = False  # EIAC auto-clear
        self.tx_cause = False
        self.last_fire = t
        self.irq_at = None
