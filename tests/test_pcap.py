"""Packet captures (`[observe] pcap`, `--pcap wire`): nanosecond pcap files that a
well-kept library (dpkt) and, where installed, tcpdump read back with the right frames,
lengths, checksums and times."""

import json
import shutil
import struct
import subprocess

import dpkt
import pytest

from helpers import pcap_ip_frames, pcap_records, refused, snmp, softnet, summary

from softnet.coordinator.cli import main
from softnet.coordinator.config import load_file

def _run(out, *extra):
    """The built-in default experiment: four UDP flows, one with no listener."""
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet",
                 "--duration", "2ms", *extra]) == 0


def _inet_sum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    d = tmp_path_factory.mktemp("pcap")
    _run(d / "w", "--pcap", "wire")
    _run(d / "plain")
    return d


def test_every_offered_frame_is_captured_with_real_headers(wire):
    run = wire / "w"
    s = summary(run)
    pkts = pcap_records(run / "pcap" / "eth0-wire.pcap")
    assert len(pkts) == s["offered"]
    flows = {(f["src"], f["dst"]): f for f in load_file(None)["flows"]}
    seen = {}
    last = -1
    ids = set()
    for ts, buf in pkts:
        assert ts >= last
        last = ts
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        assert isinstance(ip, dpkt.ip.IP) and ip.ttl == 64 and ip.df
        assert _inet_sum(bytes(ip)[:20]) == 0xFFFF                 # IP header checksum
        udp = ip.data
        assert _udp_ok(ip)                                         # UDP checksum
        assert udp.ulen == len(bytes(udp)) == ip.len - 20
        key = (f"{'.'.join(map(str, ip.src))}:{udp.sport}",
               f"{'.'.join(map(str, ip.dst))}:{udp.dport}")
        f = flows[key]
        assert len(buf) == max(60, f["size"] - 4)                  # the frame, no FCS
        seen[f["name"]] = seen.get(f["name"], 0) + 1
        ids.add(int.from_bytes(udp.data[:8], "big"))
    assert len(ids) == len(pkts)                                   # ids are the packets'
    assert seen == {f["name"]: f["offered"] for f in s["flows"] if f["offered"]}


def test_timestamps_are_the_wire_arrival_in_ns(wire):
    pkts = pcap_records(wire / "w" / "pcap" / "eth0-wire.pcap")
    first = pkts[0][0]
    assert first == first.quantize(dpkt.pcap.Decimal("1E-9"))     # exact nanoseconds
    assert 0 < first < dpkt.pcap.Decimal("0.002")


def test_capture_changes_nothing_else(wire):
    for f in ("summary.json", "proc/net/softnet_stat", "ethtool_S.txt", "proc/stat"):
        assert (wire / "w" / f).read_bytes() == (wire / "plain" / f).read_bytes(), f
    assert not (wire / "plain" / "pcap").exists()


def test_filters_and_count(tmp_path):
    _run(tmp_path / "f", "--pcap", "wire", "--set", 'observe.pcap_flows=["bursty"]',
         "--set", "observe.pcap_count=7")
    pkts = pcap_records(tmp_path / "f" / "pcap" / "eth0-wire.pcap")
    assert len(pkts) == 7
    bursty = next(f for f in load_file(None)["flows"] if f["name"] == "bursty")
    for _, buf in pkts:
        assert dpkt.ethernet.Ethernet(buf).data.data.dport == int(bursty["dst"].split(":")[1])
    idx = (tmp_path / "f" / "pcap" / "captures.json").read_text()
    assert '"cut_at_count_limit": true' in idx
    # exactly as many frames as the cap: nothing was cut
    n = summary(tmp_path / "f")["flows"][2]["offered"]
    _run(tmp_path / "g", "--pcap", "wire", "--set", 'observe.pcap_flows=["bursty"]',
         "--set", f"observe.pcap_count={n}")
    assert len(pcap_records(tmp_path / "g" / "pcap" / "eth0-wire.pcap")) == n
    assert '"cut_at_count_limit": false' in \
        (tmp_path / "g" / "pcap" / "captures.json").read_text()


