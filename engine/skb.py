"""The packet record every process shares: a lean `sk_buff`.

One object per packet in flight inside a CPU process; it carries the packet's identity and
the stage timestamps that become the per-stage latency distributions. Across links it
travels as a tuple of its fields (`to_wire` / `from_wire`).
"""

from __future__ import annotations

from dataclasses import dataclass

ID_LOW = (1 << 40) - 1      # a sent packet's id has its sender (+ 1) in the bits above

# what an outgoing frame a capture records is: the nic's wire taps and the host's
# dev_queue_xmit_nit say it the same way, and the coordinator writes the frame from it
TX_FORWARDED, TX_SENT, TX_ARP, TX_RESPONSE = 0, 1, 2, 3


def sampled(pid: int, sample: int) -> bool:
    """A trace follows one packet in `sample`: a received one by its wire id, a sent one
    by its id's low bits; the CPUs and the nic apply the same rule."""
    return sample > 0 and (pid & ID_LOW) % sample == 0


class TraceChoice:
    """Which packets a trace follows (observe.trace_sample, one in `sample`, inside the
    trace window) and whose they may be (observe.trace_flows: these flows and senders;
    None, every one). The CPUs and the nic ask the same questions of it."""

    __slots__ = ("sample", "start", "end", "flows", "senders")

    def __init__(self, sample: int, start: int, end: int, flows=None, senders=None) -> None:
        self.sample, self.start, self.end = sample, start, end
        self.flows = None if flows is None else set(flows)
        self.senders = None if senders is None else set(senders)

    def packet(self, pid: int, t: int) -> bool:
        """A sampled packet at a time inside the window."""
        return sampled(pid, self.sample) and self.start <= t < self.end

    def flow(self, flow: int) -> bool:
        return self.flows is None or flow in self.flows

    def sender(self, sender: int) -> bool:
        return self.senders is None or sender in self.senders


@dataclass(slots=True)
class SkBuff:
    id: int          # packet id, unique per run, in wire-arrival order
    flow: int        # index of the flow in the experiment
    len: int         # skb->len as the driver sees it: frame without FCS
    truesize: int    # memory charged to a socket (kernel-spec §9.4)
    queue: int       # RX queue it came in on (skb_record_rx_queue)
    t_wire: int      # last bit received by the NIC
    t_dma: int       # descriptor written back (DD visible to the driver)
    t_poll: int = 0  # cleaned by the driver's NAPI poll
    t_proto: int = 0  # entered __netif_receive_skb_core
    t_sock: int = 0  # queued on the socket
    rps_src: int = -1  # RFS: the CPU that enqueued it under an rflow …
    rps_seq: int = 0   # … and its number there (stands in for input_queue_tail)
    # GRO: the segments merged behind the first, as (id, t_wire, t_dma, t_poll) each;
    # None for a packet that was not merged. A super-packet is one skb to the stack and
    # still every one of its wire packets to the books.
    segs: list | None = None
    sock: int = -1     # a packet this host sends: its sender's index; -1 for received ones
    # A send cut in pieces (IP fragments made by ip_do_fragment, or the segments of a UDP
    # GSO skb): this piece's index, and whether pieces of the same send follow it (IP_MF
    # for fragments). The books count a send where its last piece ends. Ids of the
    # pieces are consecutive: the send's is `id - frag`.
    frag: int = 0
    more: bool = False
    # skb_shinfo gso_size / gso_segs of a UDP GSO skb (UDP_SEGMENT); 0 otherwise
    gso_size: int = 0
    gso_segs: int = 0
    # an earlier piece of this send was lost: the send is booked as dropped there, and
    # this piece, should it leave, does not count it on the wire
    lost: bool = False
    # a TCP_RR segment's word (nic.rr): +k the data of transaction k, -k a pure ACK of it
    tcp: int = 0

    @property
    def nsegs(self) -> int:
        """NAPI_GRO_CB(skb)->count: wire packets in this skb."""
        return 1 + len(self.segs) if self.segs else 1

    def to_wire(self) -> tuple:
        f = (self.id, self.flow, self.len, self.truesize, self.queue, self.t_wire,
             self.t_dma, self.t_poll, self.t_proto, self.t_sock, self.rps_src, self.rps_seq,
             self.segs, self.sock)
        if self.frag or self.more or self.gso_size or self.tcp:   # only some skbs carry these
            f += (self.frag, self.more, self.gso_size, self.gso_segs, self.lost, self.tcp)
        return f

    @staticmethod
    def from_wire(f) -> "SkBuff":
        return SkBuff(*f)
