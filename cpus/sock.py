"""A UDP socket's receive side, owned by the CPU its application runs on
(kernel-spec §9, L6.6).

Admission: a datagram is accepted whenever the current charge `sk_rmem_alloc` is not above
`sk_rcvbuf` (it may overshoot by one truesize). Release is lazy: each read adds the skb's
truesize to `forward_deficit`, returned to `sk_rmem_alloc` only once the deficit reaches
`sk_rcvbuf/4` or the reader queue runs dry. `UdpSock3` is the socket of 3.10/3.13: its
admission and its eager release.
"""

from __future__ import annotations

from collections import deque

from .sock_lines import RxLines

# include/net/sock.h: SOCK_MIN_RCVBUF = TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(sk_buff))
SOCK_MIN_RCVBUF = 2048 + 256


def effective_rcvbuf(so_rcvbuf: int | None, rmem_default: int, rmem_max: int) -> int:
    """sk_rcvbuf: rmem_default for a new socket; SO_RCVBUF v gives
    max(2 * min(v, rmem_max), SOCK_MIN_RCVBUF) (sock_setsockopt doubles for overhead)."""
    if so_rcvbuf is None:
        return rmem_default
    return max(2 * min(so_rcvbuf, rmem_max), SOCK_MIN_RCVBUF)


UDP_RCVBUF_ERRORS = "udp_rcvbuf_errors"      # -ENOMEM: Udp RcvbufErrors and InErrors
UDP_RCVQUEUES_FULL = "udp_rcvqueues_full"    # 3.x sk_rcvqueues_full: Udp InErrors alone
TCP_RCVQ_DROP = "tcp_rcvq_drop"              # TcpExt TCPRcvQDrop


