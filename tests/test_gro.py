"""GRO (kernel-spec §6): buckets, MAX_GRO_SKBS, the size and count limits, flush points,
TCP bulk streams, UDP_GRO sockets, and `gro = false`."""

import os

import pytest

from softnet.cpus.gro import GRO_MAX_SIZE, MAX_GRO_SKBS, TCP, UDP_GRO, GroFlow, GroList
from softnet.engine.skb import SkBuff
from helpers import ROOT, assert_refused, balanced, run_both_modes, run_inline

GRO = os.path.join(ROOT, "examples", "gro.toml")


def seg(i, flow=0, t=0):
    return SkBuff(i, flow, 1514, 2304, 0, t, t, t_poll=t)


def tcp_flow(nic_hash=0):
    return GroFlow(TCP, nic_hash, 52, 1448, False)


def test_tcp_segments_merge_until_64k_then_the_held_packet_completes():
    g, fl = GroList(), tcp_flow()
    done = []
    for i in range(46):
        done += g.receive(seg(i), fl, 0)
    # 52 + 45 * 1448 = 65212; one more segment would reach 66660 >= GRO_MAX_SIZE
    assert 52 + 45 * 1448 < GRO_MAX_SIZE <= 52 + 46 * 1448
    assert len(done) == 1 and done[0].nsegs == 45
    assert [s[0] for s in done[0].segs] == list(range(1, 45))
    assert done[0].len == 1514 + 44 * 1448 and done[0].truesize == 45 * 2304
    assert g.merged == 44 and g.held == 2 and g.held_segs == 1 and g.super_skbs == 1


def test_a_full_bucket_completes_its_oldest_packet():
    g = GroList()
    fl = [tcp_flow(nic_hash=8 * k + 3) for k in range(MAX_GRO_SKBS + 1)]   # all bucket 3
    done = []
    for k in range(MAX_GRO_SKBS + 1):
        done += g.receive(seg(k, flow=k), fl[k], 0)
    assert [s.flow for s in done] == [0]
    assert len(g.buckets[3]) == MAX_GRO_SKBS
    # other buckets are independent
    g.receive(seg(99, flow=20), tcp_flow(nic_hash=4), 0)
    assert len(g.buckets[4]) == 1


def test_flush_old_keeps_what_was_held_this_jiffy():
    g = GroList()
    g.receive(seg(0, flow=0), tcp_flow(0), 5)       # held at jiffy 5
    g.receive(seg(1, flow=1), tcp_flow(8), 6)       # same bucket, held at jiffy 6
    assert [s.flow for s in g.flush(6, True)] == [0]
    assert g.held_segs == 1
    assert [s.flow for s in g.flush(6, False)] == [1]
    assert not g.has_held()


def test_udp_gro_caps_at_64_segments():
    g = GroList()
    fl = GroFlow(UDP_GRO, 0, 28, 18, True)          # 64-byte datagrams: size never binds
    done = []
    for i in range(64):
        done += g.receive(seg(i), fl, 0)
    assert len(done) == 1 and done[0].nsegs == 64 and not g.has_held()


def tcp_run(tmp_path, name, *sets):
    return run_inline(tmp_path / name, *sets, file=GRO)


def softirq_ns(s):
    return sum(t["softirq"] for t in s["cpu_time_ns"].values())


def test_gro_merges_a_tcp_stream_and_costs_less_cpu_per_byte(tmp_path):
    on = tcp_run(tmp_path, "on")
    off = tcp_run(tmp_path, "off", "nic.gro=false")
    for s in (on, off):
        assert balanced(s)
        bulk = s["flows"][0]
        assert bulk["proto"] == "tcp" and bulk["reordered"] == 0 and bulk["dropped"] == 0
        assert bulk["delivered"] > 950           # 988 segments in 20 ms at 600 Mbit/s
    g = on["gro"]
    assert g["enabled"] and g["merged"] > 0 and g["super_skbs"] > 0
    assert 0.95 * on["offered"] < g["wire_packets"] <= on["offered"]
    assert g["skbs_to_stack"] < g["wire_packets"] // 5
    assert off["gro"] == {"enabled": False, "wire_packets": 0, "merged": 0, "held": 0,
                          "super_skbs": 0, "skbs_to_stack": 0, "held_at_end": 0}
    # protocol processing is paid per skb: far less softirq time for the same bytes
    per_seg_on = softirq_ns(on) / on["delivered"]
    per_seg_off = softirq_ns(off) / off["delivered"]
    assert per_seg_on < 0.6 * per_seg_off


