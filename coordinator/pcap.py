"""Packet captures of a run (`[observe] pcap`, `--pcap wire`): what tcpdump on a mirror
port of each of the host's ports would record, as nanosecond libpcap files
(observability-formats §3) that tcpdump, tshark, dpkt and scapy read.

The nic reports each captured frame as (time its last bit arrived, flow, packet id); this
module gives it real headers with dpkt, which computes the lengths and checksums: Ethernet
(no FCS, as a capture shows it), IPv4 (DF set, TTL 64; IP ID 0 as Linux's unconnected UDP
sends it, a count per segment for TCP as a connected socket's inet_id) or IPv6, then UDP,
or TCP with the timestamp option (the 32-byte header the flow's frame size assumes;
sequence numbers count the flow's payload from 1). The payload
starts with the packet's softnet id (8 bytes, big-endian) where it has room, so a frame
can be found again in another capture or in a trace; the rest is zeros. MAC addresses are
locally administered: the host's port N is 02:53:4e:00:00:0N+1, a remote sender's is
02:53:4e followed by the last three bytes of its IP address.

May import: the standard library, dpkt and this package's modules.
"""

from __future__ import annotations

import decimal
import io
import ipaddress
import json
import struct

import dpkt

SNAPLEN = 262144                  # libpcap's MAXIMUM_SNAPLEN
FCS = 4
ETH = 14
ETH_MIN = 60                      # a frame on the wire without its FCS, padded
TCP_OPTS = b"\x01\x01\x08\x0a"    # nop, nop, timestamps (kind 8, length 10)


def host_mac(port: int) -> bytes:
    return bytes([0x02, 0x53, 0x4E, 0, 0, port + 1])


def remote_mac(ip: str) -> bytes:
    return bytes([0x02, 0x53, 0x4E]) + ipaddress.ip_address(ip).packed[-3:]


class FlowFrames:
    """Frames of one received flow, as its remote sender put them on the wire."""

    def __init__(self, flow: dict, port: int) -> None:
        self.flow = flow
        self.src = ipaddress.ip_address(flow["src_ip"])
        self.dst = ipaddress.ip_address(flow["dst_ip"])
        self.v6 = self.src.version == 6
        self.tcp = flow["proto"] == "tcp"
        l3 = 40 if self.v6 else 20
        l4 = 32 if self.tcp else 8
        self.payload = max(0, flow["size"] - FCS - ETH - l3 - l4)
        self.eth_src, self.eth_dst = remote_mac(flow["src_ip"]), host_mac(port)
        self.sent = 0                 # frames so far: the TCP sequence

    def frame(self, pid: int, t_ns: int) -> bytes:
        data = (pid.to_bytes(8, "big") if self.payload >= 8 else b"")
        data += b"\0" * (self.payload - len(data))
        f = self.flow
        if self.tcp:
            l4 = dpkt.tcp.TCP(sport=f["sport"], dport=f["dport"],
                              seq=(1 + self.sent * self.payload) & 0xFFFFFFFF, ack=1,
                              flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, win=502,
                              opts=TCP_OPTS + struct.pack(">II", (t_ns // 1_000_000)
                                                          & 0xFFFFFFFF, 0),
                              data=data)
            l4.off = (20 + len(l4.opts)) // 4
            proto = dpkt.ip.IP_PROTO_TCP
        else:
            l4 = dpkt.udp.UDP(sport=f["sport"], dport=f["dport"], data=data)
            l4.ulen = len(l4)
            proto = dpkt.ip.IP_PROTO_UDP
        self.sent += 1
        if self.v6:
            ip = dpkt.ip6.IP6(src=self.src.packed, dst=self.dst.packed, nxt=proto, hlim=64,
                              data=l4)
            ip.plen = len(l4)
            etype = dpkt.ethernet.ETH_TYPE_IP6
        else:
            # a connected socket numbers its packets (inet_id, advanced per segment);
            # an unconnected UDP sender with DF sends id 0
            ip = dpkt.ip.IP(src=self.src.packed, dst=self.dst.packed, p=proto, ttl=64, df=1,
                            id=(self.sent - 1) & 0xFFFF if self.tcp else 0, data=l4)
            ip.len = len(ip)
            etype = dpkt.ethernet.ETH_TYPE_IP
        out = bytes(dpkt.ethernet.Ethernet(src=self.eth_src, dst=self.eth_dst, type=etype,
                                           data=ip))
        return out + b"\0" * (ETH_MIN - len(out)) if len(out) < ETH_MIN else out


def pcap_bytes(records: list[tuple[int, bytes]]) -> bytes:
    """A nanosecond pcap (magic a1b23c4d) of (time ns, frame) in time order."""
    buf = io.BytesIO()
    w = dpkt.pcap.Writer(buf, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB, nano=True)
    for t, frame in records:
        w.writepkt(frame, ts=decimal.Decimal(t) / decimal.Decimal(1_000_000_000))
    return buf.getvalue()


def pcap_files(r: dict, results: dict) -> dict[str, bytes | str]:
    """{path in the run directory: content}; empty when no capture was asked for."""
    o = r["observe"]
    if "wire" not in o["pcap"]:
        return {}
    nic = results["nic"]
    ports = r["nic"].get("port_names", [r["nic"]["ifname"]])
    frames = {}
    index = {"count_limit": o["pcap_count"],
             "flows": o["pcap_flows"] or [f["name"] for f in r["flows"]], "files": {}}
    for pt, captured in enumerate(nic["capture_rx"]):
        makers = {i: FlowFrames(f, pt) for i, f in enumerate(r["flows"])
                  if f.get("port", 0) == pt}
        records = [(t, makers[flow].frame(pid, t)) for t, flow, pid in captured]
        name = f"pcap/{ports[pt]}-wire.pcap"
        frames[name] = pcap_bytes(records)
        index["files"][name] = {"tap": "wire", "port": ports[pt], "direction": "in",
                                "frames": len(records),
                                "cut_at_count_limit": nic["capture_cut"][pt]}
    frames["pcap/captures.json"] = json.dumps(index, indent=1) + "\n"
    return frames
