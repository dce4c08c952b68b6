"""A UDP socket's receive side, owned by the CPU its application runs on
(kernel-spec §9, L6.6).

Admission: a datagram is accepted whenever the current charge `sk_rmem_alloc` is not above
`sk_rcvbuf` (it may overshoot by one truesize). Release is lazy: each read adds the skb's
truesize to `forward_deficit`, returned to `sk_rmem_alloc` only once the deficit reaches
`sk_rcvbuf/4` or the reader queue runs dry.
"""

from __future__ import annotations

from collections import deque

# include/net/sock.h: SOCK_MIN_RCVBUF = TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(sk_buff))
SOCK_MIN_RCVBUF = 2048 + 256


def effective_rcvbuf(so_rcvbuf: int | None, rmem_default: int, rmem_max: int) -> int:
    """sk_rcvbuf: rmem_default for a new socket; SO_RCVBUF v gives
    max(2 * min(v, rmem_max), SOCK_MIN_RCVBUF) (sock_setsockopt doubles for overhead)."""
    if so_rcvbuf is None:
        return rmem_default
    return max(2 * min(so_rcvbuf, rmem_max), SOCK_MIN_RCVBUF)


class UdpSock:
    __slots__ = ("index", "bind_ip", "port", "rem_ip", "rem_port", "owner", "inode",
                 "rcvbuf", "rmem_alloc", "forward_deficit", "forward_threshold",
                 "receive_queue", "reader_queue", "drops", "waiter", "enqueued", "rxhash",
                 "incoming_cpu", "rfs_hash", "by_cpu")

    def __init__(self, index: int, bind_ip: str, port: int, rcvbuf: int, owner: int,
                 inode: int, rem_ip: str | None = None, rem_port: int | None = None) -> None:
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
        self.by_cpu: dict[int, int] = {}   # datagrams offered to it, by processing CPU

    def enqueue(self, skb, sw_hash: int, cpu: int) -> bool:
        """__udp_queue_rcv_skb on the CPU `cpu` that processed it, then
        __udp_enqueue_schedule_skb: False means -ENOMEM (RcvbufErrors)."""
        self.by_cpu[cpu] = self.by_cpu.get(cpu, 0) + 1
        if self.rem_ip is not None:        # connected: sock_rps_save_rxhash, incoming cpu
            self.rxhash = sw_hash
            self.incoming_cpu = cpu
        rmem = self.rmem_alloc
        if rmem > self.rcvbuf:
            self.drops += 1
            return False
        self.rmem_alloc = rmem + skb.truesize
        self.receive_queue.append(skb)
        self.enqueued += 1
        return True

    def recv(self):
        """__skb_recv_udp + skb_consume_udp: the next datagram, or None if none queued."""
        rq = self.reader_queue
        if not rq:
            if not self.receive_queue:
                return None
            # splice the whole receive queue into the reader queue
            self.reader_queue, self.receive_queue = self.receive_queue, rq
            rq = self.reader_queue
        skb = rq.popleft()
        self.forward_deficit += skb.truesize                 # udp_rmem_release(partial=1)
        if self.forward_deficit >= self.forward_threshold or not rq:
            self.rmem_alloc -= self.forward_deficit
            self.forward_deficit = 0
        return skb

    def queued(self) -> int:
        return len(self.receive_queue) + len(self.reader_queue)

    def rx_queue_bytes(self) -> int:
        """What /proc/net/udp shows as rx_queue."""
        return self.rmem_alloc - self.forward_deficit
