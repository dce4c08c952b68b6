"""The transmit path and forwarding in whole runs (kernel-spec §10, §11; issue 4)."""

import os

import pytest

from helpers import ROOT, assert_refused, run_both_modes, run_inline, snmp, tx_balanced

SENDER = os.path.join(ROOT, "examples", "sender.toml")
ROUTER = os.path.join(ROOT, "examples", "router.toml")




def test_blocking_sender_above_line_rate_is_throttled_not_dropped(tmp_path):
    s = run_inline(tmp_path / "b", file=SENDER)
    assert tx_balanced(s) and s["tx_drops"] == {}
    snd = s["senders"]["sender"]
    # 120 kpps offered to a wire that carries 81.3 kpps of 1518-byte frames
    assert 770 <= s["on_wire"] <= 813
    assert snd["sent"] < 1200 and snd["eagain"] == 0
    # what is not on the wire waits in the qdisc, the ring or the NIC: at most the send
    # buffer's worth (SO_SNDBUF 212992 doubled, 2304 bytes of truesize per datagram)
    assert s["tx_in_flight"] <= 425984 // 2304 + 1
    assert snmp(tmp_path / "b", "Udp")["OutDatagrams"] == snd["sent"] - s["tx_in_flight_by_place"]["xmit"]


def test_non_blocking_sender_gets_eagain_counted_as_sndbuf_errors(tmp_path):
    s = run_inline(tmp_path / "n", "apps.0.socket.blocking=false", file=SENDER)
    assert tx_balanced(s)
    e = s["tx_drops"]["sndbuf_eagain"]
    assert e > 0 and s["senders"]["sender"]["eagain"] == e and s["sent"] == 1200
    assert snmp(tmp_path / "n", "Udp")["SndbufErrors"] == e


def test_qdisc_overflow_drops_count_sndbuf_errors_not_out_datagrams(tmp_path):
    s = run_inline(tmp_path / "q", "nic.txqueuelen=20", "net.core.wmem_max=8000000",
                   "apps.0.socket.sndbuf=4000000", file=SENDER)
    assert tx_balanced(s)
    d = s["tx_drops"]["qdisc_drop"]
    assert d > 0
    udp = snmp(tmp_path / "q", "Udp")
    assert udp["SndbufErrors"] == d and snmp(tmp_path / "q", "Ip")["OutDiscards"] == d
    qd = (tmp_path / "q" / "tc_qdisc.txt").read_text()
    assert f"(dropped {d}," in qd.splitlines()[1]           # the mq root's line


def test_a_small_ring_stops_and_restarts_the_queue(tmp_path):
    run_inline(tmp_path / "r", "nic.tx_ring=64", file=SENDER)
    stats = dict(l.strip().split(": ") for l in
                 (tmp_path / "r" / "ethtool_S.txt").read_text().splitlines()[1:])
    assert int(stats["tx_queue_0_restart"]) > 0
    assert int(stats["tx_queue_0_packets"]) > 700
    dev = (tmp_path / "r" / "proc/net/dev").read_text().splitlines()[-1].split()
    assert int(dev[10]) == int(stats["tx_queue_0_packets"])   # Transmit packets


def test_sender_on_another_cpu_than_its_tx_queue(tmp_path):
    s = run_inline(tmp_path / "x", "apps.0.cpu=1", file=SENDER)
    assert tx_balanced(s) and s["on_wire"] > 700
    assert s["senders"]["sender"]["tx_queue"] == 1            # XPS: CPU 1 → tx-1
    s2 = run_inline(tmp_path / "y", "apps.0.cpu=1", 'nic.xps_cpus={}', file=SENDER)
    assert tx_balanced(s2) and s2["on_wire"] > 700


def test_tx_completion_interrupts_and_softirqs_are_counted(tmp_path):
    run_inline(tmp_path / "i", file=SENDER)
    irqs = (tmp_path / "i" / "proc/interrupts").read_text()
    line = next(l for l in irqs.splitlines() if l.endswith("eth0-tx-0"))
    assert int(line.split()[1]) > 10
    soft = (tmp_path / "i" / "proc/softirqs").read_text()
    net_tx = next(l for l in soft.splitlines() if "NET_TX" in l)
    assert int(net_tx.split()[1]) > 0


def test_router_forwards_at_light_load(tmp_path):
    s = run_inline(tmp_path / "f", file=ROUTER)
    assert s["drops"] == {} and s["delivered"] == 0
    assert s["forwarded"] == s["offered"] - s["in_flight"]
    ip = snmp(tmp_path / "f", "Ip")
    assert ip["Forwarding"] == 1 and ip["ForwDatagrams"] >= s["forwarded"]
    assert all(f["forwarded"] > 2500 for f in s["flows"])


def test_router_saturates_and_drops_at_the_ring(tmp_path):
    common = ('nic.model="e810"', "nic.combined=1", "cpus=1", "flows.1.rate=1kpps")
    lo = run_inline(tmp_path / "lo", *common, "flows.0.rate=1Mpps", file=ROUTER)
    hi = run_inline(tmp_path / "hi", *common, "flows.0.rate=3Mpps", file=ROUTER)
    assert lo["drops"] == {} and lo["forwarded"] > 9900
    assert hi["drops"].get("nic_rx_queue_drop", 0) > 5000
    assert hi["forwarded"] < 2 * lo["forwarded"]               # the CPU is the limit
    t = hi["cpu_time_ns"]["cpu0"]
    assert t["ksoftirqd"] > t["softirq"]                       # NET_RX handed to ksoftirqd


