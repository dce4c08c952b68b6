"""The NIC's transmit side (kernel-spec §11.1; design §2): doorbells in, frames on the
wire, descriptor write-backs out.

A tail write (`db` record) makes the packets behind it visible to the device. The device
reads the descriptors and then the packet data over PCIe (two dependent DMA reads), puts
the frames on its transmit wire at line rate in the order they became ready (queues
interleave packet by packet), and writes each descriptor back (DD) once its frame has
left, which reaches the CPU serving the queue's vector one PCIe latency later (`txc`).
The on-chip TX FIFO is not modelled: write-back waits for the wire, so BQL and the ring
see everything not yet sent.
"""

from __future__ import annotations

import heapq

from ..engine.skb import TX_ARP, TX_FORWARDED, TX_RESPONSE, TX_SENT
from .traffic import Wire

FCS = 4
MIN_FRAME = 64


class TxEngine:
    __slots__ = ("wire", "wires", "nq", "frames_by_port", "bytes_by_port",
                 "read_ns", "queue_cpu", "pending", "in_flight_fwd", "on_wire_by_sender",
                 "arp_requests", "arp_out",
                 "on_wire_by_flow", "frames", "bytes", "end", "in_flight", "queue_packets",
                 "queue_bytes", "frames_by_sender", "series_ns", "series_fwd",
                 "series_sent", "cap_tx", "cap_count", "cap_flows", "cap_cut",
                 "trace", "trace_tx",
                 "rr_servers", "rr_out")

    def __init__(self, line_rate_bps: int, read_ns: int, queue_cpu: dict[int, str],
                 nsenders: int, nflows: int, end: int, nports: int = 1, nq: int = 1) -> None:
        # full duplex: each port's transmit direction is its own wire
        self.wires = [Wire(line_rate_bps) for _ in range(nports)]
        self.wire = self.wires[0]
        self.nq = nq                           # queues per port (numbered across ports)
        self.frames_by_port = [0] * nports     # GPTC / GOTC of each port
        self.bytes_by_port = [0] * nports
        self.read_ns = read_ns
        self.queue_cpu = queue_cpu
        self.pending: list = []                # doorbells not yet processed (heap)
        self.on_wire_by_sender = [0] * nsenders    # sends whose last frame has left
        self.frames_by_sender = [0] * nsenders
        self.on_wire_by_flow = [0] * nflows    # forwarded packets, by received flow
        self.frames = 0                        # GPTC / TPT
        self.bytes = 0                         # GOTC
        self.end = end
        self.in_flight = 0                     # a sender's, not yet off the wire at the end
        self.in_flight_fwd = 0                 # forwarded ones (the receive books')
        self.queue_packets: dict[int, int] = {}
        self.arp_requests = 0                  # ARP requests that left the wire
        self.arp_out: list = []                # (time its last bit left, neighbour, port)
        self.queue_bytes: dict[int, int] = {}
        self.series_ns = 0                     # [observe] interval: forwarded per interval
        self.series_fwd: dict[tuple[int, int], int] = {}
        self.series_sent: dict[tuple[int, int], int] = {}   # sends on the wire, by sender
        # [observe] pcap = ["wire"]: frames that left each port, as (time the last bit
        # left, kind (0 forwarded, 1 a sender's, 2 an ARP request, 3 a udp_rr response),
        # who (the flow, the sender, the neighbour or the request's flow, as kind says),
        # packet id, piece, frame length without FCS), up to cap_count per port
        self.cap_tx: list[list] | None = None
        self.cap_count = 0
        self.cap_flows: set | None = None      # forwarded flows to capture; None: all
        self.cap_cut = [False] * nports
        # [observe] trace: sampled packets as their last frame leaves, for the arrows'
        # ends: (id, port, time the last bit left, its frame length with FCS)
        self.trace = None                      # engine.skb.TraceChoice: which to record
        self.trace_tx: list[tuple] = []
        # udp_rr servers (app indices): their responses, as (time the last bit left, the
        # request's flow), tell the clients (nic.rr)
        self.rr_servers: set = set()
        self.rr_out: list[tuple] = []

    def doorbell(self, stamp: int, origin: int, seq: int, queue: int, pkts: list,
                 clean: list, words: list | None = None) -> None:
        """`clean`: per packet, what the driver's clean of its descriptor needs; the device
        hands it back with the write-back (the CPU that cleans need not be the one that
        rang). `words`: per packet, a TCP_RR segment's word (nic.rr), if any has one."""
        heapq.heappush(self.pending, (stamp, origin, seq, queue, pkts, clean, words))

    def advance(self, safe: int, out: dict) -> None:
        """Transmit everything rung before `safe`; completions go to `out[lp]` as records."""
        while self.pending and self.pending[0][0] < safe:
            stamp, _, seq, queue, pkts, clean, words = heapq.heappop(self.pending)
            ready = stamp + 2 * self.read_ns            # descriptor read, then data read
            sizes: list[int] = []
            last: list[int] = []                         # a packet is done with its last frame
            for p in pkts:
                size = max(p[3] + FCS, MIN_FRAME)
                sizes += [size] * p[4]
                # a sender's piece (7 fields) names its last frame, shorter after a UDP GSO
                # skb's last segment, and whether its send goes on in later pieces
                if len(p) > 5 and p[5] != p[3]:
                    sizes[-1] = max(p[5] + FCS, MIN_FRAME)
                last.append(len(sizes) - 1)
            port = queue // self.nq
            # plain integers: a doorbell carries a few frames, and numpy on arrays that
            # small costs more than it saves
            ends = self.wires[port].serialise_burst(ready, sizes)
            done_l = [ends[i] for i in last]
            if self.cap_tx is not None:
                self._capture(port, pkts, last, sizes, ends)
            if self.trace is not None:
                self._trace(port, pkts, done_l, [sizes[i] for i in last])
            for j, (p, t) in enumerate(zip(pkts, done_l)):
                n = p[4]
                if p[2] == -2:                           # the kernel's ARP request
                    if t < self.end:
                        self.frames += 1
                        self.bytes += max(p[3] + FCS, MIN_FRAME)
                        self.frames_by_port[port] += 1
                        self.bytes_by_port[port] += max(p[3] + FCS, MIN_FRAME)
                        self.arp_requests += 1
                        self.arp_out.append((t, p[1], port))
                    continue
                ends_send = len(p) <= 5 or not p[6]
                if t < self.end:
                    nbytes = p[3] * (n - 1) + (p[5] if len(p) > 5 else p[3])
                    self.frames += n
                    self.bytes += nbytes + FCS * n
                    self.frames_by_port[port] += n
                    self.bytes_by_port[port] += nbytes + FCS * n
                    self.queue_packets[queue] = self.queue_packets.get(queue, 0) + n
                    self.queue_bytes[queue] = self.queue_bytes.get(queue, 0) + nbytes
                    if p[2] >= 0:
                        self.frames_by_sender[p[2]] += n
                        if ends_send:
                            self.on_wire_by_sender[p[2]] += 1
                            if p[2] in self.rr_servers:    # a response: its flow is the
                                self.rr_out.append(        # request's
                                    (t, p[1], words[j] if words is not None else 0))
                            if self.series_ns:
                                key = (t // self.series_ns, p[2])
                                self.series_sent[key] = self.series_sent.get(key, 0) + 1
                    else:
                        self.on_wire_by_flow[p[1]] += n
                        if self.series_ns:
                            key = (t // self.series_ns, p[1])
                            self.series_fwd[key] = self.series_fwd.get(key, 0) + n
                elif p[2] >= 0:
                    if ends_send:
                        self.in_flight += 1
                else:
                    self.in_flight_fwd += n
            out.setdefault(self.queue_cpu[queue], []).append((queue, done_l, clean))

    def _capture(self, port: int, pkts: list, last: list, sizes: list, ends: list) -> None:
        got = self.cap_tx[port]
        first = [0] + [i + 1 for i in last[:-1]]         # each packet's first frame
        for p, i0, i1 in zip(pkts, first, last):
            # a udp_rr server's response belongs to its request's flow (p[1])
            flowish = p[2] == -1 or p[2] in self.rr_servers
            if self.cap_flows is not None and not (flowish and p[1] in self.cap_flows):
                continue                   # senders, ARP, flows not asked for
            # who: the flow, the sender, or the neighbour an ARP request asks for
            kind = (TX_FORWARDED if p[2] == -1 else TX_ARP if p[2] == -2
                    else TX_RESPONSE if flowish else TX_SENT)
            who = p[2] if kind == TX_SENT else p[1]
            for j in range(i0, i1 + 1):
                if ends[j] >= self.end:
                    return                 # on the wire after the run
                if len(got) >= self.cap_count:
                    self.cap_cut[port] = True
                    return
                piece = j - i0 + (p[7] if len(p) > 7 else 0)
                got.append((ends[j], kind, who, p[0], piece, sizes[j] - FCS))

    def _trace(self, port: int, pkts: list, done: list, sizes: list) -> None:
        ch = self.trace
        for p, t, size in zip(pkts, done, sizes):
            if not ch.packet(p[0], t):
                continue
            if p[2] >= 0:                       # a sender's: when its send's last leaves
                if (len(p) <= 5 or not p[6]) and ch.sender(p[2]):
                    self.trace_tx.append((p[0], port, t, size))
            elif p[2] == -1 and ch.flow(p[1]):
                self.trace_tx.append((p[0], port, t, size))

    def next_done_bound(self, safe: int) -> int:
        """Least write-back time of a doorbell not yet rung: one rung at `safe` at best,
        whose frame waits for its wire to finish what is already on it (frames leave in
        the order they became ready, and everything rung before `safe` is placed)."""
        ready_ps = (safe + 2 * self.read_ns) * 1000
        return min(max(ready_ps, w.busy_until_ps) + w.tx_ps_one(MIN_FRAME)
                   for w in self.wires) // 1000

    def pending_packets(self, forwarded: bool) -> int:
        return sum(p[4] if forwarded else 1 for d in self.pending for p in d[4]
                   if p[2] != -2 and (p[2] < 0) == forwarded
                   and (len(p) <= 5 or not p[6]))

    def result(self) -> dict:
        return {"arp_requests": self.arp_requests,
                "frames_by_port": self.frames_by_port, "bytes_by_port": self.bytes_by_port,
                "on_wire_by_sender": self.on_wire_by_sender,
                "frames_by_sender": self.frames_by_sender,
                "forwarded_by_flow": self.on_wire_by_flow, "frames": self.frames,
                "bytes": self.bytes, "in_flight": self.in_flight + self.pending_packets(False),
                "in_flight_forwarded": self.in_flight_fwd + self.pending_packets(True),
                "queue_packets": {str(q): n for q, n in self.queue_packets.items()},
                "queue_bytes": {str(q): n for q, n in self.queue_bytes.items()}}
