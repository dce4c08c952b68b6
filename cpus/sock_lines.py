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

from .spinlock import BusylockedLine


class RxLines(BusylockedLine):
    """The line of sk_rmem_alloc, the queue head and its lock word, sk_forward_alloc and
    sk_drops; its lock sk_receive_queue.lock; the busylock udp_busylocks[hash(sk)]."""

    __slots__ = ()

    def produce(self, cpu: int, t: int, half_full: bool) -> int:
        """__udp_enqueue_schedule_skb by CPU `cpu`, whose uncontended path lets go of the
        queue lock at `t`: [busylock,] atomic_add_return on sk_rmem_alloc (its fetch of
        the line is the lock word's too), the queue lock, the tail insert; above half
        full only one producer waits for the queue lock. Returns the stall on top of the
        uncontended path."""
        h = self.hold
        return self.take(cpu, t - h, half_full) + h - t

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
