"""ip_finish_output: IP fragmentation above the MTU and UDP GSO (UDP_SEGMENT), in whole
runs and unit by unit (kernel-spec §10.1; L6.6 net/ipv4/ip_output.c ip_do_fragment,
net/ipv4/udp.c udp_send_skb, net/ipv4/udp_offload.c __udp_gso_segment)."""

import os

import pytest

from conftest import drive
from helpers import (ROOT, assert_refused, ethtool, run_both_modes,
                     run_inline, snmp, tx_balanced)

from softnet.cpus.books import Books
from softnet.cpus.igb_tx import IgbTx, tx_bytecount
from softnet.cpus.stack import Snmp
from softnet.cpus.tx import (FRAG_DATA, GSO_HEAD_TRUESIZE, NET_XMIT_SUCCESS, Tx, TxQueue,
                     gso_segments, gso_truesize, ip_fragments)
from softnet.engine.skb import SkBuff

GSO = os.path.join(ROOT, "examples", "udp_gso.toml")
SENDER = os.path.join(ROOT, "examples", "sender.toml")





def busy(s, cpu="cpu0"):
    t = s["cpu_time_ns"][cpu]
    return t["hardirq"] + t["softirq"] + t["ksoftirqd"] + t["task"]


# -- the pieces -----------------------------------------------------------------------------
def test_fragment_and_segment_geometry():
    # 4000 bytes of UDP payload + 8 header = 4008 bytes of IP payload: 1480 + 1480 + 1048
    assert FRAG_DATA == 1480 and FRAG_DATA % 8 == 0
    assert ip_fragments(4000) == [1480, 1480, 1048]
    assert ip_fragments(1472) == [1480]                 # fits: no fragmentation
    assert ip_fragments(1473) == [1480, 1]
    assert gso_segments(61818, 1472) == [1472] * 41 + [1466]
    assert gso_segments(2944, 1472) == [1472, 1472]


def test_software_gso_charges_each_segment():
    """validate_xmit_skb without NETIF_F_GSO_UDP_L4: N skbs on the ring, each its own BQL
    bytes and truesize; the segments' truesizes add up to what the send was charged."""
    from test_tx_units import FakeCpu
    cpu = FakeCpu()
    txq = TxQueue(0, 256, 1000, 1000)
    txq.dql.limit = txq.dql.adj_limit = 10 ** 6
    tx = Tx(cpu, {0: txq}, 1, None, Snmp(), Books(1, 1), 64)
    IgbTx(tx)                          # the driver's transmit half
    tx.gso_udp_l4 = False
    bells = []
    tx.doorbell = lambda t, q, pkts, clean, fdir=(): bells.append(list(pkts))
    tx.wfree_remote = lambda t, sock, truesize: None
    payload = 3000
    charge = gso_truesize(payload, 3, False)
    assert charge == 3 * GSO_HEAD_TRUESIZE + payload == gso_truesize(payload, 3, True) + 1536
    gso = SkBuff(100, 0, payload + 42, charge, 0, 0, 0, sock=0, gso_size=1400, gso_segs=3)
    rc = drive(cpu, tx.dev_xmit_skb(txq, gso))
    assert rc == NET_XMIT_SUCCESS
    segs = bells[0]
    assert [s.len for s in segs] == [1442, 1442, 242]
    assert [s.more for s in segs] == [True, True, False] and [s.id for s in segs] == [100, 101, 102]
    assert sum(s.truesize for s in segs) == charge
    assert txq.dql.num_queued == 1442 + 1442 + 242
    assert txq.ring.used == 3 * 2                        # data + context descriptor each


def test_device_segmentation_bytecount():
    """igb_tso/ice_tso: one skb to the driver, bytecount adds the repeated headers."""
    gso = SkBuff(1, 0, 61818 + 42, 0, 0, 0, 0, sock=0, gso_size=1472, gso_segs=42)
    assert tx_bytecount(gso) == 61818 + 42 * 42


# -- whole runs ------------------------------------------------------------------------------
def test_fragmented_datagrams_counters_and_frames(tmp_path):
    s = run_inline(tmp_path / "f", "apps.0.socket.udp_segment=0", "apps.0.send.payload=4000",
                   "apps.0.send.count=10", 'apps.0.send.rate="10kpps"', file=GSO)
    assert tx_balanced(s) and s["tx_drops"] == {}
    assert s["sent"] == s["on_wire"] == 10 and s["on_wire_frames"] == 30
    ip, udp = snmp(tmp_path / "f", "Ip"), snmp(tmp_path / "f", "Udp")
    assert ip["OutRequests"] == 10 and ip["FragOKs"] == 10 and ip["FragCreates"] == 30
    assert ip["FragFails"] == 0 and ip["OutTransmits"] == 30
    assert udp["OutDatagrams"] == 10
    st = ethtool(tmp_path / "f")
    assert st["tx_packets"] == 30
    # frames 1514 + 1514 + (14 + 20 + 1048) without FCS
    assert st["tx_queue_0_bytes"] == 10 * (1514 + 1514 + 1082)
    assert s["senders"]["sender"]["wmem_alloc"] == 0          # every fragment released


