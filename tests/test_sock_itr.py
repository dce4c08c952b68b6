"""UDP receive buffer (kernel-spec §9) and igb's ITR heuristic (§3.6)."""

from softnet.engine.skb import SkBuff
from softnet.nic.msix import MsixVector
from softnet.cpus.igb import QVector, igb_update_ring_itr
from softnet.cpus.sock import SOCK_MIN_RCVBUF, UdpSock, effective_rcvbuf


def skb(i, truesize=2304):
    return SkBuff(i, 0, 60, truesize, 0, 0, 0)


def test_so_rcvbuf_doubles_and_caps():
    assert effective_rcvbuf(None, 212992, 212992) == 212992
    assert effective_rcvbuf(212992, 212992, 212992) == 425984
    assert effective_rcvbuf(10**9, 212992, 212992) == 425984
    assert effective_rcvbuf(0, 212992, 212992) == SOCK_MIN_RCVBUF


def test_admission_compares_before_adding():
    s = UdpSock(0, "0.0.0.0", 9000, 10_000, 0, 1)
    accepted = [s.enqueue(skb(i), 0, 0) for i in range(10)]
    # 0, 2304, 4608, 6912, 9216 are all <= 10000: five accepted, overshoot by one truesize
    assert accepted == [None] * 5 + ["udp_rcvbuf_errors"] * 5
    assert s.rmem_alloc == 5 * 2304 and s.drops == 5


def test_lazy_release_until_threshold_or_empty():
    s = UdpSock(0, "0.0.0.0", 9000, 40_000, 0, 1)     # forward_threshold = 10000
    for i in range(10):
        assert s.enqueue(skb(i), 0, 0) is None
    charged = 10 * 2304
    for i in range(4):
        s.recv(0, 0)
    # 4 reads: deficit 9216 < 10000 and the reader queue is not empty: nothing returned
    assert s.rmem_alloc == charged and s.rx_queue_bytes() == charged - 4 * 2304
    s.recv(0, 0)                                           # deficit 11520 >= 10000: released
    assert s.rmem_alloc == charged - 5 * 2304 and s.forward_deficit == 0
    for i in range(5):
        s.recv(0, 0)
    assert s.rmem_alloc == 0 and s.recv(0, 0) is None


def qv(setting):
    return QVector(MsixVector(1, "v", 66, 0), None, setting, 648, True, 16)


def test_itr_conservative_caps_small_packets_at_20k():
    q = qv(3)
    q.rx_total_packets, q.rx_total_bytes = 100, 6000       # 60-byte skbs
    igb_update_ring_itr(q)
    assert q.itr_val == 196 and q.set_itr and q.rx_total_packets == 0


def test_itr_dynamic_follows_wire_size():
    q = qv(1)
    q.rx_total_packets, q.rx_total_bytes = 100, 6000       # avg 60 + 24 = 84 → 42
    igb_update_ring_itr(q)
    assert q.itr_val == 42
    q.rx_total_packets, q.rx_total_bytes = 10, 10 * 600    # 624: mid-size boost /3 → 208
    igb_update_ring_itr(q)
    assert q.itr_val == 208


def test_itr_keeps_value_without_traffic():
    q = qv(3)
    igb_update_ring_itr(q)
    assert q.itr_val == 648 and not q.set_itr


def test_fixed_usecs_setting():
    q = QVector(MsixVector(1, "v", 66, 0), None, 50 << 2, 648, True, 16)
    assert q.itr_val == 200 and q.vec.interval == 50_000