def test_identical_in_both_modes(wire, tmp_path):
    r = softnet("run", "--mode", "process", "--out", str(tmp_path / "p"), "--quiet",
                "--duration", "2ms", "--pcap", "wire")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p/pcap/eth0-wire.pcap").read_bytes() == \
        (wire / "w/pcap/eth0-wire.pcap").read_bytes()


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_tcpdump_reads_it(wire):
    path = wire / "w" / "pcap" / "eth0-wire.pcap"
    out = subprocess.run(["tcpdump", "-nn", "-r", str(path), "--time-stamp-precision=nano",
                          "-tt", "-v"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if " > " in l]
    assert len(lines) == summary(wire / "w")["offered"]
    assert "bad udp cksum" not in out.stdout and "bad cksum" not in out.stdout


@pytest.mark.parametrize("sets, says", [
    (['observe.pcap=["host2"]'], "list of taps from: wire"),
    (['observe.pcap="wire"', 'observe.pcap_flows=["nope"]'], "a flow of this experiment"),
    (['observe.pcap_count=5'], "need a tap"),
    (['observe.pcap="wire"', "observe.pcap_count=0"], "observe.pcap_count"),
])
def test_bad_capture_settings_are_refused(sets, says):
    assert says in refused(*sets)


def _udp_ok(ip) -> bool:
    udp = bytes(ip.data) if not isinstance(ip.data, bytes) else ip.data
    pseudo = ip.src + ip.dst + struct.pack(">BBH", 0, 17, len(udp))
    return _inet_sum(pseudo + udp) == 0xFFFF


def _capture(out, file, *extra):
    from helpers import ROOT
    assert main(["run", f"{ROOT}/examples/{file}" if not str(file).startswith("/") else
                 str(file), "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "2ms", "--pcap", "wire", *extra]) == 0
    return pcap_ip_frames(out / "pcap" / "eth0-wire.pcap")


def test_a_router_s_wire_shows_both_directions(tmp_path):
    frames = _capture(tmp_path / "r", "router.toml")
    s = summary(tmp_path / "r")
    host = bytes([0x02, 0x53, 0x4E, 0, 0, 1])
    inbound = [e for e in frames if e.dst == host]
    outbound = [e for e in frames if e.src == host]
    assert len(inbound) == s["offered"] and len(outbound) == s["forwarded"] > 0
    ids_in = {e.data.data.data[:8] for e in inbound}
    for e in outbound:
        assert e.data.ttl == 63                                  # one hop later
        assert _inet_sum(bytes(e.data)[:20]) == 0xFFFF and _udp_ok(e.data)
        assert e.data.data.data[:8] in ids_in                    # the packet that came in


def test_senders_datagrams_segments_and_fragments(tmp_path):
    frames = _capture(tmp_path / "g", "udp_gso.toml")
    s = summary(tmp_path / "g")
    assert len(frames) == s["on_wire_frames"] > 0
    assert all(_udp_ok(e.data) and e.data.df for e in frames)    # each segment a datagram
    big = tmp_path / "frag.toml"
    big.write_text('duration = "1ms"\ncpus = 1\n[nic]\ncombined = 1\n[[apps]]\nname = "big"\n'
                   'cpu = 0\nsocket = { proto = "udp" }\n'
                   'send = { dst = "10.2.0.9:7001", rate = "20kpps", payload = 4000 }\n')
    frames = _capture(tmp_path / "f", big)
    s = summary(tmp_path / "f")
    sends: dict = {}
    for e in frames:
        ip = e.data
        assert _inet_sum(bytes(ip)[:20]) == 0xFFFF and not ip.df
        sends.setdefault(ip.id, []).append(ip)
    whole = [ps for ps in sends.values() if not ps[-1].mf]      # the last fragment left
    assert len(whole) == s["on_wire"] > 0
    for ps in whole:
        assert [p.offset * 8 for p in ps] == [0, 1480, 2960]
        body = b"".join(bytes(p)[20:] for p in ps)
        assert len(body) == 4008                                 # UDP header + payload
        first = ps[0]
        pseudo = first.src + first.dst + struct.pack(">BBH", 0, 17, len(body))
        assert _inet_sum(pseudo + body) == 0xFFFF                # over the whole datagram


def _host(out, file, *extra):
    from helpers import ROOT
    assert main(["run", f"{ROOT}/examples/{file}", "--mode", "inline", "--out", str(out),
                 "--quiet", "--duration", "1ms", "--pcap", "host", *extra]) == 0
    assert not (out / "pcap" / "eth0-wire.pcap").exists()      # only the tap asked for
    return pcap_ip_frames(out / "pcap" / "eth0-host.pcap")


def _partial_ok(ip) -> bool:
    """CHECKSUM_PARTIAL: the field holds the pseudo header's folded sum."""
    l4 = bytes(ip.data)
    pseudo = ip.src + ip.dst + struct.pack(">BBH", 0, ip.p, len(l4))
    return ip.data.sum == _inet_sum(pseudo)


def test_the_host_sees_gro_super_packets(tmp_path):
    frames = _host(tmp_path / "g", "gro.toml")
    s = summary(tmp_path / "g")
    assert len(frames) == s["gro"]["skbs_to_stack"]
    tcp = [e.data for e in frames if e.data.p == 6]
    assert any(len(ip.data.data) > 1448 for ip in tcp)         # merged: past the MSS
    seq = 1
    for ip in tcp:                                              # the flow's bytes, in order
        assert ip.data.seq == seq and ip.len == 20 + 32 + len(ip.data.data)
        seq += len(ip.data.data)


def test_the_host_sees_a_gso_skb_whole_and_leaves_checksums_to_the_device(tmp_path):
    frames = _host(tmp_path / "d", "udp_gso.toml", "--set", "nic.tx_udp_segmentation=true")
    s = summary(tmp_path / "d")
    assert len(frames) == s["sent"] > 0                         # one record per GSO skb
    for e in frames:
        assert e.data.len > 1500 and _partial_ok(e.data)
    frames = _host(tmp_path / "s", "udp_gso.toml")              # segmented in software
    assert len(frames) > s["sent"]
    assert all(e.data.len <= 1500 and _partial_ok(e.data) for e in frames)


def test_a_router_host_tap_both_ways_in_both_modes(tmp_path):
    frames = _host(tmp_path / "r", "router.toml")
    host = bytes([0x02, 0x53, 0x4E, 0, 0, 1])
    ip = snmp(tmp_path / "r", "Ip")
    # every skb __netif_receive_skb_core took (ip_rcv counts InReceives there)
    assert len([e for e in frames if e.dst == host]) == ip["InReceives"] > 0
    out = [e for e in frames if e.src == host]
    assert out and all(e.data.ttl == 63 and _udp_ok(e.data) for e in out)
    r = softnet("run", "examples/router.toml", "--mode", "process", "--out",
                str(tmp_path / "p"), "--quiet", "--duration", "1ms", "--pcap", "host")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p/pcap/eth0-host.pcap").read_bytes() == \
        (tmp_path / "r/pcap/eth0-host.pcap").read_bytes()


def test_the_host_tap_keeps_to_its_cap(tmp_path):
    frames = _host(tmp_path / "c", "router.toml", "--set", "observe.pcap_count=5")
    # at most 5 records each way on each CPU that forwards (two of them here)
    assert 0 < len(frames) <= 5 * 2 * 4
    idx = json.loads((tmp_path / "c" / "pcap" / "captures.json").read_text())
    assert idx["files"]["pcap/eth0-host.pcap"]["cut_at_count_limit"] is True


def test_the_kernel_s_arp_exchange(tmp_path):
    """A neighbour not in host.neigh is resolved first: the request leaves broadcast
    (padded to 60 bytes on the wire, 42 as the host's tap sees it before the device pads
    it), the reply comes back addressed to the port, and the first datagram follows."""
    from helpers import ROOT
    out = tmp_path / "a"
    assert main(["run", f"{ROOT}/examples/sender.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "1ms", "--pcap", "wire,host"]) == 0
    host = bytes([0x02, 0x53, 0x4E, 0, 0, 1])
    for tap, req_len in (("wire", 60), ("host", 42)):
        got = [(ts, dpkt.ethernet.Ethernet(buf), len(buf))
               for ts, buf in pcap_records(out / "pcap" / f"eth0-{tap}.pcap")]
        arp = [(ts, e, n) for ts, e, n in got if e.type == dpkt.ethernet.ETH_TYPE_ARP]
        assert len(arp) == 2 == 2 * summary(out)["arp_requests_on_wire"], tap
        (t_req, req, n_req), (t_rep, rep, n_rep) = arp
        assert req.dst == b"\xff" * 6 and req.src == host and n_req == req_len
        assert req.data.op == dpkt.arp.ARP_OP_REQUEST and req.data.sha == host
        assert req.data.tpa == bytes([10, 0, 0, 9]) and req.data.spa == bytes([10, 0, 0, 1])
        assert rep.dst == host and rep.data.op == dpkt.arp.ARP_OP_REPLY and n_rep == 60
        assert rep.data.spa == req.data.tpa and rep.data.tpa == req.data.spa
        assert rep.data.tha == host and rep.src == rep.data.sha
        first_ip = min(ts for ts, e, _ in got if e.type == dpkt.ethernet.ETH_TYPE_IP)
        assert t_req < t_rep < first_ip, tap
    # a forwarded flow's next hop is resolved too; a filter names flows: no ARP then
    for name, sets, arps in (("u", [], 4),
                             ("f", ["--set", 'observe.pcap_flows=["transit"]'], 0)):
        assert main(["run", f"{ROOT}/examples/router.toml", "--mode", "inline", "--out",
                     str(tmp_path / name), "--quiet", "--duration", "1ms", "--pcap", "wire",
                     *sets]) == 0
        frames = pcap_records(tmp_path / name / "pcap" / "eth0-wire.pcap")
        assert arps == len([1 for _, buf in frames if dpkt.ethernet.Ethernet(buf).type ==
                            dpkt.ethernet.ETH_TYPE_ARP])
