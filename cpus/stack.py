"""From the driver's GRO_NORMAL batch to the socket (kernel-spec §6.3, §7.1, §8, §9.1).

`gro_normal_list` hands a batch to `netif_receive_skb_list_internal`; each skb then goes
through `__netif_receive_skb_core` (softnet `processed`), `ip_rcv` (InReceives; a
destination that is not local is dropped as InAddrErrors since forwarding is off),
`ip_local_deliver` (InDelivers), then `udp_rcv` (NoPorts when no socket) and
`__udp_queue_rcv_skb`, or `tcp_v4_rcv` (InSegs) and `tcp_rcv_established` for the TCP-like
bulk flows. A GRO super-packet is one skb here (one InReceives, one InSegs) and all its
wire packets to the books. The socket belongs to the CPU of its application: a local socket is
queued here; a socket on another CPU is reached over the interconnect link, and its owner
decides admission when the record lands.

A GRO_NORMAL batch is one step: each datagram's CPU cost is the sum of the stages it went
through, and its stage timestamps are placed inside the step at the stage boundaries.
"""

from __future__ import annotations

from .backlog import get_rps_cpu
from .cpu import NET_RX_SOFTIRQ
from .rfs import HEAD_REPORT_DELAY_NS
from .sock import UDP_RCVBUF_ERRORS


class Snmp:
    """The MIB counters this CPU has bumped; /proc/net/snmp sums them over CPUs."""

    __slots__ = ("ip", "udp", "tcp", "tcpext")

    IP_FIELDS = ("InReceives", "InHdrErrors", "InAddrErrors", "ForwDatagrams",
                 "InUnknownProtos", "InDiscards", "InDelivers", "OutRequests", "OutDiscards",
                 "OutNoRoutes")
    UDP_FIELDS = ("InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors",
                  "SndbufErrors", "InCsumErrors", "IgnoredMulti", "MemErrors")

    def __init__(self) -> None:
        self.ip = dict.fromkeys(self.IP_FIELDS, 0)
        self.udp = dict.fromkeys(self.UDP_FIELDS, 0)
        self.tcp = {"CurrEstab": 0, "InSegs": 0, "InErrs": 0, "OutSegs": 0,
                    "RetransSegs": 0}
        # TcpExt (/proc/net/netstat) counters of the TCP_RR connections
        self.tcpext = dict.fromkeys(("DelayedACKs", "DelayedACKLost", "TCPPureAcks",
                                     "TCPTimeouts", "TCPLossProbes"), 0)


