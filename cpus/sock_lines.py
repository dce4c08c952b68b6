"""The part of a UDP socket every CPU that touches it shares: its receive queue's spinlock,
the 6.6 busylock, and the cache line of `sk_rmem_alloc`, the queue head and
`sk_forward_alloc` (shared-state-dim-rr.md §1.1, §1.2, §1.4).

Every acquisition, by a producer (`__udp_enqueue_schedule_skb` in softirq on whichever
CPU ran the packet) or by the reader (`__skb_recv_udp`'s splice, `udp_rmem_release`), is
ordered here in the owner's time, so who waits for whom emerges from who holds what, when:
a CPU spins while another holds a lock, and pays one line transfer when the line (lock word
included) was last written by another CPU. `sk_receive_queue`, `sk_backlog.rmem_alloc`,
`sk_forward_alloc` and `sk_drops` are contiguous in `struct sock` (§1.4), modelled as one
line. The busylock is hashed from a global array (16 per CPU, so sockets rarely collide);
it is modelled per socket. The skb's own lines, written by the producer and read by the
reader, cost the same whatever the number of producers and stay inside the profile's
per-packet figures.

What the uncontended path costs (one lock and unlock, the queue operation) is in the
profile's `udp_queue_rcv_skb` and `udp_recvmsg`; these methods return only the stall on
top: spinning and line transfers.

May import: the standard library.
"""

from __future__ import annotations


class RxLines:
    __slots__ = ("xfer", "hold", "owner", "lock_free", "busy_free", "busy_owner",
                 "acquired", "contended", "spin_ns", "transfers", "busylock")

    def __init__(self, xfer: int, hold: int, owner: int) -> None:
        self.xfer = xfer              # a modified line's cache-to-cache transfer (ns)
        self.hold = hold              # the receive-queue lock held, uncontended (ns)
        self.owner = owner            # the CPU that last wrote the line
        self.lock_free = 0            # when sk_receive_queue.lock is next free
        self.busy_free = 0            # when the busylock is next free
        self.busy_owner = owner       # the CPU that last took the busylock
        self.acquired = 0             # receive-queue lock acquisitions
        self.contended = 0            # … that found it held by another CPU
        self.spin_ns = 0              # time spent spinning on either lock
        self.transfers = 0            # line transfers paid
        self.busylock = 0             # busylock acquisitions (queue more than half full)

    def produce(self, cpu: int, t: int, half_full: bool) -> int:
        """__udp_enqueue_schedule_skb by CPU `cpu`, whose uncontended path lets go of the
        queue lock at `t`: [busylock,] atomic_add_return on sk_rmem_alloc, the queue lock,
        the tail insert. Returns the stall on top of the uncontended path."""
        x = self.xfer
        s = t - self.hold                 # when the uncontended path takes the lock
        spin = 0
        if half_full:                     # only one producer in line for the queue lock
            self.busylock += 1
            if self.busy_free > s:
                spin += self.busy_free - s
                s = self.busy_free
            if self.busy_owner != cpu:
                s += x
                self.transfers += 1
                self.busy_owner = cpu
        if self.owner != cpu:             # atomic_add_return fetches the line
            s += x
            self.transfers += 1
            self.owner = cpu
        s, spin = self._lock(cpu, s, spin)
        end = s + self.hold
        self.lock_free = end
        if half_full:                     # released after sk_data_ready
            self.busy_free = end
        self.spin_ns += spin
        return end - t

    def drop(self, cpu: int) -> int:
        """The full-queue path: atomic_read of sk_rmem_alloc, atomic_inc of sk_drops; no
        lock. Returns the stall (a line transfer, or none)."""
        if self.owner == cpu:
            return 0
        self.owner = cpu
        self.transfers += 1
        return self.xfer

    def consume(self, cpu: int, now: int) -> int:
        """One acquisition of the queue lock by the reader at `now` (the splice into
        reader_queue with udp_skb_dtor_locked, or udp_rmem_release's). Returns the
        stall."""
        s = now
        if self.owner != cpu:
            s += self.xfer
            self.transfers += 1
            self.owner = cpu
        s, spin = self._lock(cpu, s, 0)
        self.spin_ns += spin
        self.lock_free = s + self.hold
        return s - now

    def peek(self, cpu: int) -> int:
        """skb_queue_empty_lockless: a read of the queue head; the next writer elsewhere
        must take the line back. Returns the stall."""
        return self.drop(cpu)

    def _lock(self, cpu: int, s: int, spin: int) -> tuple[int, int]:
        """spin_lock at `s`: spin while another CPU holds it, then fetch the line it
        wrote."""
        self.acquired += 1
        if self.lock_free > s:
            self.contended += 1
            spin += self.lock_free - s
            s = self.lock_free + self.xfer
            self.transfers += 1
        return s, spin

    STATE = ("owner", "lock_free", "busy_free", "busy_owner", "acquired", "contended",
             "spin_ns", "transfers", "busylock")

    def export_state(self) -> list:
        return [getattr(self, k) for k in self.STATE]

    def import_state(self, v: list) -> None:
        for k, x in zip(self.STATE, v):
            setattr(self, k, x)

    def report(self) -> dict:
        return {"acquired": self.acquired, "contended": self.contended,
                "spin_ns": self.spin_ns, "line_transfers": self.transfers,
                "busylock": self.busylock}