def test_a_dropped_fragment_fails_its_datagram(tmp_path):
    """A qdisc drop of any fragment: FragFails, -ENOBUFS (SndbufErrors, OutDiscards), no
    more of that datagram sent; fragments already queued still leave. Sender and queue on
    different CPUs (the queue's owner tracks the failed datagram)."""
    s = run_inline(tmp_path / "d", "apps.0.socket.udp_segment=0", "apps.0.send.payload=4000",
                   "apps.0.cpu=1", "nic.xps_cpus={}", "nic.txqueuelen=5",
                   "net.core.wmem_max=8000000", "apps.0.socket.sndbuf=4000000",
                   "apps.0.send.count=1000", 'apps.0.send.rate="200kpps"', file=GSO)
    assert tx_balanced(s)
    d = s["tx_drops"]["qdisc_drop"]
    assert d > 100
    ip, udp = snmp(tmp_path / "d", "Ip"), snmp(tmp_path / "d", "Udp")
    assert ip["FragFails"] == d == udp["SndbufErrors"] == ip["OutDiscards"]
    assert ip["FragOKs"] == udp["OutDatagrams"] and udp["OutDatagrams"] + d <= ip["OutRequests"]
    assert ip["FragCreates"] >= 3 * ip["FragOKs"]
    # frames of failed datagrams left too: more frames than 3 per datagram on the wire
    assert s["on_wire_frames"] > 3 * s["on_wire"]
    # what is still charged is only what is still queued (drops and unsent fragments freed)
    assert s["senders"]["sender"]["wmem_alloc"] <= 3 * 2304 * (s["tx_in_flight"] + 10)


def test_a_failed_datagram_sends_no_more_fragments(tmp_path):
    """Sender on the queue's CPU: every fragment ip_do_fragment hands to ip_finish_output2
    is either created or the failing one; the rest are freed unsent."""
    s = run_inline(tmp_path / "l", "apps.0.socket.udp_segment=0", "apps.0.send.payload=4000",
                   "nic.txqueuelen=5", "net.core.wmem_max=8000000",
                   "apps.0.socket.sndbuf=4000000", "apps.0.send.count=1000",
                   'apps.0.send.rate="200kpps"', file=GSO)
    assert tx_balanced(s)
    ip = snmp(tmp_path / "l", "Ip")
    assert ip["FragFails"] == s["tx_drops"]["qdisc_drop"] > 100
    assert ip["OutTransmits"] == ip["FragCreates"] + ip["FragFails"]
    assert ip["OutTransmits"] < 3 * ip["OutRequests"]


def test_udp_gso_segmented_in_software_on_the_i350(tmp_path):
    gso = run_inline(tmp_path / "g", file=GSO)
    assert tx_balanced(gso) and gso["tx_drops"] == {}
    n = gso["sent"]
    assert n == gso["on_wire"] == 5 and gso["on_wire_frames"] == 42 * n
    ip, udp = snmp(tmp_path / "g", "Ip"), snmp(tmp_path / "g", "Udp")
    assert udp["OutDatagrams"] == n and ip["OutRequests"] == n and ip["FragCreates"] == 0
    st = ethtool(tmp_path / "g")
    assert st["tx_queue_0_packets"] == 42 * n                 # 42 skbs on the ring
    assert st["tx_queue_0_bytes"] == n * (41 * 1514 + 1508)
    assert gso["senders"]["sender"]["wmem_alloc"] == 0
    # the same bytes as 1472-byte datagrams cost more CPU per byte
    plain = run_inline(tmp_path / "p", "apps.0.socket.udp_segment=0",
                       "apps.0.send.payload=1472", 'apps.0.send.rate="42kpps"', file=GSO)
    assert tx_balanced(plain) and plain["on_wire"] == plain["on_wire_frames"] == 42 * n
    per_byte_gso = busy(gso) / (n * 61818)
    per_byte_plain = busy(plain) / (42 * n * 1472)
    assert per_byte_gso < 0.5 * per_byte_plain


