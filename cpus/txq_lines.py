"""What the CPUs transmitting on one TX queue share (shared-state-dim-rr.md §2): the
queue's write-mostly line — the qdisc's state and seqlock, the band's producer index, the
netdev_queue's state bits and BQL's enqueue side (`dql_completed` writes `adj_limit` there,
§2.4), `next_to_use` — and the lock each enqueue takes: pfifo_fast's band `producer_lock`,
a locked qdisc's root lock, with the qdisc's busylock first while another CPU runs it.

Every acquisition is ordered in the time of the queue's producer half (the CPU that holds
it); the methods return the stall on top of the uncontended path (whose lock and unlock are
inside `dev_queue_xmit`): spinning while another CPU holds a lock, and a line transfer when
another CPU wrote the line last. Who runs the qdisc (`qdisc_run_begin`'s seqlock or RUNNING
bit) lives on the queue itself (`cpus.tx.TxQueue`). Not modelled: the root lock the running
CPU takes for each dequeue, and HARD_TX_LOCK (only the qdisc's runner takes it here).

May import: the standard library.
"""

from __future__ import annotations


class TxqLines:
    __slots__ = ("xfer", "hold", "owner", "enq_free", "busy_free", "busy_owner",
                 "acquired", "contended", "spin_ns", "transfers", "busylock")

    def __init__(self, xfer: int, hold: int, owner: int) -> None:
        self.xfer = xfer              # a modified line's cache-to-cache transfer (ns)
        self.hold = hold              # the enqueue lock held, uncontended (ns)
        self.owner = owner            # the CPU that last wrote the queue's line
        self.enq_free = 0             # when the enqueue lock is next free
        self.busy_free = 0            # when the qdisc's busylock is next free
        self.busy_owner = owner
        self.acquired = 0             # enqueue lock acquisitions
        self.contended = 0            # … that found it held by another CPU
        self.spin_ns = 0              # time spent spinning on either lock
        self.transfers = 0            # line transfers paid
        self.busylock = 0             # busylock acquisitions (a locked qdisc, running)

    def touch(self, cpu: int) -> int:
        """A CPU reads and writes the queue's line (dev_queue_xmit's qdisc state and
        emptiness checks, qdisc_run_begin): a transfer if another CPU wrote it last."""
        if self.owner == cpu:
            return 0
        self.owner = cpu
        self.transfers += 1
        return self.xfer

    def written(self, cpu: int) -> None:
        """Another CPU wrote the line (the completion's dql_completed, next_to_clean)."""
        self.owner = cpu

    def enqueue(self, cpu: int, t: int, busy: bool) -> int:
        """The enqueue lock taken at `t` (with the busylock first when `busy`): returns
        the stall."""
        s = t
        spin = 0
        if busy:                          # __dev_xmit_skb: contended → busylock first
            self.busylock += 1
            if self.busy_free > s:
                spin += self.busy_free - s
                s = self.busy_free
            if self.busy_owner != cpu:
                s += self.xfer
                self.transfers += 1
                self.busy_owner = cpu
        self.acquired += 1
        if self.enq_free > s:             # another CPU holds it: spin, fetch the line
            self.contended += 1
            spin += self.enq_free - s
            s = self.enq_free + self.xfer
            self.transfers += 1
            self.owner = cpu
        end = s + self.hold
        self.enq_free = end
        if busy:
            self.busy_free = end
        self.spin_ns += spin
        return s - t

    def report(self) -> dict:
        return {"acquired": self.acquired, "contended": self.contended,
                "spin_ns": self.spin_ns, "line_transfers": self.transfers,
                "busylock": self.busylock}