TWO_SENDERS = """
seed = 1
duration = "5ms"
cpus = 2
[nic]
combined = 2
xps_cpus = { "tx-0" = "3" }
[irq.smp_affinity]
"eth0-rx-0" = "1"
"eth0-tx-0" = "1"
"eth0-rx-1" = "2"
"eth0-tx-1" = "2"
[[apps]]
name = "s0"
cpu = 0
send = { dst = "10.0.0.9:7000", rate = "60kpps", size = 1518 }
[[apps]]
name = "s1"
cpu = 1
send = { dst = "10.0.0.9:7001", rate = "60kpps", size = 1518 }
"""


def test_a_local_and_a_remote_sender_on_one_queue_both_modes(tmp_path):
    """tx-0 takes a sender on its own CPU and one on the other CPU (xq records, sock_wfree
    records back): the tightest TX coupling, identical in both modes."""
    f = tmp_path / "two.toml"
    f.write_text(TWO_SENDERS)
    run_both_modes(tmp_path / "r", file=str(f))
    s = run_inline(tmp_path / "i", file=str(f))
    assert tx_balanced(s) and s["senders"]["s1"]["tx_queue"] == 0
    assert s["senders"]["s0"]["on_wire"] > 100 and s["senders"]["s1"]["on_wire"] > 100


def test_sender_and_router_both_modes_identical(tmp_path):
    run_both_modes(tmp_path / "s", file=SENDER)
    run_both_modes(tmp_path / "r", file=ROUTER)


@pytest.mark.parametrize("sets,msg", [
    (['apps.0.send.dst="10.0.0.1:7000"'], "loopback"),
    (["apps.0.socket.blocking=1"], "blocking"),
    (['net.core.default_qdisc="fq"'], "default_qdisc"),
    (['nic.xps_cpus={"tx-5" = "1"}'], "xps_cpus"),
    (["nic.tx_ring=8"], "tx_ring"),
    (['apps.0.send.rate="fast"'], "rate"),
    (["apps.0.read_size=10"], "read_size"),
])
def test_bad_tx_keys_are_refused(tmp_path, sets, msg):
    assert_refused(tmp_path, SENDER, sets, msg)


def test_a_sender_transmits_on_its_own_cpu_when_another_cpu_cleans_its_queue(tmp_path):
    """The kernel runs dev_queue_xmit, the qdisc and igb_xmit_frame on the sending CPU; only
    the completion's clean runs where the TX vector's interrupt lands. tx-0's vector on
    CPU 1, the sender on CPU 0: CPU 1 spends its time in NET_RX (igb_poll cleaning) and
    never runs NET_TX or its ksoftirqd for the sender; the results match both modes."""
    sets = ('irq.smp_affinity."eth0-tx-0"="2"',)
    s = run_inline(tmp_path / "m", *sets, file=SENDER)
    assert tx_balanced(s) and s["senders"]["sender"]["tx_queue"] == 0
    assert s["tx_queues"]["tx-0"]["cpu"] == 1 and s["tx_queues"]["tx-0"]["packets"] > 700
    t0, t1 = s["cpu_time_ns"]["cpu0"], s["cpu_time_ns"]["cpu1"]
    assert t0["task"] > 0 and t1.get("task", 0) == 0 and t1.get("ksoftirqd", 0) == 0
    assert t1["softirq"] > 0 and t1["softirq"] < t0["task"] / 5
    soft = (tmp_path / "m" / "proc/softirqs").read_text().splitlines()
    net_tx = next(l for l in soft if "NET_TX" in l).split()
    net_rx = next(l for l in soft if "NET_RX" in l).split()
    assert int(net_tx[2]) == 0 and int(net_rx[2]) > 10       # CPU 1: cleans only
    run_both_modes(tmp_path / "b", *[x for v in sets for x in ("--set", v)], file=SENDER)


def test_ice_maps_tx_queue_n_to_cpu_n_unless_cleared(tmp_path):
    """ice_cfg_xps_tx_ring: TX queue N's XPS map is its q_vector's CPU N, so a server on
    CPU 1 answers on queue 1; `xps_cpus` "0" clears the map and the responses hash."""
    from helpers import ROOT, run_inline
    rr = f"{ROOT}/examples/udp_rr.toml"
    s = run_inline(tmp_path / "d", 'duration="3ms"', file=rr)
    used = {q for q, v in s["tx_queues"].items() if v["packets"]}
    assert used == {"tx-1"}                      # the example's server is on CPU 1
    s = run_inline(tmp_path / "c", 'duration="3ms"',
                   'nic.xps_cpus={"tx-0" = "0", "tx-1" = "0"}', file=rr)
    assert {q for q, v in s["tx_queues"].items() if v["packets"]} == {"tx-0", "tx-1"}