class Stack:
    __slots__ = ("cpu", "sd", "costs", "snmp", "flow_local", "flow_sock", "sockets",
                 "books", "gro_normal_batch", "held", "remote_enqueue", "rx_dropped_core",
                 "sw_hash", "rps_maps", "backlog", "rps_remote", "rps_ipi", "rfs",
                 "flow_tcp", "gro_flows", "flow_forward", "fwd_pending", "tx", "tap",
                 "hash_cost", "flow_nf_drop", "tcp_rr")

    def __init__(self, cpu, sd, snmp: Snmp, flow_local: list[bool],
                 flow_sock: list[int | None], sockets: dict, books, gro_normal_batch: int,
                 remote_enqueue) -> None:
        self.cpu = cpu
        self.sd = sd
        self.costs = cpu.costs
        self.snmp = snmp
        self.flow_local = flow_local
        self.flow_sock = flow_sock
        self.sockets = sockets                 # index -> UdpSock, only those this CPU owns
        self.books = books
        self.gro_normal_batch = gro_normal_batch
        self.held = 0                          # skbs taken off a ring, not yet handed on
        self.remote_enqueue = remote_enqueue   # fn(t, sock_index, skb)
        self.rx_dropped_core: dict[int, int] = {}   # flow -> drops (skb->dev->rx_dropped)
        self.sw_hash: list[int] = []           # skb_get_hash per flow (flow dissector)
        # skb_get_hash's cost: the flow dissector, unless the NIC gave an L4 hash
        self.hash_cost = 0
        self.rps_maps: dict[int, list[int]] = {}   # RX queue -> rps_cpus as a CPU list
        self.backlog = None                    # this CPU's Backlog
        self.rps_remote = None                 # fn(t, cpu, skb): enqueue on another CPU
        self.rps_ipi = None                    # fn(t, cpu): the IPI marker
        self.rfs = None                        # RfsRx when an RX queue here has RFS
        self.flow_tcp = [False] * len(flow_local)   # TCP-like bulk flows
        self.gro_flows: list = []              # GroFlow per flow
        self.flow_forward = [False] * len(flow_local)   # not local, and ip_forward = 1
        self.flow_nf_drop = [None] * len(flow_local)    # "raw" / "filter": an iptables DROP
        self.fwd_pending: list = []            # routed out, waiting for the end of the step
        self.tcp_rr = None                     # cpus.tcp_rr.TcpRr: TCP_RR connections here
        self.tx = None                         # cpus.tx.Tx
        self.tap = None                        # cpus.capture.HostTap: [observe] pcap host

    def send_prefix(self, kind: str) -> int:
        """The least CPU time from the start of a step to the first record of `kind` it can
        send to another CPU: the promise a CPU gives its peers adds it to the time its next
        step can start. Must follow the code paths below."""
        c = self.costs
        if kind == "sk":     # receive_skb: everything before the socket hand-off
            udp = c.udp_rcv + c.udp_queue_rcv_skb
            if any(self.flow_tcp):
                udp = min(udp, c.tcp_v4_rcv + c.tcp_rcv_established)
            return c.netif_receive_skb_ip_rcv + c.ip_local_deliver + udp
        if kind in ("bl", "ipi"):    # rps_steer; an IPI is owed only after an enqueue
            return self.hash_cost + c.get_rps_cpu + c.enqueue_to_backlog
        if kind == "qh":             # backlog progress reports leave this much later
            return HEAD_REPORT_DELAY_NS
        if kind == "arfs":           # ndo_rx_flow_steer, from get_rps_cpu's set_rps_cpu
            return self.hash_cost + c.get_rps_cpu
        if kind == "wf":             # sock_wfree, after the first completed packet …
            if self.tx is not None and any(q.qdisc.kind == "fq_codel"
                                           for q in self.tx.queues.values()):
                return 0             # … or fq_codel's drops, from a qdisc run's start
            # … or a qdisc drop of another CPU's datagram, after dev_queue_xmit, or
            # kfree_skb of a fragment whose datagram failed (Tx.free_dead)
            return min(c.igb_clean_tx_packet, c.dev_queue_xmit, c.kfree_skb)
        if kind == "tc":             # the end of a clean of at least one packet
            return c.igb_clean_tx_packet
        if kind == "db":             # a tail write follows a descriptor write
            return c.igb_xmit_frame
        return 0                     # rfs: recvmsg writes the table at once

    def gro_normal_one(self, napi, skb):
        """Append to napi->rx_list; deliver the batch once it holds gro_normal_batch
        segments."""
        napi.rx_list.append(skb)
        napi.rx_count += skb.nsegs
        napi.gro.to_stack += 1
        if napi.rx_count >= self.gro_normal_batch:
            yield from self.gro_normal_list(napi)

    def napi_gro_flush(self, napi, flush_old: bool):
        """napi_gro_flush: complete held packets (napi_gro_complete → gro_normal_one)."""
        done = napi.gro.flush(self.cpu.jiffies(), flush_old)
        yield from self.gro_complete(napi, done)

    def gro_complete(self, napi, done: list):
        """napi_gro_complete for each packet GRO let go of: a merged one gets its
        protocol's gro_complete (gso_size, checksum), then gro_normal_one."""
        cost = self.costs.gro_complete
        for skb in done:
            if skb.segs and cost:
                yield cost
            yield from self.gro_normal_one(napi, skb)

    def gro_normal_list(self, napi):
        """Deliver napi->rx_list (netif_receive_skb_list_internal) as one step: hard IRQs
        wait at most one GRO_NORMAL batch (gro_normal_batch segments) for the boundary."""
        batch = napi.rx_list
        napi.rx_list = []
        napi.rx_count = 0
        start = t = self.cpu.now
        if self.rps_maps or self.rfs is not None:
            steer = self.rps_steer
            for skb in batch:
                t += steer(skb, t)
        else:
            receive = self.receive_skb
            for skb in batch:
                t += receive(skb, t)
        yield t - start
        if self.fwd_pending:
            yield from self.transmit_forwarded()

    def transmit_forwarded(self):
        """The packets this step routed out, down the TX path (BH context already)."""
        lst = self.fwd_pending
        self.fwd_pending = []
        tx = self.tx
        for skb in lst:
            self.held -= skb.nsegs
            tx.in_hand[id(skb)] = skb
            yield from tx.forward(skb, self.sw_hash[skb.flow])

    def rps_steer(self, skb, now: int) -> int:
        """netif_receive_skb_list_internal with RPS on: get_rps_cpu, then
        enqueue_to_backlog — even when the target is this CPU."""
        target, pre = self._get_rps_cpu(skb)
        if target < 0:
            return pre + self.receive_skb(skb, now + pre) if pre else self.receive_skb(skb, now)
        return self._to_backlog(skb, target, now, pre)

    def netif_rx(self, skb, now: int) -> int:
        """netif_rx_internal, from a driver's hard-IRQ handler (interrupt-driven receive):
        to RPS's CPU when the queue steers, else to this CPU's backlog; process_backlog
        does the protocol work in NET_RX. Returns its CPU cost."""
        target, pre = (self._get_rps_cpu(skb) if self.rps_maps or self.rfs is not None
                       else (-1, 0))
        me = self.cpu.index
        return self._to_backlog(skb, me if target < 0 else target, now, pre)

    def _get_rps_cpu(self, skb) -> tuple[int, int]:
        """get_rps_cpu's pick (-1: none) and what finding it cost (0 when the queue has
        neither a map nor a flow table: no hash is taken)."""
        if self.rfs is None:
            target = get_rps_cpu(self.rps_maps.get(skb.queue), self.sw_hash[skb.flow])
        else:
            target, rflow = self.rfs.get_rps_cpu(skb.queue, self.rps_maps.get(skb.queue),
                                                 self.sw_hash[skb.flow], skb.flow)
            if rflow is not None:
                self.rfs.stamp(skb, rflow)
        q = skb.queue
        if q in self.rps_maps or (self.rfs is not None and q in self.rfs.flow_tables):
            line = 0 if self.rfs is None else self.rfs.line_cost   # the socket table's line
            return target, self.hash_cost + self.costs.get_rps_cpu + line
        return target, 0

    def _to_backlog(self, skb, target: int, now: int, pre: int) -> int:
        """enqueue_to_backlog on `target`: here, or over the interconnect with the IPI
        owed at the end of net_rx_action."""
        cost = pre + self.costs.enqueue_to_backlog
        self.held -= skb.nsegs
        me = self.cpu.index
        if target == me:
            if not self.backlog.enqueue_to_backlog(skb, me):
                cost += self.free_cost(skb)    # kfree_skb of the dropped packet
        else:
            self.rps_remote(now + cost, target, skb)
            sd = self.sd
            if target not in sd.rps_ipi_list:
                sd.rps_ipi_list.append(target)
            # napi_schedule_rps (rps_ipi_queued in 3.x): the IPI leaves at the end of this
            # CPU's net_rx_action, which the enqueue raises unless it runs now (6.6's
            # in_net_rx_action; 3.x raises it regardless, for one more empty run)
            if not sd.in_net_rx_action:
                self.cpu.raise_softirq_irqoff(NET_RX_SOFTIRQ, True)
        return cost

    def send_rps_ipis(self):
        """net_rps_send_ipi: one IPI per CPU this CPU enqueued to."""
        # one at a time off the list, so IPIs still owed stay visible to the promises
        lst = self.sd.rps_ipi_list
        cost = self.costs.rps_ipi_send
        tracer = self.cpu.tracer
        while lst:
            target = lst.pop(0)
            self.rps_ipi(self.cpu.now, target)
            if tracer is not None:
                tracer.event(self.cpu.now, "ipi", f"cpu{target}")
            yield cost

    def receive_skb(self, skb, now: int) -> int:
        """One skb from __netif_receive_skb_core to the socket, starting at `now`;
        returns its CPU cost."""
        if self.tap is not None:               # ptype_all: tcpdump on the host
            self.tap.receive(now, skb)
        c = self.costs
        self.sd.processed += 1                 # __netif_receive_skb_core, one round
        skb.t_proto = now
        ip = self.snmp.ip
        ip["InReceives"] += 1
        cost = c.netif_receive_skb_ip_rcv
        flow = skb.flow
        n = skb.nsegs
        nf = self.flow_nf_drop[flow]
        if nf == "raw":                        # NF_INET_PRE_ROUTING, raw table: DROP
            self.held -= n
            self.books.drop(flow, "nf_raw_drop", n)
            return cost + self.free_cost(skb)
        if not self.flow_local[flow]:
            if self.flow_forward[flow]:        # ip_rcv_finish's route: out again
                cost += c.ip_forward
                ip["ForwDatagrams"] += 1       # ip_forward_finish
                self.fwd_pending.append(skb)
                return cost
            ip["InAddrErrors"] += 1
            self.held -= n
            self.books.drop(flow, "ip_in_addr_errors", n)
            return cost + self.free_cost(skb)
        cost += c.ip_local_deliver
        if nf == "filter":                     # NF_INET_LOCAL_IN, filter table: DROP
            self.held -= n
            self.books.drop(flow, "nf_filter_drop", n)
            return cost + self.free_cost(skb)
        ip["InDelivers"] += 1
        sidx = self.flow_sock[flow]
        if self.flow_tcp[flow]:
            cost += c.tcp_v4_rcv
            self.snmp.tcp["InSegs"] += 1       # per skb: "count it even if it's bad"
            if sidx is None:                   # no socket: answered with a RST
                self.held -= n
                self.books.drop(flow, "tcp_no_socket", n)
                return cost + self.free_cost(skb)
            cost += c.tcp_rcv_established
        else:
            cost += c.udp_rcv
            if sidx is None:
                self.snmp.udp["NoPorts"] += 1
                self.held -= n
                self.books.drop(flow, "udp_no_ports", n)
                return cost + self.free_cost(skb)
            cost += c.udp_queue_rcv_skb
        t = now + cost
        skb.t_sock = t
        self.held -= n
        sk = self.sockets.get(sidx)
        if sk is not None:
            cost += self.sock_enqueue(sk, skb, self.cpu.index, t)
        else:
            self.remote_enqueue(t, sidx, skb)
        return cost

    def free_cost(self, skb) -> int:
        """kfree_skb of a dropped packet (a GRO super-packet's page fragments too): the
        profile's drop-path figures had it inside, so each drop stage charges it."""
        c = self.costs
        return c.kfree_skb + (c.kfree_skb_frag * (skb.nsegs - 1) if skb.segs else 0)

    def sock_enqueue(self, sk, skb, cpu: int, t: int) -> int:
        """Queue on a socket this CPU owns, for a datagram CPU `cpu` processed, whose
        uncontended enqueue ends at `t`; returns what CPU `cpu` pays on top: the stall on
        the socket's shared lock and line (UDP), waking the reader, or freeing what the
        full socket dropped."""
        if sk.is_tcp:
            if skb.tcp:                        # a TCP_RR segment: its connection's state
                return self.tcp_rr.rcv(sk, skb, cpu, t)
            stage = sk.enqueue(skb, self.sw_hash[skb.flow], cpu)
            if stage is not None:
                self.books.drop(skb.flow, stage, skb.nsegs)             # TCPRcvQDrop
                return self.free_cost(skb)
            return self._wake(sk)
        half_full = sk.busylock and sk.rmem_alloc > sk.rcvbuf >> 1
        stage = sk.enqueue(skb, self.sw_hash[skb.flow], cpu)
        if stage is not None:
            udp = self.snmp.udp
            if stage == UDP_RCVBUF_ERRORS:
                udp["RcvbufErrors"] += 1
            udp["InErrors"] += 1
            self.books.drop(skb.flow, stage, skb.nsegs)
            return sk.lines.drop(cpu, t) + self.free_cost(skb)
        return sk.lines.produce(cpu, t, half_full) + self._wake(sk)

    def _wake(self, sk) -> int:
        w = sk.waiter
        if w is not None:                      # sk_data_ready → wake the reader
            sk.waiter = None
            self.cpu.sched.wake(w)
            return self.costs.ttwu
        return 0
