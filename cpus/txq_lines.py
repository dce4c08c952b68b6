"""What the CPUs transmitting on one TX queue share (shared-state-dim-rr.md §2): the
queue's write-mostly line — the qdisc's state and seqlock, the band's producer index, the
netdev_queue's state bits and BQL's enqueue side (`dql_completed` writes `adj_limit` there,
§2.4), `next_to_use` — and the lock each enqueue takes: pfifo_fast's band `producer_lock`,
a locked qdisc's root lock, with the qdisc's busylock first while another CPU runs it.

Every acquisition is placed in the time of the queue's producer half (the CPU that holds
it; `cpus.spinlock`); the methods return the stall on top of the uncontended path (whose lock and unlock are
inside `dev_queue_xmit`): spinning while another CPU holds a lock, and a line transfer when
another CPU wrote the line last. Who runs the qdisc (`qdisc_run_begin`'s seqlock or RUNNING
bit) lives on the queue itself (`cpus.tx.TxQueue`); a locked qdisc's runner takes the root
lock for each dequeue (`Tx._qdisc_run`). HARD_TX_LOCK, which with mq only the qdisc's
runner takes (qdisc_run_begin serialises them), is never contended; its line
(netdev_queue's `_xmit_lock` and `xmit_lock_owner`) is fetched when the runner changes.

May import: the standard library, this package's spinlock.
"""

from __future__ import annotations

from .spinlock import BusylockedLine, Line


class TxqLines(BusylockedLine):
    """The queue's write-mostly line; its lock the enqueue lock (producer_lock or root
    lock); the qdisc's busylock; HARD_TX_LOCK's line."""

    __slots__ = ("xmit",)

    def __init__(self, xfer: int, hold: int, owner: int) -> None:
        super().__init__(xfer, hold, owner)
        self.xmit = Line(xfer, owner)

    def hard_tx_lock(self, cpu: int, t: int) -> int:
        """HARD_TX_LOCK taken at `t` by the qdisc's runner (sch_direct_xmit): the line's
        transfer if another CPU took it last. Its uncontended lock is inside the profile's
        qdisc_dequeue."""
        return self.xmit.fetch(cpu, t)

    def report(self) -> dict:
        return dict(super().report(), xmit_lock_transfers=self.xmit.transfers)

    def touch(self, cpu: int, t: int) -> int:
        """A CPU reads and writes the queue's line at `t` (dev_queue_xmit's qdisc state
        and emptiness checks, qdisc_run_begin): a transfer if another CPU wrote it last."""
        return self.line.fetch(cpu, t)

    def written(self, cpu: int, t: int) -> None:
        """Another CPU wrote the line at `t` (the completion's dql_completed,
        next_to_clean)."""
        self.line.write(t, cpu)

    def enqueue(self, cpu: int, t: int, busy: bool) -> int:
        """The enqueue lock taken at `t` (with the busylock first when `busy`:
        __dev_xmit_skb's contended path): returns the stall."""
        return self.take(cpu, t, busy) - t
