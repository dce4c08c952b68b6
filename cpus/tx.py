"""The transmit path on a CPU (kernel-spec §10, §11; L6.6): from `udp_sendmsg` through the
neighbour and the qdisc to the driver (`start_xmit` of its transmit half, `cpus/igb_tx.py`),
and NET_TX.

`TxSock` is a sending socket's send-buffer side, owned by its application's CPU. A TX
queue (`TxQueue`) is split as the CPUs use it: its producer half (qdisc, next_to_use,
dql_queued, the XOFF bits) with the CPU that transmits on it, which runs dev_queue_xmit
and the driver's xmit as the kernel does; its consumer half (the ring's write-backs, the
clean) with the CPU its vector serves, which reports the clean's effect back (`tc`). A
queue several CPUs transmit on keeps one producer half; the others hand their packets over
(`xq`), and their dev_queue_xmit runs there as they land, in the sender's time and at its
cost (`Tx.run_for`): the queue's state decides there who runs the qdisc and who only
enqueues (qdisc_run_begin), and what the senders share costs them spinning and line
transfers (`cpus.txq_lines`).

Everything here yields step costs, like the receive path.
"""

from __future__ import annotations

from collections import deque

from softnet.engine.events import INF
from softnet.engine.skb import SkBuff

from .bql import Dql
from .cpu import NET_TX_SOFTIRQ
from .qdisc import NET_XMIT_CN, NET_XMIT_DROP, NET_XMIT_SUCCESS, FqCodel, PfifoFast
from .txq_lines import TxqLines

NETDEV_TX_OK, NETDEV_TX_BUSY = 0, 1     # netdev_tx_t: what ndo_start_xmit answers


# include/net/sock.h: SOCK_MIN_SNDBUF = 2 * TCP_SKB_MIN_TRUESIZE
SOCK_MIN_SNDBUF = 2 * (2048 + 256)


def effective_sndbuf(so_sndbuf: int | None, wmem_default: int, wmem_max: int) -> int:
    """sk_sndbuf: wmem_default for a new socket; SO_SNDBUF v gives
    max(2 * min(v, wmem_max), SOCK_MIN_SNDBUF) (sock_setsockopt doubles it)."""
    if so_sndbuf is None:
        return wmem_default
    return max(2 * min(so_sndbuf, wmem_max), SOCK_MIN_SNDBUF)


