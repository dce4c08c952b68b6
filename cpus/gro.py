"""GRO: the packets a NAPI instance holds back to merge, and the merge rules
(kernel-spec §6; L6.6 net/core/gro.c, net/ipv4/tcp_offload.c, net/ipv4/udp_offload.c).

Each NAPI has GRO_HASH_BUCKETS lists, picked by the NIC's RSS hash; a list holds at most
MAX_GRO_SKBS packets, newest first, and a packet that finds its list full completes the
oldest. 3.10/3.13 have one list of MAX_GRO_SKBS, and a packet that finds it full goes up
unmerged (devices-probe-kernels.md §4.6). What may merge is decided per flow when the experiment
is planned (`GroFlow`): plain UDP is flagged flush and passes as GRO_NORMAL; an in-order
TCP bulk segment merges into the held packet of its flow (tcp4_gro_receive); a UDP
datagram merges only when its socket set UDP_GRO (udp_gro_receive_segment). A merged
packet is still every one of its wire packets to the books: the segments ride along in
`SkBuff.segs`.

The functions here only move packets; the caller (the driver's clean loop, the NAPI
core) charges the cost and hands completed packets to `gro_normal_one`.
"""

from __future__ import annotations

GRO_HASH_BUCKETS = 8
MAX_GRO_SKBS = 8
GRO_MAX_SIZE = 65536         # GRO_LEGACY_MAX_SIZE, dev->gro_max_size's default
UDP_GRO_CNT_MAX = 64         # udp_offload.c: bounds truesize under a small-packet flood

NORMAL, TCP, UDP_GRO = 0, 1, 2


class GroFlow:
    """What GRO does with one flow's packets (fixed for the run)."""

    __slots__ = ("kind", "bucket", "hdr", "payload", "lookup")

    def __init__(self, kind: int, nic_hash: int, hdr: int, payload: int,
                 lookup: bool) -> None:
        self.kind = kind
        self.bucket = nic_hash & (GRO_HASH_BUCKETS - 1)   # skb_get_hash_raw(skb) & 7
        self.hdr = hdr            # IP + L4 header bytes: NAPI_GRO_CB's p->len starts there
        self.payload = payload    # L4 payload bytes of each segment
        self.lookup = lookup      # udp4_gro_receive looks up a socket (udp_encap_needed_key)


class Held:
    __slots__ = ("skb", "age", "glen")

    def __init__(self, skb, age: int, glen: int) -> None:
        self.skb = skb
        self.age = age            # NAPI_GRO_CB(skb)->age: jiffies when first held
        self.glen = glen          # p->len as skb_gro_receive sees it (from the IP header)


class GroList:
    """napi->gro_hash: the held packets of one NAPI, and what passed through it."""

    __slots__ = ("buckets", "mask", "evict", "held_segs", "wire", "merged", "held",
                 "super_skbs", "to_stack")

    def __init__(self, buckets: int = GRO_HASH_BUCKETS, evict_oldest: bool = True) -> None:
        self.buckets: list[list[Held]] = [[] for _ in range(buckets)]
        self.mask = buckets - 1
        self.evict = evict_oldest     # gro_flush_oldest (4.x+), else the packet goes up
        self.held_segs = 0        # wire packets inside held packets
        self.wire = 0             # packets napi_gro_receive was given
        self.merged = 0           # … that were merged into a held packet
        self.held = 0             # … that were held as a new packet
        self.super_skbs = 0       # completed packets of more than one segment
        self.to_stack = 0         # skbs handed to gro_normal_one

    def receive(self, skb, fl: GroFlow, jiffies: int) -> list:
        """dev_gro_receive for a packet of a mergeable flow. Returns the held packets it
        completed (to go to gro_normal_one in this order); the packet itself is merged or
        held, never NORMAL."""
        self.wire += 1
        b = self.buckets[fl.bucket & self.mask]
        out = []
        for p in b:
            if p.skb.flow != skb.flow:
                continue
            pskb = p.skb
            if p.glen + fl.payload >= GRO_MAX_SIZE:
                # skb_gro_receive: -E2BIG; the held packet is completed (pp = p) and this
                # one, no longer same_flow and not flagged flush, is held in its place
                b.remove(p)
                self._complete(pskb, out)
                break
            if pskb.segs is None:
                pskb.segs = []
            pskb.segs.append((skb.id, skb.t_wire, skb.t_dma, skb.t_poll))
            pskb.len += fl.payload
            pskb.truesize += skb.truesize
            p.glen += fl.payload
            self.merged += 1
            self.held_segs += 1
            if fl.kind == UDP_GRO and len(pskb.segs) + 1 >= UDP_GRO_CNT_MAX:
                b.remove(p)
                self._complete(pskb, out)
            return out
        if len(b) >= MAX_GRO_SKBS:
            if not self.evict:            # 3.x: `goto normal`, the list left as it is
                out.append(skb)
                return out
            self._complete(b.pop(0).skb, out)     # gro_flush_oldest: the list tail
        b.append(Held(skb, jiffies, fl.hdr + fl.payload))
        self.held += 1
        self.held_segs += 1
        return out

    def flush(self, jiffies: int, flush_old: bool) -> list:
        """napi_gro_flush: every bucket in bitmask order, oldest first; with `flush_old`
        a bucket stops at the first packet held in the current jiffy."""
        out = []
        for b in self.buckets:
            while b:
                if flush_old and b[0].age == jiffies:
                    break
                self._complete(b.pop(0).skb, out)
        return out

    def _complete(self, skb, out: list) -> None:
        n = skb.nsegs
        self.held_segs -= n
        if n > 1:
            self.super_skbs += 1
        out.append(skb)

    def has_held(self) -> bool:
        """napi->gro_bitmask != 0"""
        return self.held_segs > 0

    def export(self) -> dict:
        return {"wire_packets": self.wire, "merged": self.merged, "held": self.held,
                "super_skbs": self.super_skbs, "skbs_to_stack": self.to_stack,
                "held_at_end": self.held_segs}
