"""The part of a UDP socket every CPU that touches it shares: its receive queue's spinlock,
the 6.6 busylock, and the cache line of `sk_rmem_alloc`, the queue head and
`sk_forward_alloc` (shared-state-dim-rr.md §1.1, §1.2, §1.4).

Every acquisition, by a producer (`__udp_enqueue_schedule_skb` in softirq on whichever
CPU ran the packet) or by the reader (`__skb_recv_udp`'s splice, `udp_rmem_release`), is
placed here in the owner's time (`cpus.spinlock`), so who waits for whom emerges from who
holds what, when: a CPU spins while another holds a lock, and pays one line transfer when
the line (lock word included) was last written by another CPU. `sk_receive_queue`, `sk_backlog.rmem_alloc`,
`sk_forward_alloc` and `sk_drops` are contiguous in `struct sock` (§1.4), modelled as one
line. The busylock is hashed from a global array (16 per CPU, so sockets rarely collide);
it is modelled per socket. The skb's own lines, written by the producer and read by the
reader, cost the same whatever the number of producers and stay inside the profile's
per-packet figures.

What the uncontended path costs (one lock and unlock, the queue operation) is in the
profile's `udp_queue_rcv_skb` and `udp_recvmsg`; these methods return only the stall on
top: spinning and line transfers.

May import: the standard library, this package's spinlock.
"""

from __future__ import annotations

from .spinlock import Line, Spinlock, lock_report


class RxLines:
    __slots__ = ("hold", "line", "lock", "busy", "busylock")

    def __init__(self, xfer: int, hold: int, owner: int) -> None:
        self.hold = hold              # the receive-queue lock held, uncontended (ns)
        # sk_rmem_alloc, the queue head and its lock word, sk_forward_alloc, sk_drops
        self.line = Line(xfer, owner)
        self.lock = Spinlock(self.line)                   # sk_receive_queue.lock
        self.busy = Spinlock(Line(xfer, owner))           # udp_busylocks[hash(sk)]
        self.busylock = 0             # busylock acquisitions (queue more than half full)

    def produce(self, cpu: int, t: int, half_full: bool) -> int:
        """__udp_enqueue_schedule_skb by CPU `cpu`, whose uncontended path lets go of the
        queue lock at `t`: [busylock,] atomic_add_return on sk_rmem_alloc, the queue lock,
        the tail insert. Returns the stall on top of the uncontended path."""
        h = self.hold
        s = t - h                         # when the uncontended path takes the lock
        b = None
        if half_full:                     # only one producer in line for the queue lock
            self.busylock += 1
            s = b = self.busy.acquire(cpu, s, h, record=False)
        # atomic_add_return fetches the line, the lock word in it (so the lock's own
        # fetch is this one)
        s = self.lock.acquire(cpu, s, h)
        end = s + h
        if b is not None:                 # released after sk_data_ready
            self.busy.hold(cpu, b, end)
        return end - t

    def drop(self, cpu: int, t: int) -> int:
        """The full-queue path at `t`: atomic_read of sk_rmem_alloc, atomic_inc of
        sk_drops; no lock. Returns the stall (a line transfer, or none)."""
        return self.line.fetch(cpu, t)

    def consume(self, cpu: int, now: int) -> int:
        """One acquisition of the queue lock by the reader at `now` (the splice into
        reader_queue with udp_skb_dtor_locked, or udp_rmem_release's). Returns the
        stall."""
        return self.lock.acquire(cpu, now, self.hold) - now

    def peek(self, cpu: int, now: int) -> int:
        """skb_queue_empty_lockless: a read of the queue head; the next writer elsewhere
        must take the line back. Returns the stall."""
        return self.line.fetch(cpu, now)

    def export_state(self) -> list:
        return [self.busylock, self.lock.export_state(), self.busy.export_state()]

    def import_state(self, v: list) -> None:
        self.busylock, lock, busy = v
        self.lock.import_state(lock)
        self.busy.import_state(busy)

    def report(self) -> dict:
        return lock_report(self.lock, self.busy, self.busylock)
