"""The host's own packet taps on one CPU (`[observe] pcap = ["host"]`): what tcpdump on the
host sees (observability-formats §4.1). Incoming, `__netif_receive_skb_core`'s ptype_all
delivery: after GRO, so a GRO super-packet is one record; outgoing, `dev_queue_xmit_nit`
just before the driver's xmit: after the qdisc, before TSO/USO, so a GSO skb is one
record. Records are compact tuples; the coordinator (`coordinator/pcap.py`) gives them
headers.

May import: `engine.skb`, the standard library.
"""

from __future__ import annotations

from ..engine.skb import TX_ARP, TX_FORWARDED, TX_RESPONSE, TX_SENT


class HostTap:
    __slots__ = ("count", "rx", "tx", "cut", "flows", "by_flow")

    def __init__(self, count: int, flows: set | None, by_flow) -> None:
        self.count = count                   # records per direction on this CPU
        self.flows = flows                   # received/forwarded flows to keep; None: all
        self.by_flow = by_flow               # fn(skb): it carries a flow (Tx.by_flow)
        self.rx: list[tuple] = []            # (time, rx queue, flow, id, segments)
        # (time, tx queue, kind, who, id, piece, segments); who is the flow, the sender
        # or the neighbour, as kind says
        self.tx: list[tuple] = []
        self.cut = False

    def receive(self, now: int, skb) -> None:
        """__netif_receive_skb_core: the skb as the stack gets it."""
        if self.flows is not None and skb.flow not in self.flows:
            return
        if len(self.rx) >= self.count:
            self.cut = True
            return
        self.rx.append((now, skb.queue, skb.flow, skb.id, skb.nsegs))

    def transmit(self, now: int, queue: int, skb) -> None:
        """dev_queue_xmit_nit: the skb the driver is about to take."""
        flowish = self.by_flow(skb)
        if self.flows is not None and not (flowish and skb.flow in self.flows):
            return                           # a filter names flows: no sender, no ARP
        if len(self.tx) >= self.count:
            self.cut = True
            return
        if skb.sock == -1:
            self.tx.append((now, queue, TX_FORWARDED, skb.flow, skb.id, 0, skb.nsegs))
        elif skb.sock == -2:                 # its flow is the neighbour it asks for
            self.tx.append((now, queue, TX_ARP, skb.flow, skb.id, 0, 1))
        elif flowish:                        # a response: its flow is the request's
            self.tx.append((now, queue, TX_RESPONSE, skb.flow, skb.id, 0, 1))
        else:
            self.tx.append((now, queue, TX_SENT, skb.sock, skb.id, skb.frag,
                            skb.gso_segs or 1))

    def export(self) -> dict:
        return {"rx": self.rx, "tx": self.tx, "cut": self.cut}