# __alloc_skb's data sizes: the kmalloc buckets a head buffer is rounded up to
KMALLOC_BUCKETS = (64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
SKB_SHINFO = 320                  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
SKB_STRUCT = 256                  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
LL_RESERVED_SPACE = 16            # Ethernet: (14 & ~15) + HH_DATA_MOD
TCP_HLEN_TS = 14 + 20 + 32        # a TCP segment's headers, with the timestamp option


def tx_truesize(payload: int, l4: int = 8) -> int:
    """truesize of the skb ip_make_skb builds for one datagram: __ip_append_data asks
    sock_alloc_send_skb for payload + headers + hh_len + 15; __alloc_skb aligns it to 64,
    adds the shared info, kmalloc rounds up to a bucket, and the whole bucket less the
    shared info is the data area: truesize = SKB_TRUESIZE(data area)."""
    size = payload + l4 + 20 + LL_RESERVED_SPACE + 15
    size = -(-size // 64) * 64 + SKB_SHINFO
    bucket = next((b for b in KMALLOC_BUCKETS if b >= size), size)
    return bucket - SKB_SHINFO + SKB_STRUCT + SKB_SHINFO


# -- ip_finish_output: fragmentation and UDP GSO (L6.6 net/ipv4/ip_output.c, udp.c,
# udp_offload.c) --------------------------------------------------------------------------
IP_MTU = 1500
IP_HLEN = 20
UDP_HLEN = 8
ETH_HLEN = 14
# ip_do_fragment: each fragment carries mtu - hlen bytes of IP payload, 8-byte aligned
# (all but the last); __ip_append_data already cut the datagram at maxfraglen, so the
# fast path (frag_list) applies.
FRAG_DATA = (IP_MTU - IP_HLEN) & ~7                      # 1480
# include/linux/udp.h (6.6.0): UDP_MAX_SEGMENTS (1 << 6UL). The 2024 change to 128
# (1382e3b6a350) was backported to 6.6.y stable later; softnet keeps 6.6's 64.
UDP_MAX_SEGMENTS = 64
# udp_sendmsg / __ip_append_data: a datagram may not exceed 0xFFFF bytes of IP
UDP_MAX_PAYLOAD = 0xFFFF - IP_HLEN - UDP_HLEN             # 65507


def ip_fragments(payload: int) -> list[int]:
    """IP payload bytes of each fragment of a UDP datagram (the first holds the UDP
    header); one element when it fits the MTU."""
    left = payload + UDP_HLEN
    out = []
    while left > 0:
        n = min(left, FRAG_DATA)
        out.append(n)
        left -= n
    return out


def gso_segments(payload: int, gso_size: int) -> list[int]:
    """UDP payload bytes of each segment of a UDP GSO send (the last may be shorter)."""
    n = -(-payload // gso_size)
    return [gso_size] * (n - 1) + [payload - gso_size * (n - 1)]


# truesize of a UDP_SEGMENT send: __ip_append_data allocates the headers (paged: the
# payload goes to page fragments and skb_len_add charges its bytes), a 512-byte kmalloc:
# SKB_TRUESIZE(192) = 768, plus the payload. skb_segment gives each segment a new head
# of the same bucket (headers + headroom) plus its payload (nskb->truesize += data_len).
GSO_HEAD_TRUESIZE = 768


def gso_truesize(payload: int, segs: int, device_segments: bool) -> int:
    """What a UDP_SEGMENT send is charged to the socket: its skb's truesize; when the
    stack will segment it (no NETIF_F_GSO_UDP_L4), also the heads of its other segments,
    which __udp_gso_segment adds at validate_xmit_skb (see Tx.validate_xmit_skb_list)."""
    extra = 0 if device_segments or segs < 2 else (segs - 1) * GSO_HEAD_TRUESIZE
    return GSO_HEAD_TRUESIZE + payload + extra


def reciprocal_scale(val: int, ep_ro: int) -> int:
    return (val * ep_ro) >> 32


def pick_tx(n: int, xps: list[int] | None, hash_: int, rx_queue: int = -1) -> int:
    """netdev_pick_tx's choice when the socket has none cached (kernel-spec §10.2): XPS
    by this CPU (one queue, or reciprocal_scale over several), else skb_tx_hash — the
    recorded RX queue of a forwarded packet, or the flow hash."""
    if n == 1:
        return 0
    if xps:
        return xps[0] if len(xps) == 1 else xps[reciprocal_scale(hash_, len(xps))]
    if rx_queue >= 0:
        return rx_queue % n
    return reciprocal_scale(hash_, n)


class TxSock:
    """A UDP socket's send side (kernel-spec §10.1): `sk_wmem_alloc` against `sk_sndbuf`,
    charged at `skb_set_owner_w` and released by `sock_wfree` when the skb is freed at TX
    completion."""

    __slots__ = ("index", "sndbuf", "wmem_alloc", "waiter", "tx_queue", "hash", "connected",
                 "blocking", "nospace", "sent", "eagain", "blocked", "port_base")

    def __init__(self, index: int, sndbuf: int, hash_: int, connected: bool,
                 blocking: bool) -> None:
        self.index = index
        self.sndbuf = sndbuf
        self.wmem_alloc = 0
        self.waiter = None          # a sender asleep in sock_alloc_send_skb
        self.tx_queue = -1          # sk_tx_queue_mapping (cached for connected sockets)
        self.port_base = 0          # first TX queue of the port its route leaves by
        self.hash = hash_           # skb_get_hash of its datagrams (sk_txhash if connected)
        self.connected = connected
        self.blocking = blocking
        self.nospace = False        # SOCK_NOSPACE
        self.sent = 0               # sendmsg calls that built a datagram
        self.eagain = 0
        self.blocked = 0            # times the sender slept for send-buffer space

    def wfree(self, truesize: int) -> bool:
        """sock_wfree: True when sk_write_space should wake the sender (room for half the
        buffer: sock_def_write_space's `wmem_alloc << 1 <= sndbuf`)."""
        self.wmem_alloc -= truesize
        if self.waiter is not None and self.wmem_alloc << 1 <= self.sndbuf:
            return True
        return False


NUD_NONE, NUD_INCOMPLETE, NUD_REACHABLE = 0, 1, 2


class Neigh:
    """One CPU's view of a neighbour entry that starts unresolved."""

    __slots__ = ("index", "hash", "state", "queue", "queue_bytes", "unres_discards",
                 "requests", "replies")

    def __init__(self, index: int, hash_: int) -> None:
        self.index = index
        self.hash = hash_           # the next hop's address hash
        self.state = NUD_NONE
        self.queue: deque = deque()   # arp_queue: (skb, hash, socket, rx queue)
        self.queue_bytes = 0
        self.unres_discards = 0     # /proc/net/stat/arp_cache unres_discards
        self.requests = 0
        self.replies = 0


class TxRing:
    """igb's TX ring as the driver keeps it: descriptors in use between next_to_clean and
    next_to_use, the packets behind them, and how many the NIC has written back."""

    __slots__ = ("index", "count", "used", "in_flight", "hw_done", "unsent", "unsent_clean",
                 "packets", "bytes", "restart_queue", "restart_queue2", "tx_total_bytes",
                 "tx_total_packets", "atr_count", "fdir")

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count
        self.used = 0
        # written back (DD), not yet cleaned: what each clean needs, as the device hands
        # it back (descriptors, segments, bytes, socket, truesize)
        self.in_flight: deque = deque()
        self.hw_done = 0                  # packets with DD written back, not cleaned
        self.unsent: list = []            # submitted since the last tail write …
        self.unsent_clean: list = []      # … and what their cleans will need
        self.packets = 0                  # tx_stats: what igb_clean_tx_irq counted
        self.bytes = 0
        self.restart_queue = 0
        self.restart_queue2 = 0
        self.tx_total_bytes = 0           # ITR inputs
        self.tx_total_packets = 0
        self.atr_count = 0                # ixgbe's ATR: packets since the last sample …
        self.fdir: list = []              # … and the flows whose filters it wrote since
                                          # the last tail write (they travel with it)

    def desc_unused(self) -> int:
        return self.count - 1 - self.used


def qdisc_create_dflt(kind: str, txqueuelen: int, opts: dict | None = None,
                      nolock: bool = True):
    """mq_init's child for one TX queue, built with net.core.default_qdisc's ops."""
    if kind == "pfifo_fast":
        return PfifoFast(txqueuelen, nolock)
    if kind == "fq_codel":
        return FqCodel(**(opts or {}))
    raise ValueError(f"default_qdisc {kind!r} is not modelled")


class TxQueue:
    """netdev_queue + its qdisc (an mq child) + igb_ring + dql."""

    __slots__ = ("index", "qdisc", "ring", "dql", "drv_xoff", "stack_xoff", "scheduled",
                 "lines", "run_cpu", "run_end", "rerun_at")

    def __init__(self, index: int, ring_size: int, txqueuelen: int, hz: int,
                 qdisc: str = "pfifo_fast", qdisc_opts: dict | None = None,
                 lines: TxqLines | None = None, nolock: bool = True) -> None:
        self.index = index
        self.qdisc = qdisc_create_dflt(qdisc, txqueuelen, qdisc_opts, nolock)
        self.ring = TxRing(index, ring_size)
        self.dql = Dql(hz)
        self.drv_xoff = False             # __QUEUE_STATE_DRV_XOFF: ring short of descriptors
        self.stack_xoff = False           # __QUEUE_STATE_STACK_XOFF: BQL limit reached
        self.scheduled = False            # __QDISC_STATE_SCHED: on an output_queue
        # the line and locks the CPUs that transmit on it share (free unless given)
        self.lines = lines if lines is not None else TxqLines(0, 0, -1)
        # qdisc_run_begin's seqlock / RUNNING bit: which CPU runs the qdisc, until when
        # (INF while a run here is under way), and when that CPU's NET_TX runs it again
        self.run_cpu = -1
        self.run_end = 0
        self.rerun_at = -1

    def stopped(self) -> bool:
        """netif_xmit_frozen_or_stopped"""
        return self.drv_xoff or self.stack_xoff


class Tx:
    """The transmit work of one CPU: the TX queues it owns and its output_queue."""

    __slots__ = ("cpu", "costs", "queues", "output_queue", "doorbell", "wfree_remote",
                 "cleaned_remote", "drv", "bulk_dequeue",
                 "udp", "ip", "books", "dev_tx_weight", "ntxq", "xps", "remote_xmit",
                 "actor", "rerun", "in_hand", "gso_udp_l4", "frag_failed", "neigh",
                 "neigh_of_sender", "neigh_of_flow", "neigh_flush", "unres_qlen_bytes",
                 "lost_sends", "gro_flows", "fwd_txq", "ids", "senders_payload", "tap",
                 "rr_servers")

    def __init__(self, cpu, queues: dict[int, TxQueue], ntxq: int, xps: list[int] | None,
                 snmp, books, dev_tx_weight: int) -> None:
        self.cpu = cpu
        self.costs = cpu.costs
        self.queues = queues                  # the TX queues this CPU owns
        self.ntxq = ntxq                      # real_num_tx_queues
        self.xps = xps                        # this CPU's xps_cpus queues, or None
        self.output_queue: deque = deque()    # softnet_data.output_queue
        self.actor = cpu.index                # the CPU whose transmit is running here
        self.rerun = None                     # fn(t, txq, cpu): that CPU's NET_TX runs txq
        # skbs a step here holds between places (built, bypassing, dequeued): the books
        # count them in flight if the run ends in that step
        self.in_hand: dict[int, object] = {}
        self.tap = None                       # cpus.capture.HostTap: dev_queue_xmit_nit
        self.doorbell = None                  # fn(t, queue, packets): tail write → nic
        self.wfree_remote = None              # fn(t, sock, truesize): sock_wfree on its owner
        self.cleaned_remote = None            # fn(t, queue, descs, bytes, packets): `tc`
        self.drv = None                       # the driver's transmit half (start_xmit, …)
        self.remote_xmit = None               # fn(t, queue, skb, hash): to the queue's owner
        self.udp = snmp.udp
        self.ip = snmp.ip
        self.books = books
        self.dev_tx_weight = dev_tx_weight
        self.bulk_dequeue = True          # try_bulk_dequeue_skb (3.18+)
        self.gso_udp_l4 = True                # the device segments UDP GSO skbs itself
        # datagrams whose fragment failed in dev_queue_xmit: ip_do_fragment sends no more
        # of them (kfree_skb_list of the rest)
        self.frag_failed: set = set()
        self.lost_sends: set = set()          # sends (sock, id) that lost a piece here
        self.gro_flows: list = []             # the stack's GroFlow per received flow
        self.fwd_txq: dict[int, int] = {}     # forwarded flow -> its TX queue (and a
                                              # udp_rr flow -> its responses')
        self.rr_servers: set = set()          # udp_rr servers here: their skbs' flow is
                                              # the request's
        self.neigh: dict[int, Neigh] = {}      # next hops still resolved by ARP here
        self.neigh_of_sender: dict[int, int] = {}
        self.neigh_of_flow: dict[int, int] = {}
        self.neigh_flush: deque = deque()
        self.unres_qlen_bytes = 212992
        self.ids = 0                          # ids of skbs built here (and timer keys)
        self.senders_payload: dict = {}       # sender -> (payload, gso_size) of its sends

    # -- from the socket down (kernel-spec §10.1–§10.2) --------------------------------
    def pick_tx(self, hash_: int, tsk=None, rx_queue: int = -1) -> int:
        """netdev_core_pick_tx for igb (no ndo_select_queue): the socket's cached queue,
        else XPS by this CPU, else skb_tx_hash (the recorded RX queue of a forwarded
        packet, or the flow hash); connected sockets cache the choice."""
        n = self.ntxq
        base = 0 if tsk is None else tsk.port_base   # the routed device's queues
        if tsk is not None and base <= tsk.tx_queue < base + n:
            return tsk.tx_queue
        q = base + pick_tx(n, self.xps, hash_, rx_queue)
        if tsk is not None and tsk.connected and n > 1:
            tsk.tx_queue = q                  # sk_tx_queue_set (a full socket with a dst)
        return q

    def ip_send_skb(self, skb, hash_: int, tsk=None, rx_queue: int = -1):
        """ip_local_out (OutRequests) … ip_output … neigh_output → dev_queue_xmit, BH
        disabled; the queue's owner counts Udp OutDatagrams or SndbufErrors from the
        qdisc's answer. `skb` may be a list: the fragments of a datagram above the MTU,
        which ip_finish_output → ip_fragment → ip_do_fragment (frag_list fast path: the
        skbs __ip_append_data built, each already charged to the socket) hands one by one
        to ip_finish_output2 (each paying ip_output's work again), stopping at the first
        that dev_queue_xmit refuses."""
        if tsk is not None:
            self.ip["OutRequests"] += 1
        if type(skb) is not list:
            yield from self.ip_finish_output2(skb, hash_, tsk, rx_queue)
            return
        for frag in skb:
            if self.frag_dead(frag):          # an earlier fragment failed on this CPU
                yield from self.free_dead(frag)
                continue
            yield from self.ip_finish_output2(frag, hash_, tsk, rx_queue)

    def ip_finish_output2(self, skb, hash_: int, tsk, rx_queue: int):
        """ip_output's work, the neighbour, then the queue: a packet for a queue another CPU
        owns leaves at the end of that work (records leave inside a step, after the least
        work that precedes them: the promises count on it)."""
        n = self.neigh_for(skb)
        if n is not None and n.state != NUD_REACHABLE:
            yield from self.neigh_resolve_output(n, skb, hash_, tsk, rx_queue)
            return
        yield from self.neigh_output(skb, hash_, tsk, rx_queue)

    # -- the neighbour (kernel-spec §10.1: neigh_output / neigh_resolve_output) ----------
    def neigh_for(self, skb):
        """The entry of the skb's next hop still to be resolved here, or None."""
        if not self.neigh:
            return None
        k = (self.neigh_of_flow.get(skb.flow, -1) if self.by_flow(skb)
             else self.neigh_of_sender.get(skb.sock, -1) if skb.sock >= 0 else -1)
        return self.neigh.get(k)

    def neigh_resolve_output(self, n, skb, hash_: int, tsk, rx_queue: int):
        """__neigh_event_send: the skb waits in the entry's arp_queue (the oldest go when
        it exceeds unres_qlen_bytes: unres_discards); a NUD_NONE entry becomes INCOMPLETE
        and solicits — arp_send hands a request to dev_queue_xmit."""
        c = self.costs.ip_output
        self.in_hand.pop(id(skb), None)
        n.queue.append((skb, hash_, tsk, rx_queue))
        n.queue_bytes += skb.truesize
        while n.queue_bytes > self.unres_qlen_bytes and n.queue:
            old = n.queue.popleft()[0]
            n.queue_bytes -= old.truesize
            n.unres_discards += 1
            self.kfree_skb(old, "neigh_unres_drop", c)
        if n.state != NUD_NONE:
            yield c
            return
        n.state = NUD_INCOMPLETE
        n.requests += 1
        arp = self.arp_create(n.index)
        yield c
        self.in_hand[id(arp)] = arp
        # the request leaves on the TX queue the waiting packet would take
        yield from self.neigh_output(arp, hash_, tsk, rx_queue, ip=False,
                                     q=self.queue_for(skb, hash_, tsk, rx_queue))

    # -- building what is sent (ip_make_skb, arp_create) --------------------------
    def ip_make_skb(self, tsk: TxSock) -> list:
        """ip_make_skb's skbs for one sendmsg of `tsk`: one datagram; a datagram above the
        MTU as the skbs __ip_append_data cut at maxfraglen, which ip_do_fragment sends as
        its fragments; or with UDP_SEGMENT one skb, its payload in page fragments, a GSO
        skb when it holds more than one segment (udp_send_skb). Ids of sent packets are
        apart from the wire's (sender index in the high bits); a send's pieces take
        consecutive ids."""
        payload, gso = self.senders_payload[tsk.index]
        base = ((tsk.index + 1) << 40) + self.ids + 1
        if gso:
            n = -(-payload // gso) if payload > gso else 0
            self.ids += max(1, n)
            return [SkBuff(base, tsk.index, payload + ETH_HLEN + IP_HLEN + UDP_HLEN,
                           gso_truesize(payload, n, self.gso_udp_l4), tsk.tx_queue, 0, 0,
                           sock=tsk.index,
                           gso_size=gso if n else 0, gso_segs=n)]
        frags = ip_fragments(payload)
        self.ids += len(frags)
        if len(frags) == 1:
            return [SkBuff(base, tsk.index, payload + 42, tx_truesize(payload),
                           tsk.tx_queue, 0, 0, sock=tsk.index)]
        last = len(frags) - 1
        # each fragment skb: alloclen = fraglen + hh_len + 15 (tx_truesize with no L4)
        return [SkBuff(base + k, tsk.index, ETH_HLEN + IP_HLEN + f, tx_truesize(f, 0),
                       tsk.tx_queue, 0, 0, sock=tsk.index, frag=k, more=k < last)
                for k, f in enumerate(frags)]

    def rr_response(self, tsk: TxSock, flow: int, payload: int) -> list:
        """A udp_rr server's response to a request of `flow`: one datagram, its flow the
        request's (so the client that sent it knows it, nic.rr)."""
        self.ids += 1
        return [SkBuff(((tsk.index + 1) << 40) + self.ids, flow, payload + 42,
                       tx_truesize(payload), self.fwd_txq.get(flow, 0), 0, 0,
                       sock=tsk.index)]

    def own(self, skb, tsk) -> None:
        """skb_set_owner_w: the sending socket is charged the skb, which this CPU holds
        until the qdisc or a link has it."""
        self.in_hand[id(skb)] = skb
        tsk.wmem_alloc += skb.truesize

    def tcp_segment(self, sk, word: int, payload: int) -> SkBuff:
        """A TCP_RR connection's segment (its word: +k the response to request k, -k a
        pure ACK of it): Ethernet, IP and TCP with timestamps (66 bytes) and the
        payload, owned by the connection's socket, its flow the client's."""
        self.ids += 1
        return SkBuff(((sk.index + 1) << 40) + self.ids, sk.flow, TCP_HLEN_TS + payload,
                      tx_truesize(payload, 32), self.fwd_txq.get(sk.flow, 0), 0, 0,
                      sock=sk.index, tcp=word)

    def arp_create(self, neigh: int) -> SkBuff:
        """arp_create: a 42-byte request (14 + 28, padded to 60 by the device), owned by
        the kernel (sock -2), carrying its neighbour's index as its flow."""
        self.ids += 1
        return SkBuff((1 << 52) + self.ids, neigh, 42, tx_truesize(0, 0), 0, 0, 0,
                      sock=-2)

    def neigh_update(self, index: int) -> None:
        """arp_rcv → neigh_update(NUD_REACHABLE): what waited goes out, from NET_TX."""
        n = self.neigh.get(index)
        if n is None:
            return
        n.state = NUD_REACHABLE
        n.replies += 1
        if n.queue:
            self.neigh_flush.extend(n.queue)
            n.queue.clear()
            n.queue_bytes = 0
            self.cpu.raise_softirq_irqoff(NET_TX_SOFTIRQ, False)

    def by_flow(self, skb) -> bool:
        """A forwarded skb, or a udp_rr response: its flow, not its socket, names where it
        goes."""
        return skb.sock == -1 or skb.sock in self.rr_servers

    def queue_for(self, skb, hash_: int, tsk, rx_queue: int) -> int:
        """The TX queue (numbered across ports): a forwarded flow's is fixed by its route
        and recorded RX queue, a udp_rr response's by its 4-tuple's hash (plan time), else
        netdev_pick_tx's."""
        if self.by_flow(skb) and skb.flow in self.fwd_txq:
            return self.fwd_txq[skb.flow]
        return self.pick_tx(hash_, tsk, rx_queue)

    def neigh_output(self, skb, hash_: int, tsk, rx_queue: int, ip: bool = True,
                     q: int = -1):
        c = self.costs.ip_output
        self.mark_lost(skb)
        if q < 0:
            q = self.queue_for(skb, hash_, tsk, rx_queue)
        if ip:
            self.ip["OutTransmits"] = self.ip.get("OutTransmits", 0) + 1  # IPSTATS_MIB_OUTPKTS
        txq = self.queues.get(q)
        if txq is None:
            # dev_queue_xmit on a queue another CPU holds: the record leaves where it
            # begins; its entry is paid here and now, the rest (the queue's answer) later
            self.in_hand.pop(id(skb), None)
            self.remote_xmit(self.cpu.now + c, q, skb, hash_)
            yield c + self.costs.dev_queue_xmit
            return
        yield c
        yield from self.xmit_one(txq, skb, hash_)

    def frag_dead(self, skb) -> bool:
        """An IP fragment whose datagram already failed: ip_do_fragment frees it unsent."""
        return skb.frag > 0 and (skb.sock, skb.id - skb.frag) in self.frag_failed

    def free_dead(self, skb):
        """kfree_skb_list of the fragments after a failed one: sock_wfree gives their
        charge back."""
        if not skb.more:
            self.frag_failed.discard((skb.sock, skb.id - skb.frag))
            self.lost_sends.discard((skb.sock, skb.id - skb.frag))
        self.in_hand.pop(id(skb), None)
        self.wfree_remote(self.cpu.now + self.costs.kfree_skb, skb.sock, skb.truesize)
        yield self.costs.kfree_skb

    def xmit_one(self, txq: TxQueue, skb, hash_: int = 0):
        """dev_queue_xmit of one skb, and what ip_do_fragment and udp_send_skb count from
        its answer (L6.6 ip_output.c): FragCreates per fragment accepted, FragOKs when the
        last is; at the first refused one FragFails, the datagram's error (-ENOBUFS) and
        no more of its fragments (later ones are freed: sock_wfree releases them)."""
        is_frag = skb.sock >= 0 and (skb.more or skb.frag) and not skb.gso_size
        if is_frag:
            key = (skb.sock, skb.id - skb.frag)
            if key in self.frag_failed:       # sent from another CPU before it knew
                yield from self.free_dead(skb)
                return
        rc = yield from self.dev_xmit_skb(txq, skb, hash_)
        if is_frag:
            ip = self.ip
            if rc == NET_XMIT_SUCCESS:
                ip["FragCreates"] = ip.get("FragCreates", 0) + 1
                if skb.more:
                    return
                ip["FragOKs"] = ip.get("FragOKs", 0) + 1
            else:
                ip["FragFails"] = ip.get("FragFails", 0) + 1
                if rc == NET_XMIT_CN and skb.more and self.piece_lost(skb):
                    # accepted, but the datagram ends here (its later fragments are
                    # freed): the send is lost where fq_codel dropped from its flow
                    self.books.tx_drop(skb, "fq_codel_drop")
                if rc == NET_XMIT_CN and skb.more:
                    # the fragment itself, and earlier ones of its datagram, stay queued:
                    # marked, so that fq_codel dropping them later (or the wire sending
                    # them) does not count the send again
                    skb.lost = True
                    for x in txq.qdisc.skbs():
                        if x.sock == skb.sock and x.id - x.frag == key[1]:
                            x.lost = True
                if skb.more:
                    self.frag_failed.add(key)
        self.count_xmit(skb, rc)

    def send_bh(self, skb, tsk, hash_: int):
        """ip_send_skb from a task: rcu_read_lock_bh … unlock, so softirqs raised meanwhile
        (NET_TX from a stopped queue, NET_RX from an interrupt) run at local_bh_enable,
        in this task's time slot but as softirq time."""
        cpu = self.cpu
        task = cpu.sched.current
        was = cpu.in_softirq
        cpu.in_softirq = task.atomic = True
        yield from self.ip_send_skb(skb, hash_, tsk)
        cpu.in_softirq = was
        task.atomic = False
        if cpu.softirq_pending and not was:          # local_bh_enable → do_softirq
            cpu.in_softirq = True
            cpu.softirq_frames.append(cpu.do_softirq(False))
            yield 0

    def forward(self, skb, hash_: int):
        """ip_forward_finish → dst_output → ip_output … dev_queue_xmit for a received packet
        routed back out (the route lookup and ip_forward are charged by the caller); the
        TX queue follows the recorded RX queue unless XPS says otherwise."""
        yield from self.ip_send_skb(skb, hash_, None, skb.queue)

    def count_xmit(self, skb, rc: int) -> None:
        """udp_send_skb's counters (kernel-spec §10.1): a qdisc drop is -ENOBUFS, which
        without IP_RECVERR counts SndbufErrors (and Ip OutDiscards), not OutDatagrams;
        NET_XMIT_CN (fq_codel dropped from this packet's flow) counts as sent."""
        if skb.sock < 0 or skb.tcp:           # (TCP counts OutSegs as it transmits)
            return
        if rc == NET_XMIT_SUCCESS or rc == NET_XMIT_CN:     # net_xmit_errno
            self.udp["OutDatagrams"] += 1
        else:
            self.ip["OutDiscards"] += 1
            self.udp["SndbufErrors"] += 1

    def xmit_arrive(self, skb, queue: int, hash_: int, cpu: int, t: int) -> int:
        """dev_queue_xmit of a packet CPU `cpu` sent at `t` to a queue whose producer half
        is here, run as that CPU runs it in the kernel; returns what it cost that CPU."""
        total = self.run_for(cpu, t, self.xmit_one(self.queues[queue], skb, hash_))
        return max(0, total - self.costs.dev_queue_xmit)    # its entry was paid there

    def run_for(self, cpu: int, t: int, work) -> int:
        """Transmit work of another CPU, run here from `t` on in that CPU's time: every
        step's cost is summed for it, none is this CPU's. The queue's state is held here,
        so here is where its order is decided."""
        c = self.cpu
        now, actor = c.now, self.actor
        c.now, self.actor = t, cpu
        total = 0
        for cost in work:
            total += cost
            c.now = t + total
        c.now, self.actor = now, actor
        return total

    def net_tx_for(self, txq: TxQueue):
        """The NET_TX softirq a CPU's qdisc_run_end (MISSED) or quota raised: it runs the
        queue again."""
        yield self.costs.softirq_entry + self.costs.net_tx_action
        yield from self.qdisc_run(txq)

    # -- __dev_xmit_skb ----------------------------------------------------------------
    def dev_xmit_skb(self, txq: TxQueue, skb, hash_: int = 0):
        """Returns the qdisc's answer: NET_XMIT_SUCCESS, NET_XMIT_DROP (pfifo_fast's ring
        was full) or NET_XMIT_CN (fq_codel dropped from this packet's flow). A qdisc
        without TCQ_F_CAN_BYPASS (fq_codel) always takes the enqueue path; `hash_` is
        skb_get_hash, which fq_codel classifies by. The queue's line and the enqueue
        lock are shared with the other CPUs that transmit on it (`TxqLines`); only the
        CPU that wins qdisc_run_begin runs the qdisc."""
        q = txq.qdisc
        c = self.costs
        lines = txq.lines
        stall = lines.touch(self.actor, self.cpu.now)
        running = txq.run_end > self.cpu.now
        if q.can_bypass and q.empty() and not running:
            # bypass: straight to the driver (sch_direct_xmit), then run what queued behind
            self.qdisc_run_begin(txq)
            q.bypassed(skb)
            self.in_hand[id(skb)] = skb
            yield c.dev_queue_xmit + stall
            if (yield from self.sch_direct_xmit(txq, [skb])) and not q.empty():
                yield from self._qdisc_run(txq)
            self.qdisc_run_end(txq)
            return NET_XMIT_SUCCESS
        # the band's producer_lock (pfifo_fast), or the root lock after the busylock
        # while another CPU runs a locked qdisc
        stall += lines.enqueue(self.actor, self.cpu.now + stall, running and not q.nolock)
        rc = q.qdisc_enqueue(skb, skb_priority(skb), hash_, self.cpu.now)
        self.in_hand.pop(id(skb), None)
        if rc == NET_XMIT_DROP:               # freed as dev_queue_xmit's work ends
            self.kfree_skb(skb, "qdisc_drop", c.dev_queue_xmit + stall)
        yield c.dev_queue_xmit + stall
        if q.to_free:
            yield c.kfree_skb * self.kfree_skb_list(q)
        yield from self.qdisc_run(txq)
        return rc

    def qdisc_run_begin(self, txq: TxQueue) -> bool:
        """True if this CPU now runs the qdisc. A run under way here takes what was
        enqueued meanwhile (its last dequeue and its end are one step, so nothing slips
        between them: the kernel's MISSED race cannot happen here); a run on another
        CPU's behalf that is not over in time is rerun by that CPU's NET_TX at its end
        (the MISSED it would have found)."""
        if txq.run_end > self.cpu.now:
            if txq.run_end < INF:
                self._schedule_run(txq, txq.run_cpu, txq.run_end)
            return False
        txq.run_cpu = self.actor
        txq.run_end = INF
        return True

    def qdisc_run_end(self, txq: TxQueue) -> None:
        txq.run_end = self.cpu.now

    def qdisc_run(self, txq: TxQueue):
        """qdisc_run: __qdisc_run if this CPU wins qdisc_run_begin."""
        if self.qdisc_run_begin(txq):
            yield from self._qdisc_run(txq)
            self.qdisc_run_end(txq)

    def kfree_skb(self, skb, stage: str, after: int = 0) -> None:
        """A packet a qdisc (or a neighbour's queue) dropped: booked at `stage`; freeing a
        sender's skb runs sock_wfree (its truesize goes back to the send buffer), `after`
        ns into the step. A send in pieces is booked once, at its first lost piece."""
        if self.piece_lost(skb):
            self.books.tx_drop(skb, stage)
        if skb.sock >= 0:
            self.wfree_remote(self.cpu.now + after, skb.sock, skb.truesize)

    def seg_payload(self, skb) -> int:
        """Payload bytes of each segment of a forwarded GRO super-packet (0 otherwise)."""
        return self.gro_flows[skb.flow].payload if skb.segs else 0

    def piece_lost(self, skb) -> bool:
        """Note that a piece of a send is lost; True when the send is to be booked as
        dropped now (its first lost piece), False when it already was. Anything that is
        not a piece of a sender's send is booked every time."""
        if skb.sock < 0 or not (skb.frag or skb.more):
            return True
        key = (skb.sock, skb.id - skb.frag)
        first = not skb.lost and key not in self.lost_sends
        if skb.more:
            self.lost_sends.add(key)
        else:
            self.lost_sends.discard(key)
        return first

    def mark_lost(self, skb) -> None:
        """A later piece of a send that already lost one leaves marked, so the nic does
        not count the send on the wire (nor the books in flight)."""
        if skb.sock >= 0 and (skb.frag or skb.more) and not skb.lost:
            key = (skb.sock, skb.id - skb.frag)
            if key in self.lost_sends:
                skb.lost = True
                if not skb.more:
                    self.lost_sends.discard(key)

    def kfree_skb_list(self, q) -> int:
        """The qdisc's to_free list (fq_codel's overflow and CoDel drops), freed."""
        n = len(q.to_free)
        for skb, stage in q.to_free:
            self.kfree_skb(skb, stage)
        q.to_free.clear()
        return n

    def _qdisc_run(self, txq: TxQueue):
        """__qdisc_run: restart the qdisc until it is empty, the queue stops, or the
        dev_tx_weight quota is used (then NET_TX runs it again)."""
        quota = self.dev_tx_weight
        q = txq.qdisc
        locked = not q.nolock
        while True:
            if locked:                        # qdisc_restart dequeues under the root lock
                now = self.cpu.now
                spin = txq.lines.lock.acquire(self.actor, now, txq.lines.hold) - now
                if spin:
                    yield spin
            lst = self.dequeue_skb(txq, quota)
            if q.to_free:                     # CoDel dropped at the head
                yield self.costs.kfree_skb * self.kfree_skb_list(q)
            if not lst:
                return
            yield self.costs.qdisc_dequeue * len(lst)
            more = yield from self.sch_direct_xmit(txq, lst)
            quota -= len(lst)
            if not more:
                return
            if quota <= 0:
                self.netif_schedule(txq)      # NOLOCK: MISSED → __netif_schedule at run_end
                return

    def dequeue_skb(self, txq: TxQueue, quota: int) -> list:
        """dequeue_skb with bulk dequeue for a ONETXQUEUE qdisc: requeued first; nothing
        while the queue is stopped; then as many as BQL has room for, up to the quota."""
        q = txq.qdisc
        if txq.stopped():
            return []
        now = self.cpu.now
        requeued = bool(q.gso_skb)           # a requeued skb comes back on its own
        skb = q.dequeue(now)
        if skb is None:
            return []
        lst = [skb]
        if requeued or not self.bulk_dequeue:     # 3.x: one skb per qdisc_restart
            self.in_hand[id(skb)] = skb
            return lst
        bytelimit = txq.dql.avail() - skb.len        # try_bulk_dequeue_skb
        while bytelimit > 0 and len(lst) < quota:
            nxt = q.dequeue(now)
            if nxt is None:
                break
            bytelimit -= nxt.len
            lst.append(nxt)
        for x in lst:
            self.in_hand[id(x)] = x
        return lst

    def requeue(self, q, skbs) -> None:
        for back in reversed(skbs):
            q.requeue(back)
            self.in_hand.pop(id(back), None)

    def sch_direct_xmit(self, txq: TxQueue, lst: list):
        """dev_hard_start_xmit over the list, xmit_more on all but the last; a BUSY driver,
        or a ring that stopped midway, sends the rest back to the qdisc
        (dev_requeue_skb). Returns whether the qdisc may go on."""
        q = txq.qdisc
        if not self.gso_udp_l4 and any(x.gso_segs for x in lst):
            lst = yield from self.validate_xmit_skb_list(lst)
        if txq.stopped():                             # netif_xmit_frozen_or_stopped
            self.requeue(q, lst)
            return False
        stall = txq.lines.hard_tx_lock(self.actor, self.cpu.now)
        if stall:
            yield stall
        last = len(lst) - 1
        for i, skb in enumerate(lst):
            rc = yield from self.drv.start_xmit(txq, skb, i < last)
            if rc == NETDEV_TX_BUSY:
                self.requeue(q, lst[i:])
                return False
            if i < last and txq.drv_xoff:             # netif_tx_queue_stopped mid-list
                self.requeue(q, lst[i + 1:])
                return False
        return True

    def validate_xmit_skb_list(self, lst: list):
        """validate_xmit_skb for a device without NETIF_F_GSO_UDP_L4 (tx-udp-segmentation
        off): __skb_gso_segment → inet_gso_segment → udp4_ufo_fragment → __udp_gso_segment
        cuts a UDP GSO skb into its datagrams, each with its own head (skb_segment) and
        sock_wfree, and consumes the GSO skb. The kernel charges the socket the segments'
        extra truesize here (refcount_add of sum_truesize − gso_skb->truesize); softnet
        charged it at sendmsg already (`gso_truesize`), as the socket's owner may be
        another CPU, so the segments' truesizes add up to the GSO skb's."""
        out = []
        c = self.costs.udp_gso_segment
        for skb in lst:
            if not skb.gso_segs:
                out.append(skb)
                continue
            self.in_hand.pop(id(skb), None)
            segs = []
            n = skb.gso_segs
            left = skb.len - ETH_HLEN - IP_HLEN - UDP_HLEN
            for k in range(n):
                pay = min(skb.gso_size, left)
                left -= pay
                seg = SkBuff(skb.id + k, skb.flow, ETH_HLEN + IP_HLEN + UDP_HLEN + pay,
                             GSO_HEAD_TRUESIZE + pay, skb.queue, 0, 0, sock=skb.sock,
                             frag=k, more=k < n - 1)
                segs.append(seg)
                self.in_hand[id(seg)] = seg
            out.extend(segs)
            yield c * n
        return out

    # -- NET_TX ------------------------------------------------------------------------
    def netif_schedule(self, txq: TxQueue) -> None:
        """__netif_schedule: put the qdisc on this CPU's output_queue, raise NET_TX (on
        another CPU's behalf: that CPU's NET_TX)."""
        if self.actor != self.cpu.index:
            self._schedule_run(txq, self.actor, self.cpu.now)
            return
        if txq.scheduled:
            return
        txq.scheduled = True
        self.output_queue.append(txq)
        self.cpu.raise_softirq_irqoff(NET_TX_SOFTIRQ, self.cpu.in_interrupt())

    def _schedule_run(self, txq: TxQueue, cpu: int, t: int) -> None:
        """CPU `cpu`'s NET_TX runs the queue at `t` (this CPU's own: its output_queue)."""
        if cpu == self.cpu.index:
            actor, self.actor = self.actor, cpu
            self.netif_schedule(txq)
            self.actor = actor
        elif txq.rerun_at != t:
            txq.rerun_at = t
            self.rerun(t, txq, cpu)

    def net_tx_action(self):
        yield self.costs.net_tx_action
        while self.neigh_flush:               # what waited for a neighbour, now resolved
            skb, hash_, tsk, rx_queue = self.neigh_flush.popleft()
            self.in_hand[id(skb)] = skb
            yield from self.neigh_output(skb, hash_, tsk, rx_queue)
        head = self.output_queue
        self.output_queue = deque()
        for txq in head:
            txq.scheduled = False
            yield from self.qdisc_run(txq)

def skb_priority(skb) -> int:
    """skb->priority: 0 for datagrams of sockets without SO_PRIORITY (band 1)."""
    return 0