class UdpSock:
    is_tcp = False
    busylock = True           # 6.6: producers take udp_busylocks[] once it is half full
    __slots__ = ("index", "bind_ip", "port", "rem_ip", "rem_port", "owner", "inode",
                 "rcvbuf", "rmem_alloc", "forward_deficit", "forward_threshold",
                 "receive_queue", "reader_queue", "drops", "waiter", "enqueued", "rxhash",
                 "incoming_cpu", "rfs_hash", "by_cpu", "udp_gro", "lines", "read_stall")

    def __init__(self, index: int, bind_ip: str, port: int, rcvbuf: int, owner: int,
                 inode: int, rem_ip: str | None = None, rem_port: int | None = None,
                 lines: RxLines | None = None) -> None:
        self.index = index
        self.bind_ip = bind_ip
        self.port = port
        self.rem_ip = rem_ip
        self.rem_port = rem_port
        self.owner = owner
        self.inode = inode
        self.rcvbuf = rcvbuf
        self.rmem_alloc = 0
        self.forward_deficit = 0
        self.forward_threshold = rcvbuf >> 2
        self.receive_queue: deque = deque()
        self.reader_queue: deque = deque()
        self.drops = 0
        self.waiter = None      # the task sleeping in recvmsg, if any
        self.enqueued = 0
        self.rxhash = 0         # sk_rxhash: saved on enqueue, connected sockets only
        self.incoming_cpu = -1  # sk_incoming_cpu (SO_INCOMING_CPU): likewise
        self.rfs_hash = None    # the hash its peer's flow will have (plan time)
        self.by_cpu: dict[int, int] = {}   # skbs offered to it, by processing CPU
        self.udp_gro = False    # setsockopt(UDP_GRO): GRO super-datagrams are read whole
        # the lock and line the CPUs that touch it share (free of cost unless given)
        self.lines = lines if lines is not None else RxLines(0, 0, -1)
        self.read_stall = 0     # the reader's stall on them, not yet charged

    def enqueue(self, skb, sw_hash: int, cpu: int) -> str | None:
        """__udp_queue_rcv_skb on the CPU `cpu` that processed it, then
        __udp_enqueue_schedule_skb: None when queued, else the drop's stage (-ENOMEM:
        RcvbufErrors). (`_seen` and `_queue` written out: every datagram passes here.)"""
        self.by_cpu[cpu] = self.by_cpu.get(cpu, 0) + 1
        if self.rem_ip is not None:        # connected: sock_rps_save_rxhash, incoming cpu
            self.rxhash = sw_hash
            self.incoming_cpu = cpu
        rmem = self.rmem_alloc
        if rmem > self.rcvbuf:
            self.drops += 1
            return UDP_RCVBUF_ERRORS
        self.rmem_alloc = rmem + skb.truesize
        self.receive_queue.append(skb)
        self.enqueued += 1
        return None

    def _seen(self, sw_hash: int, cpu: int) -> None:
        self.by_cpu[cpu] = self.by_cpu.get(cpu, 0) + 1
        if self.rem_ip is not None:        # connected: sock_rps_save_rxhash, incoming cpu
            self.rxhash = sw_hash
            self.incoming_cpu = cpu

    def _queue(self, skb) -> None:
        self.rmem_alloc += skb.truesize
        self.receive_queue.append(skb)
        self.enqueued += 1

    def recv(self, cpu: int, now: int):
        """__skb_recv_udp + skb_consume_udp by the reader on CPU `cpu` at `now`: the next
        datagram, or None if none queued. What it spent on the shared lock and line is
        added to `read_stall`."""
        rq = self.reader_queue
        lines = self.lines
        locked = False
        if not rq:
            if not self.receive_queue:
                self.read_stall += lines.peek(cpu, now)  # skb_queue_empty_lockless
                return None
            # splice the whole receive queue into the reader queue, under its lock
            self.read_stall += lines.consume(cpu, now)
            locked = True
            self.reader_queue, self.receive_queue = self.receive_queue, rq
            rq = self.reader_queue
        skb = rq.popleft()
        self.forward_deficit += skb.truesize                 # udp_rmem_release(partial=1)
        if self.forward_deficit >= self.forward_threshold or not rq:
            if not locked:                                   # … takes the lock to return it
                self.read_stall += lines.consume(cpu, now)
            self.rmem_alloc -= self.forward_deficit
            self.forward_deficit = 0
        return skb

    STATE = ("rmem_alloc", "forward_deficit", "drops", "enqueued", "rxhash", "incoming_cpu",
             "udp_gro")

    def export_state(self) -> dict:
        """Everything that moves with the socket when its reader migrates to another CPU
        (the kernel moves nothing: the socket is shared memory; here it changes owner)."""
        d = {k: getattr(self, k) for k in self.STATE}
        d["queue"] = [s.to_wire() for s in self.reader_queue] + \
            [s.to_wire() for s in self.receive_queue]
        d["split"] = len(self.reader_queue)
        d["by_cpu"] = [[c, n] for c, n in sorted(self.by_cpu.items())]
        d["lines"] = self.lines.export_state()
        return d

    def import_state(self, d: dict, skb_from_wire) -> None:
        for k in self.STATE:
            setattr(self, k, d[k])
        skbs = [skb_from_wire(w) for w in d["queue"]]
        self.reader_queue = deque(skbs[:d["split"]])
        self.receive_queue = deque(skbs[d["split"]:])
        self.by_cpu = {int(c): n for c, n in d["by_cpu"]}
        self.lines.import_state(d["lines"])

    def queued(self) -> int:
        """Wire packets queued (a UDP_GRO super-datagram counts all of its own)."""
        return (sum(s.nsegs for s in self.receive_queue)
                + sum(s.nsegs for s in self.reader_queue))

    def rx_queue_bytes(self) -> int:
        """What /proc/net/udp shows as rx_queue."""
        return self.rmem_alloc - self.forward_deficit


