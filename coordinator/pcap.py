"""Packet captures of a run (`[observe] pcap`, `--pcap wire`): what tcpdump on a mirror
port of each of the host's ports would record, both ways, as nanosecond libpcap files
(observability-formats §3) that tcpdump, tshark, dpkt and scapy read.

The nic reports each captured frame as (time its last bit arrived, flow, packet id) or, for
one that left, (time, forwarded, a sender's or an ARP request, flow, sender or neighbour,
id, piece, length), and the neighbours' ARP replies as (arrival, neighbour); this module
gives it real headers with dpkt, which computes the lengths and checksums: Ethernet
(no FCS, as a capture shows it), IPv4 (DF set, TTL 64; IP ID 0 as Linux's unconnected UDP
sends it, a count per segment for TCP as a connected socket's inet_id) or IPv6, then UDP,
or TCP with the timestamp option (the 32-byte header the flow's frame size assumes;
sequence numbers count the flow's payload from 1). The payload
starts with the packet's softnet id (8 bytes, big-endian) where it has room, so a frame
can be found again in another capture or in a trace; the rest is zeros. MAC addresses are
locally administered: the host's port N is 02:53:4e:00:00:0N+1, a remote sender's is
02:53:4e followed by the last three bytes of its IP address.

May import: the standard library, dpkt, this package's modules, and the frame rules of
the transmit path it draws (`cpus.tx`, `nic.tx`, `engine.skb`).
"""

from __future__ import annotations

import decimal
import io
import ipaddress
import json
import struct

import dpkt

from softnet.cpus.tx import ETH_HLEN, gso_segments, ip_fragments
from softnet.engine.skb import TX_ARP, TX_FORWARDED, TX_RESPONSE
from softnet.nic.tx import FCS, MIN_FRAME

SNAPLEN = 262144                  # libpcap's MAXIMUM_SNAPLEN
ETH = ETH_HLEN
ETH_MIN = MIN_FRAME - FCS         # a frame on the wire without its FCS, padded
TCP_OPTS = b"\x01\x01\x08\x0a"    # nop, nop, timestamps (kind 8, length 10)


def host_mac(port: int) -> bytes:
    return bytes([0x02, 0x53, 0x4E, 0, 0, port + 1])


def remote_mac(ip: str) -> bytes:
    return bytes([0x02, 0x53, 0x4E]) + ipaddress.ip_address(ip).packed[-3:]


def _ip(src, dst, proto: int, ttl: int, data, ident: int = 0, df: bool = True,
        mf: bool = False, offset: int = 0):
    if src.version == 6:
        ip = dpkt.ip6.IP6(src=src.packed, dst=dst.packed, nxt=proto, hlim=ttl, data=data)
        ip.plen = len(data)
        return ip, dpkt.ethernet.ETH_TYPE_IP6
    ip = dpkt.ip.IP(src=src.packed, dst=dst.packed, p=proto, ttl=ttl, df=int(df),
                    mf=int(mf), offset=offset, id=ident & 0xFFFF, data=data)
    ip.len = len(ip)
    return ip, dpkt.ethernet.ETH_TYPE_IP


def _partial(src, dst, proto: int, l4_len: int) -> int:
    """What a CHECKSUM_PARTIAL skb carries in its checksum field before the device fills
    it in: the pseudo header's sum, folded, not complemented (~csum_tcpudp_magic(…, 0))."""
    if src.version == 6:
        pseudo = src.packed + dst.packed + struct.pack(">I3xB", l4_len, proto)
    else:
        pseudo = src.packed + dst.packed + struct.pack(">BBH", 0, proto, l4_len)
    return ~dpkt.in_cksum_done(dpkt.in_cksum_add(0, pseudo)) & 0xFFFF


def _udp(sport: int, dport: int, data: bytes, partial_of: tuple | None = None):
    """A UDP header over `data`; `partial_of` (source, destination address): with the
    checksum a CHECKSUM_PARTIAL skb carries (else none: dpkt fills it in)."""
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    udp.ulen = len(udp)
    if partial_of is not None:
        udp.sum = _partial(*partial_of, dpkt.ip.IP_PROTO_UDP, len(udp))
    return udp