@pytest.mark.parametrize("model", ["i350", "e810"])
def test_udp_gso_segmented_by_the_device(tmp_path, model):
    """igb (since 5.5) and ice advertise NETIF_F_GSO_UDP_L4: the GSO skb reaches the
    driver whole; the device puts its 42 frames on the wire."""
    irq = ('irq.smp_affinity={ "ice-eth0-TxRx-0" = "1", "ice-eth0-TxRx-1" = "2" }'
           if model == "e810" else "nic.combined=2")
    s = run_inline(tmp_path / model, f'nic.model="{model}"', irq,
                   "nic.tx_udp_segmentation=true", file=GSO)
    assert tx_balanced(s) and s["on_wire"] == 5 and s["on_wire_frames"] == 210
    assert snmp(tmp_path / model, "Udp")["OutDatagrams"] == 5
    q = s["tx_queues"]["tx-0"]
    assert q["packets"] == 210                           # tx_buffer->gso_segs at clean
    assert q["bytes"] == 5 * (61818 + 42 * 42)           # bytecount with repeated headers
    if model == "i350":
        soft = run_inline(tmp_path / "soft", file=GSO)
        assert busy(s) < busy(soft)                      # no __udp_gso_segment


def test_gso_books_balance_under_back_pressure(tmp_path):
    """Software GSO through a small ring: segments requeued when the ring stops, a
    blocking sender throttled by sock_wfree; every charge released or still queued."""
    s = run_inline(tmp_path / "b", "nic.tx_ring=64", 'apps.0.send.rate="10kpps"',
                   'duration="10ms"', file=GSO)
    assert tx_balanced(s) and s["tx_drops"] == {}
    assert s["on_wire"] > 0 and s["on_wire_frames"] >= 42 * s["on_wire"]
    assert s["senders"]["sender"]["blocked"] > 0
    assert s["tx_queues"]["tx-0"]["qdisc"]["requeues"] > 0


@pytest.mark.parametrize("sets,msg", [
    (["apps.0.socket.udp_segment=1473"], "segments must fit the MTU"),
    (["apps.0.socket.udp_segment=1000", "apps.0.send.payload=64001"], "UDP_MAX_SEGMENTS"),
    (["apps.0.socket.udp_segment=0", "apps.0.send.payload=65508"], "65507"),
    (["apps.0.send.size=1518"], "not both"),
    (["nic.tx_udp_segmentation=1"], "tx-udp-segmentation"),
])
def test_bad_gso_keys_are_refused(tmp_path, sets, msg):
    assert_refused(tmp_path, GSO, sets, msg)


def test_limits_that_are_allowed(tmp_path):
    # 64 segments of 1000 bytes and a 65507-byte fragmented datagram are fine
    s = run_inline(tmp_path / "a", "apps.0.socket.udp_segment=1000",
                   "apps.0.send.payload=64000", "apps.0.send.count=2", file=GSO)
    assert tx_balanced(s) and s["on_wire_frames"] == 128
    s = run_inline(tmp_path / "b", "apps.0.socket.udp_segment=0", "apps.0.send.payload=65507",
                   "apps.0.send.count=2", file=GSO)
    assert tx_balanced(s) and s["on_wire_frames"] == 2 * 45     # 65515 / 1480 → 45
    assert snmp(tmp_path / "b", "Ip")["FragCreates"] == 90


def test_udp_gso_and_fragments_both_modes_identical(tmp_path):
    run_both_modes(tmp_path / "g", "--set", "apps.0.cpu=1", "--set", "nic.xps_cpus={}",
                   file=GSO)
    run_both_modes(tmp_path / "f", "--set", "apps.0.socket.udp_segment=0", "--set",
                   "apps.0.cpu=1", "--set", "nic.xps_cpus={}", "--set", "nic.txqueuelen=5",
                   "--set", "apps.0.send.payload=4000", "--set", 'apps.0.send.rate="200kpps"',
                   file=GSO)


def test_fragments_beyond_twice_the_send_buffer_fail_with_enobufs(tmp_path):
    """__ip_append_data takes skbs after the first only while wmem_alloc + what it took
    ≤ 2 × sk_sndbuf: a 65507-byte datagram (45 skbs of 2304 bytes of truesize) never fits
    SOCK_MIN_SNDBUF (4608), a 4000-byte one (3 skbs) does."""
    big = run_inline(tmp_path / "b", "apps.0.socket.udp_segment=0", "apps.0.socket.sndbuf=0",
                     "apps.0.send.payload=65507", "apps.0.send.count=3", file=GSO)
    assert tx_balanced(big) and big["tx_drops"] == {"sndbuf_enobufs": 3}
    assert big["on_wire_frames"] == 0 and big["senders"]["sender"]["wmem_alloc"] == 0
    assert snmp(tmp_path / "b", "Udp")["SndbufErrors"] == 3
    assert snmp(tmp_path / "b", "Ip")["OutRequests"] == 0
    small = run_inline(tmp_path / "s", "apps.0.socket.udp_segment=0",
                       "apps.0.socket.sndbuf=0", "apps.0.send.payload=4000",
                       "apps.0.send.count=3", file=GSO)
    assert tx_balanced(small) and small["tx_drops"] == {} and small["on_wire"] == 3