def test_tcp_counters_and_socket(tmp_path):
    s = tcp_run(tmp_path, "c")
    snmp = (tmp_path / "c" / "proc/net/snmp").read_text().splitlines()
    tcp = dict(zip(snmp[4].split()[1:], snmp[5].split()[1:]))
    assert tcp["CurrEstab"] == "1" and tcp["MaxConn"] == "-1"
    # one InSegs per skb the stack saw: far fewer than the segments on the wire
    assert 0 < int(tcp["InSegs"]) < s["flows"][0]["delivered"] // 5
    assert s["sockets"]["iperf"]["proto"] == "tcp"
    assert s["sockets"]["iperf"]["incoming_cpu"] == 0
    udp = (tmp_path / "c" / "proc/net/udp").read_text().splitlines()[1:]
    # one line, the UDP socket on 4433 (0x1151); the TCP connection on 5001 is not UDP
    assert len(udp) == 1 and udp[0].split()[1].endswith(":1151")


def test_udp_gro_socket_reads_super_datagrams(tmp_path):
    s = tcp_run(tmp_path, "u")
    quic = s["flows"][1]
    assert quic["delivered"] > 0 and quic["reordered"] == 0
    snmp = (tmp_path / "u" / "proc/net/snmp").read_text().splitlines()
    udp = dict(zip(snmp[6].split()[1:], snmp[7].split()[1:]))
    # InDatagrams counts what recvmsg returned: super-datagrams, fewer than wire packets
    assert 0 < int(udp["InDatagrams"]) < quic["delivered"]


def test_plain_udp_is_never_merged(tmp_path):
    s = run_inline(tmp_path / "b")
    assert s["gro"]["merged"] == 0 and s["gro"]["super_skbs"] == 0
    assert s["gro"]["skbs_to_stack"] == s["gro"]["wire_packets"] > 0


def test_tcp_receive_buffer_overrun_drops_as_rcvq_drop(tmp_path):
    s = tcp_run(tmp_path, "slow", "apps.0.cost_per_read=2ms")
    assert balanced(s)
    assert s["drops"].get("tcp_rcvq_drop", 0) > 0
    assert "TCPRcvQDrop" in s["drop_counters"]["tcp_rcvq_drop"]


def test_second_tcp_flow_without_a_reader_is_dropped_with_a_note(tmp_path):
    s = tcp_run(tmp_path, "two", "flows.1.proto=tcp", "flows.1.dst=10.0.0.1:5001",
                "flows.1.size=1518")
    second = s["flows"][1]
    assert second["delivered"] == 0 and second["dropped"] > 0
    assert s["drops"]["tcp_no_socket"] == second["dropped"]
    assert any("tcp_no_socket" in n for n in s["notes"])


def test_gro_both_modes_identical(tmp_path):
    run_both_modes(tmp_path, file=GRO)


@pytest.mark.parametrize("sets,msg", [
    (["flows.0.size=70"], "flows[0].size"),
    (["nic.gro=1"], "nic.gro"),
    (["apps.1.socket.udp_gro=\"yes\""], "udp_gro"),
    (["apps.1.read_size=4096"], "read_size"),
    (["apps.0.socket.reuseport=true"], "reuseport"),
    (['sysctl."net.ipv4.tcp_rmem"="4096 1 2"'], "tcp_rmem"),
])
def test_bad_gro_and_tcp_keys_are_refused(tmp_path, sets, msg):
    assert_refused(tmp_path, GRO, sets, msg)