class UdpSock3(UdpSock):
    """A UDP socket of 3.10/3.13 (devices-probe-kernels.md §4.5). udp_queue_rcv_skb drops
    a datagram when sk_rcvqueues_full (the charge above `sk_rcvbuf`; the socket's backlog
    is empty, as no reader holds the socket lock across a read), counting Udp InErrors
    alone; sock_queue_rcv_skb refuses one at a charge of exactly `sk_rcvbuf` (-ENOMEM:
    RcvbufErrors and InErrors). One receive queue, locked for each datagram taken; a read
    uncharges its skb whole (skb_free_datagram_locked; here as it is dequeued, the copy
    that comes between in the kernel being the reader's next step — as 6.6's release
    here). No busylock."""

    busylock = False
    __slots__ = ()

    def enqueue(self, skb, sw_hash: int, cpu: int) -> str | None:
        self._seen(sw_hash, cpu)
        rmem = self.rmem_alloc
        if rmem > self.rcvbuf:
            self.drops += 1
            return UDP_RCVQUEUES_FULL
        if rmem >= self.rcvbuf:
            self.drops += 1
            return UDP_RCVBUF_ERRORS
        self._queue(skb)
        return None

    def recv(self, cpu: int, now: int):
        """__skb_recv_datagram + skb_free_datagram_locked: the next datagram, or None."""
        q = self.receive_queue
        if not q:
            self.read_stall += self.lines.peek(cpu, now)
            return None
        self.read_stall += self.lines.consume(cpu, now)
        skb = q.popleft()
        self.rmem_alloc -= skb.truesize
        return skb


class TcpSock(UdpSock):
    """The receive side of one established TCP connection (the child socket an accept()
    returned): the bookkeeping fields are a UDP socket's; admission and reading differ.

    Admission (tcp_data_queue → tcp_try_rmem_schedule): a segment is dropped
    (TCPRcvQDrop) when `sk_rmem_alloc` is above `sk_rcvbuf` and the queue is not empty;
    queue collapsing, receive-buffer autotuning and the window that would hold a real
    sender back are not modelled. Reading (tcp_recvmsg) copies up to the caller's buffer
    size across skbs, byte by byte; an skb's memory goes back as soon as it is eaten."""

    is_tcp = True
    __slots__ = ("payload", "head_off")
    STATE = UdpSock.STATE + ("head_off",)

    def __init__(self, *args, payload: int = 1448, **kw) -> None:
        super().__init__(*args, **kw)
        self.payload = payload    # bytes of each segment of the connection's flow
        self.head_off = 0         # bytes of the first queued skb already read

    def enqueue(self, skb, sw_hash: int, cpu: int) -> str | None:
        """None when queued, else the drop's stage (TCPRcvQDrop)."""
        self.by_cpu[cpu] = self.by_cpu.get(cpu, 0) + 1
        self.rxhash = sw_hash              # sock_rps_save_rxhash, sk_incoming_cpu_update
        self.incoming_cpu = cpu
        if self.rmem_alloc > self.rcvbuf and self.receive_queue:
            self.drops += 1
            return TCP_RCVQ_DROP
        self._queue(skb)
        return None

    def read(self, want: int, books, now: int) -> tuple[int, int, int]:
        """tcp_recvmsg with SO_RCVLOWAT 1: copy up to `want` bytes of what is queued;
        every segment whose last byte is copied counts as read. Returns (bytes copied,
        skbs freed, page fragments freed with them)."""
        q = self.receive_queue
        p = self.payload
        copied = freed = frags = 0
        while q and copied < want:
            skb = q[0]
            total = skb.nsegs * p
            off = self.head_off
            take = min(want - copied, total - off)
            end = off + take
            for i in range(off // p, end // p):     # segments whose last byte is copied
                if i == 0:
                    books.delivered_seg(skb, skb.id, skb.t_wire, skb.t_dma, skb.t_poll, now)
                else:
                    sid, tw, td, tp = skb.segs[i - 1]
                    books.delivered_seg(skb, sid, tw, td, tp, now)
            copied += take
            if end == total:
                q.popleft()
                self.head_off = 0
                self.rmem_alloc -= skb.truesize     # sk_eat_skb → sock_rfree
                freed += 1
                frags += skb.nsegs                  # a page fragment per wire packet
            else:
                self.head_off = end
        return copied, freed, frags

    def queued(self) -> int:
        """Wire packets queued and not yet read in full."""
        n = sum(s.nsegs for s in self.receive_queue)
        # an app whose accept() found no connection (more TCP apps on a port than flows to
        # it) has an empty socket and no segment size: it stays asleep, nothing queued
        return n - self.head_off // self.payload if self.head_off else n

    def rx_queue_bytes(self) -> int:
        return self.rmem_alloc