def _host_udp_frame(src, dst, udp, ident: int, eth_src: bytes, eth_dst: bytes) -> bytes:
    """A datagram the host sends (TTL 64), whole in one frame."""
    ip, etype = _ip(src, dst, dpkt.ip.IP_PROTO_UDP, 64, udp, ident)
    return _ether(eth_src, eth_dst, etype, ip)


def _ether(src: bytes, dst: bytes, etype: int, ip, pad: bool = True) -> bytes:
    """`pad`: to the 60 bytes a frame has on the wire (the device pads; a host's tap
    before it sees the skb as it is)."""
    out = bytes(dpkt.ethernet.Ethernet(src=src, dst=dst, type=etype, data=ip))
    return out + b"\0" * (ETH_MIN - len(out)) if pad and len(out) < ETH_MIN else out


def _payload(pid: int, n: int) -> bytes:
    head = pid.to_bytes(8, "big") if n >= 8 else b""
    return head + b"\0" * (n - len(head))


class FlowFrames:
    """Frames of one received flow, as its remote sender put them on the wire (and as the
    host forwards them: TTL one less, its own port's MAC as the source)."""

    def __init__(self, flow: dict) -> None:
        self.flow = flow
        self.src = ipaddress.ip_address(flow["src_ip"])
        self.dst = ipaddress.ip_address(flow["dst_ip"])
        self.tcp = flow["proto"] == "tcp"
        self.l3 = 40 if self.src.version == 6 else 20
        l4 = 32 if self.tcp else 8
        # a udp_rr request carries its own payload, padded on the wire to the minimum
        self.payload = flow["rr"]["request"] if "rr" in flow else \
            max(0, flow["size"] - FCS - ETH - self.l3 - l4)

    def frame(self, pid: int, index: int, t_sent: int, ttl: int, eth_src: bytes,
              eth_dst: bytes, segs: int = 1, csum: str = "valid") -> bytes:
        """The flow's `index`-th frame (its TCP sequence and IP ID follow from it; the
        TCP timestamp from `t_sent`, when it reached the host's wire). `segs` > 1: a GRO
        super-packet of that many segments (`csum` "first": the first segment's checksum
        kept, as GRO leaves it) or a TSO one about to be cut ("partial": the pseudo
        header's sum only, CHECKSUM_PARTIAL)."""
        f = self.flow
        data = _payload(pid, self.payload * segs)
        if self.tcp:
            l4 = dpkt.tcp.TCP(sport=f["sport"], dport=f["dport"],
                              seq=(1 + index * self.payload) & 0xFFFFFFFF, ack=1,
                              flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, win=502,
                              opts=TCP_OPTS + struct.pack(">II", (t_sent // 1_000_000)
                                                          & 0xFFFFFFFF, 0),
                              data=data)
            l4.off = (20 + len(l4.opts)) // 4
            proto = dpkt.ip.IP_PROTO_TCP
        else:
            l4 = _udp(f["sport"], f["dport"], data)
            proto = dpkt.ip.IP_PROTO_UDP
        if segs > 1 and csum == "first":
            first = self.frame(pid, index, t_sent, ttl, eth_src, eth_dst)
            l4.sum = struct.unpack(">H", first[ETH + self.l3 + (16 if self.tcp else 6):]
                                   [:2])[0]
        elif csum == "partial":
            l4.sum = _partial(self.src, self.dst, proto, len(l4))
        # a connected socket numbers its packets (inet_id, advanced per segment); an
        # unconnected UDP sender with DF sends id 0
        ip, etype = _ip(self.src, self.dst, proto, ttl, l4, index if self.tcp else 0)
        return _ether(eth_src, eth_dst, etype, ip)


def rr_response(flow: dict, pid: int, eth_src: bytes, eth_dst: bytes,
                partial: bool = False) -> bytes:
    """A udp_rr server's response to a request of `flow`: back from the flow's
    destination to its source, the flow's response payload (`partial`: before the device
    fills in the checksum, as the host's tap sees it)."""
    src, dst = ipaddress.ip_address(flow["dst_ip"]), ipaddress.ip_address(flow["src_ip"])
    udp = _udp(flow["dport"], flow["sport"], _payload(pid, flow["rr"]["response"]),
               (src, dst) if partial else None)
    return _host_udp_frame(src, dst, udp, 0, eth_src, eth_dst)


class SenderFrames:
    """Frames of one of the host's senders: a datagram, its UDP GSO segments (each a
    datagram of its own) or its IP fragments (the UDP header and checksum, over the whole
    datagram, in the first)."""

    def __init__(self, app: dict) -> None:
        self.app = app
        self.src = ipaddress.ip_address(app["src_ip"])
        self.dst = ipaddress.ip_address(app["dst_ip"])
        self.gso = app["gso_size"] if app["gso_size"] and app["payload"] > app["gso_size"] \
            else 0
        self.frags = ip_fragments(app["payload"]) if not self.gso else [app["payload"] + 8]
        self.connected = app["connected"]

    def host_frame(self, pid: int, piece: int, segs: int, eth_src: bytes,
                   eth_dst: bytes) -> bytes:
        """The skb at dev_queue_xmit_nit: a UDP GSO skb whole, a datagram with its
        checksum left to the device (CHECKSUM_PARTIAL), a fragment as it will leave."""
        a = self.app
        if len(self.frags) > 1 and not self.gso:
            return self.frame(pid, piece, eth_src, eth_dst)
        if self.gso and segs == 1:          # a segment validate_xmit_skb cut in software
            return self.frame(pid, piece, eth_src, eth_dst, partial=True)
        send = pid - piece if self.gso else pid
        udp = _udp(a["sport"], a["dport"], _payload(send, a["payload"]), (self.src, self.dst))
        return _host_udp_frame(self.src, self.dst, udp, send if self.connected else 0,
                               eth_src, eth_dst)

    def frame(self, pid: int, piece: int, eth_src: bytes, eth_dst: bytes,
              partial: bool = False) -> bytes:
        """A frame as it leaves (`partial`: a GSO segment before the device has filled
        in its checksum)."""
        a = self.app
        send = pid - piece if len(self.frags) > 1 or self.gso else pid   # the send's id
        if self.gso:
            sizes = gso_segments(a["payload"], self.gso)
            udp = _udp(a["sport"], a["dport"], _payload(send, sizes[piece]),
                       (self.src, self.dst) if partial else None)
            return _host_udp_frame(self.src, self.dst, udp,
                                   (send + piece) if self.connected else 0, eth_src, eth_dst)
        udp = _udp(a["sport"], a["dport"], _payload(send, a["payload"]))
        if len(self.frags) == 1:
            return _host_udp_frame(self.src, self.dst, udp, send if self.connected else 0,
                                   eth_src, eth_dst)
        # the whole datagram once, for its checksum; then its bytes cut into fragments
        whole, _ = _ip(self.src, self.dst, dpkt.ip.IP_PROTO_UDP, 64, udp, df=False)
        body = bytes(whole)[20:]
        start = sum(self.frags[:piece])
        chunk = body[start:start + self.frags[piece]]
        ip, etype = _ip(self.src, self.dst, dpkt.ip.IP_PROTO_UDP, 64, chunk, send, df=False,
                        mf=piece < len(self.frags) - 1, offset=start // 8)
        return _ether(eth_src, eth_dst, etype, ip)


class Places:
    """Where each received frame the wire recorded stands in its flow. A TCP segment's
    sequence number, IP ID and timestamp follow from its place and arrival; a UDP
    datagram needs neither, so it is drawn wherever it is."""

    def __init__(self, captured_by_port: list[list], flows: list[FlowFrames]) -> None:
        self.flows = flows
        self.place: dict[int, int] = {}           # packet id -> its index in its flow
        self.order: dict[int, list[int]] = {}     # flow -> its packet ids, in order
        self.arrived: dict[int, int] = {}
        for captured in captured_by_port:
            for t, flow, pid in captured:
                lst = self.order.setdefault(flow, [])
                self.place[pid] = len(lst)
                self.arrived[pid] = t
                lst.append(pid)

    def index(self, pid: int) -> int:
        return self.place[pid]

    def segment(self, flow: int, pid: int, piece: int, t: int):
        """(id, index in the flow, arrival) of the `piece`-th segment from packet `pid`
        on (a GRO super-packet's segments follow one another in their flow), or None when
        a TCP segment's place is beyond what the wire recorded."""
        if not self.flows[flow].tcp:
            return pid, 0, t
        first = self.place.get(pid)
        pos = None if first is None else first + piece
        if pos is None or pos >= len(self.order[flow]):
            return None
        seg = self.order[flow][pos]
        return seg, pos, self.arrived[seg]


class ArpFrames:
    """The kernel's ARP requests for the neighbours it resolves (arp_solicit: broadcast,
    the sending packet's own source address when it is the host's, else the host's first
    IPv4 address) and the neighbours' replies (sent to the port's MAC)."""

    def __init__(self, r: dict, neigh: list[str]) -> None:
        first = next((a for a in r["host"]["addresses"]
                      if ipaddress.ip_address(a).version == 4), "0.0.0.0")
        self.neigh = neigh
        self.src = {ip: next((a["src_ip"] for a in r["apps"]
                              if a.get("sender") and a["dst_ip"] == ip), first)
                    for ip in neigh}

    def _arp(self, op: int, src_mac: bytes, dst_mac: bytes, sha: bytes, spa: str,
             tha: bytes, tpa: str, pad: bool = True) -> bytes:
        arp = dpkt.arp.ARP(op=op, sha=sha, spa=ipaddress.ip_address(spa).packed, tha=tha,
                           tpa=ipaddress.ip_address(tpa).packed)
        return _ether(src_mac, dst_mac, dpkt.ethernet.ETH_TYPE_ARP, arp, pad)

    def request(self, k: int, port: int, pad: bool = True) -> bytes:
        """`pad` False: as dev_queue_xmit_nit sees it, 42 bytes, before the device pads."""
        ip = self.neigh[k]
        return self._arp(dpkt.arp.ARP_OP_REQUEST, host_mac(port), b"\xff" * 6,
                         host_mac(port), self.src[ip], b"\0" * 6, ip, pad)

    def reply(self, k: int, port: int) -> bytes:
        ip = self.neigh[k]
        return self._arp(dpkt.arp.ARP_OP_REPLY, remote_mac(ip), host_mac(port),
                         remote_mac(ip), ip, host_mac(port), self.src[ip])


def pcap_bytes(records: list[tuple[int, bytes]]) -> bytes:
    """A nanosecond pcap (magic a1b23c4d) of (time ns, frame) in time order."""
    buf = io.BytesIO()
    w = dpkt.pcap.Writer(buf, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB, nano=True)
    for t, frame in records:
        w.writepkt(frame, ts=decimal.Decimal(t) / decimal.Decimal(1_000_000_000))
    return buf.getvalue()


def pcap_files(r: dict, results: dict, neigh: list[str]) -> dict[str, bytes | str]:
    """{path in the run directory: content}; empty when no capture was asked for. The
    receive wire is recorded for either tap: a TCP segment's place in its flow gives its
    sequence number."""
    o = r["observe"]
    if not o["pcap"]:
        return {}
    nic = results["nic"]
    ports = r["nic"].get("port_names", [r["nic"]["ifname"]])
    flows = [FlowFrames(f) for f in r["flows"]]
    senders = {i: SenderFrames(a) for i, a in enumerate(r["apps"]) if a.get("sender")}
    places = Places(nic["capture_rx"], flows)
    arp = ArpFrames(r, neigh)
    arp_rx = nic.get("capture_arp_rx") or [[] for _ in ports]
    index = {"count_limit": o["pcap_count"],
             "flows": o["pcap_flows"] or [f["name"] for f in r["flows"]], "files": {}}
    files = {}
    tx_all = nic.get("capture_tx") or [[] for _ in ports]
    for pt, captured in enumerate(nic["capture_rx"] if "wire" in o["pcap"] else []):
        records = [(t, 0, flows[flow].frame(pid, places.index(pid), t, 64,
                                            remote_mac(r["flows"][flow]["src_ip"]),
                                            host_mac(pt)))
                   for t, flow, pid in captured]
        records += [(t, 0, arp.reply(k, pt)) for t, k, _ in arp_rx[pt]]
        unshown = 0
        for t, kind, who, pid, piece, length in tx_all[pt]:
            if kind == TX_FORWARDED:
                at = places.segment(who, pid, piece, t)
                if at is None:
                    unshown += 1            # its received frame is beyond the capture
                    continue
                frame = flows[who].frame(*at, 63, host_mac(pt),
                                         remote_mac(r["flows"][who]["dst_ip"]))
            elif kind == TX_ARP:
                frame = arp.request(who, pt)
            elif kind == TX_RESPONSE:
                f = r["flows"][who]
                frame = rr_response(f, pid, host_mac(pt), remote_mac(f["src_ip"]))
            else:
                frame = senders[who].frame(pid, piece, host_mac(pt),
                                           remote_mac(r["apps"][who]["dst_ip"]))
            if len(frame) != max(length, ETH_MIN):    # the headers must match the model
                raise RuntimeError(f"pcap: a frame of {len(frame)} bytes built for one the "
                                   f"nic sent as {length} (kind {kind}, {who}, id {pid})")
            records.append((t, 1, frame))
        records.sort(key=lambda x: (x[0], x[1]))
        name = f"pcap/{ports[pt]}-wire.pcap"
        files[name] = pcap_bytes([(t, fr) for t, _, fr in records])
        index["files"][name] = {
            "tap": "wire", "port": ports[pt],
            "frames_in": len(captured) + len(arp_rx[pt]),
            "frames_out": len(tx_all[pt]) - unshown,
            "cut_at_count_limit": bool(nic["capture_cut"][pt] or
                                       (nic.get("capture_tx_cut") or [False] * len(ports))[pt]),
            **({"forwarded_not_shown": unshown} if unshown else {})}
    if "host" in o["pcap"]:
        files.update(_host_files(r, results, flows, senders, places, ports, index, arp,
                                 arp_rx))
    files["pcap/captures.json"] = json.dumps(index, indent=1) + "\n"
    return files


def _host_files(r, results, flows, senders, places, ports, index, arp, arp_rx) -> dict:
    """tcpdump on the host, one file per port: incoming after GRO, outgoing before TSO."""
    nq = r["nic"]["combined"]
    per_port: dict[int, list] = {pt: [] for pt in range(len(ports))}
    unshown = [0] * len(ports)
    cut = False
    for c in range(r["cpus"]):
        tap = results[f"cpu{c}"].get("host_capture")
        if tap is None:
            continue
        cut = cut or tap["cut"]
        for t, queue, flow, pid, segs in tap["rx"]:
            pt = queue // nq
            at = places.segment(flow, pid, 0, t)
            if at is None:
                unshown[pt] += 1            # beyond the wire's record of its flow
                continue
            frame = flows[flow].frame(*at, 64, remote_mac(r["flows"][flow]["src_ip"]),
                                      host_mac(pt), segs, "first")
            per_port[pt].append((t, 0, c, frame))
        for t, queue, kind, who, pid, piece, segs in tap["tx"]:
            pt = queue // nq
            if kind == TX_ARP:              # before the device pads it
                frame = arp.request(who, pt, pad=False)
            elif kind == TX_RESPONSE:
                f = r["flows"][who]
                frame = rr_response(f, pid, host_mac(pt), remote_mac(f["src_ip"]), True)
            elif kind == TX_FORWARDED:
                at = places.segment(who, pid, 0, t)
                if at is None:
                    unshown[pt] += 1
                    continue
                frame = flows[who].frame(*at, 63, host_mac(pt),
                                         remote_mac(r["flows"][who]["dst_ip"]), segs,
                                         "partial" if segs > 1 else "valid")
            else:
                frame = senders[who].host_frame(pid, piece, segs, host_mac(pt),
                                                remote_mac(r["apps"][who]["dst_ip"]))
            per_port[pt].append((t, 1, c, frame))
    for pt, replies in enumerate(arp_rx):   # arp_rcv has it as the model's CPUs do
        per_port[pt] += [(t_host, 0, -1, arp.reply(k, pt)) for _, k, t_host in replies
                         if t_host < r["duration_ns"]]
    files = {}
    for pt, recs in per_port.items():
        recs.sort(key=lambda x: (x[0], x[1], x[2]))
        name = f"pcap/{ports[pt]}-host.pcap"
        files[name] = pcap_bytes([(t, fr) for t, _, _, fr in recs])
        index["files"][name] = {"tap": "host", "port": ports[pt], "frames": len(recs),
                                "cut_at_count_limit": cut,
                                **({"not_shown": unshown[pt]} if unshown[pt] else {})}
    return files
