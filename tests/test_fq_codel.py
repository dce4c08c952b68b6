"""fq_codel as net.core.default_qdisc (issue 4 item 3; L6.6 net/sched/sch_fq_codel.c,
include/net/codel.h, codel_impl.h; iproute2 tc/q_fq_codel.c)."""

import math
import os

from conftest import drive, zero_costs
from helpers import ROOT, run_both_modes, run_inline, softnet

from softnet.coordinator import procfs
from softnet.cpus.books import Books
from softnet.cpus.igb_tx import IgbTx
from softnet.cpus.qdisc import (NET_XMIT_CN, NET_XMIT_SUCCESS, FqCodel, codel_control_law,
                        codel_newton_step, codel_time_to_us, us_to_codel)
from softnet.cpus.stack import Snmp
from softnet.cpus.tx import Tx, TxQueue
from softnet.engine.skb import SkBuff

EXAMPLE = os.path.join(ROOT, "examples", "fq_codel.toml")
FAT, THIN = 1 << 22, 5 << 22          # skb hashes of buckets 1 and 5 (of 1024)
SVC = 12304                           # ns per 1514-byte frame at 1 Gb/s (1538 on the wire)


def pkt(i, length=1514, sock=0):
    return SkBuff(i, 0, length, 2304, 0, 0, 0, sock=sock)


# -- CoDel's control law ---------------------------------------------------------------
def test_newton_step_tracks_the_inverse_square_root():
    rec = 0xFFFF                      # count = 1: ~0U >> REC_INV_SQRT_SHIFT
    recs = {1: rec}
    for count in range(2, 2001):      # one Newton step per drop, as codel_dequeue does
        rec = recs[count] = codel_newton_step(count, rec)
    # the kernel's first step from 1.0 lands on 0.5 at count 2 (not 0.707); later steps
    # converge quadratically, to the u16's resolution
    assert recs[2] == 32769 and recs[3] == 36864
    for count in range(3, 2001):
        err = abs(recs[count] / 65536 * math.sqrt(count) - 1)
        assert err < (0.03 if count < 16 else 0.002), count
    # interval / sqrt(count) in codel time, from reciprocal_scale
    interval = us_to_codel(100_000)
    assert codel_control_law(0, interval, 0xFFFF) == interval - 2    # ~interval at count 1
    assert abs(codel_control_law(0, interval, rec) - interval / math.sqrt(2000)) < 30


def feed(q, until, backlog_pkts, hash_=FAT, start_id=0):
    """A flow held above target: `backlog_pkts` queued at t = 0, then one arrival and one
    dequeue per frame time at line rate. Returns the times CoDel dropped at."""
    i = start_id
    for _ in range(backlog_pkts):
        q.enqueue(pkt(i), 0, hash_, 0)
        i += 1
    drops = []
    t = 0
    while t < until:
        t += SVC
        q.enqueue(pkt(i), 0, hash_, t)
        i += 1
        q.dequeue(t)
        drops += [t] * len(q.to_free)
        assert all(stage == "codel_drop" for _, stage in q.to_free)
        q.to_free.clear()
    return drops


def test_codel_drops_after_an_interval_above_target_then_every_interval_over_sqrt_count():
    q = FqCodel()                     # target 5 ms, interval 100 ms
    drops = feed(q, 600_000_000, 1000)   # 1000 frames: 12.3 ms of sojourn
    # the packets queued at 0 pass target at ~5 ms: first_above_time is set then, and the
    # first drop comes an interval later (codel time is ns >> 10: within a frame or so)
    assert 104_800_000 < drops[0] < 105_100_000
    gaps = [b - a for a, b in zip(drops, drops[1:])]
    assert len(gaps) >= 8
    rec = 0xFFFF
    for k, gap in enumerate(gaps, start=1):   # count was k when drop k+1 was scheduled
        if k > 1:
            rec = codel_newton_step(k, rec)
        want = 100_000_000 * rec / 65536       # the kernel's interval / sqrt(count)
        assert abs(gap - want) < 0.001 * want + 2 * SVC, (k, gap, want)
        if k >= 3:
            assert abs(gap * math.sqrt(k) / 100_000_000 - 1) < 0.03
    assert gaps[2:] == sorted(gaps[2:], reverse=True)      # the spacing shrinks
    v = q.flows[1].cvars
    assert v.dropping and v.count == len(drops) and v.lastcount == 1
    assert q.drops == len(drops) and q.stats()["drop_overlimit"] == 0


def test_codel_leaves_dropping_below_target_and_resumes_near_the_last_rate():
    q = FqCodel()
    feed(q, 400_000_000, 1000)
    v = q.flows[1].cvars
    assert v.dropping and v.count > 3
    t = 400_000_000
    while not q.empty():              # drain: the last packet is within one mtu
        t += SVC
        q.dequeue(t)
        q.to_free.clear()
    assert not v.dropping
    count = v.count
    # a new standing queue soon after: the drop rate resumes at count - lastcount
    for i in range(2000):
        q.enqueue(pkt(10**6 + i), 0, FAT, t)
    while not v.dropping:
        t += SVC
        q.enqueue(pkt(10**7 + t), 0, FAT, t)
        q.dequeue(t)
        q.to_free.clear()
    assert v.count == count - 1 and v.lastcount == count - 1


def test_a_queue_below_target_or_within_one_mtu_is_never_dropped():
    q = FqCodel()
    q.enqueue(pkt(0), 0, FAT, 0)
    for t in range(1, 40):            # one packet at a time, however old: backlog <= mtu
        q.enqueue(pkt(t), 0, FAT, t * 10_000_000)
        q.dequeue(t * 10_000_000 + 300_000_000)
    assert q.drops == 0 and not q.to_free


# -- flows: DRR, new flows first, overflow ---------------------------------------------
def test_drr_serves_a_thin_flow_at_once_and_shares_bytes_fairly():
    q = FqCodel()
    for i in range(50):
        q.enqueue(pkt(i, 500), 0, FAT, 0)
    # a new flow first spends its quantum (1514 bytes: 4 packets of 500), then moves to
    # old_flows with its deficit topped up
    assert [q.dequeue(1000).id for _ in range(5)] == [0, 1, 2, 3, 4]
    q.enqueue(pkt(100, 200), 0, THIN, 1000)
    # the fat flow has 528 bytes of deficit left, but a new flow goes first
    assert q.dequeue(2000).id == 100
    assert [q.dequeue(3000).id for _ in range(2)] == [5, 6]
    assert q.stats()["new_flow_count"] == 2
    # two backlogged flows, 1514- and 300-byte packets: DRR gives each a quantum of bytes
    q = FqCodel()
    for i in range(400):
        q.enqueue(pkt(i), 0, FAT, 0)
        q.enqueue(pkt(1000 + i, 300), 0, THIN, 0)
    served = {FAT: 0, THIN: 0}
    for _ in range(300):
        skb = q.dequeue(0)
        served[THIN if skb.id >= 1000 else FAT] += skb.len
    assert abs(served[FAT] - served[THIN]) <= 2 * 1514
    st = q.stats()
    assert st["old_flows_len"] == 2 and st["new_flows_len"] == 0
    assert st["flow_stats"]["2"]["qlen"] + st["flow_stats"]["6"]["qlen"] == q.qlen()


def test_overflow_drops_half_the_fattest_flow_and_answers_cn_for_it():
    q = FqCodel(limit=10)
    for i in range(8):
        assert q.enqueue(pkt(i), 0, FAT, 0) == NET_XMIT_SUCCESS
    for i in range(2):
        q.enqueue(pkt(100 + i, 200), 0, THIN, 0)
    # the 11th packet (fat flow, 9 x 1514 bytes): drop from its head until half is gone
    assert q.enqueue(pkt(8), 0, FAT, 0) == NET_XMIT_CN
    assert [s.id for s, stage in q.to_free] == [0, 1, 2, 3, 4]
    assert all(stage == "fq_codel_drop" for _, stage in q.to_free)
    assert q.qlen() == 6 and q.drops == 5 and q.stats()["drop_overlimit"] == 5
    assert q.flows[1].cvars.count == 5           # CoDel's signal strength goes up too
    assert q.backlog == 4 * 1514 + 2 * 200 and q.memory_usage == 6 * 2304
    q.to_free.clear()
    # over the limit from the thin flow's side: the fat flow pays, the sender hears SUCCESS
    for i in range(4):
        q.enqueue(pkt(9 + i), 0, FAT, 0)
    assert q.enqueue(pkt(102, 200), 0, THIN, 0) == NET_XMIT_SUCCESS
    assert {s.id for s, _ in q.to_free} <= set(range(5, 13)) and q.to_free
    # drop_batch caps a round
    q = FqCodel(limit=4, drop_batch=1)
    for i in range(5):
        q.enqueue(pkt(i), 0, FAT, 0)
    assert len(q.to_free) == 1 and q.qlen() == 4


def test_memory_limit_drops_and_counts_drop_overmemory():
    q = FqCodel(memory_limit=5 * 2304)
    rcs = [q.enqueue(pkt(i), 0, FAT, 0) for i in range(6)]
    assert rcs[-1] == NET_XMIT_CN and q.stats()["drop_overmemory"] == len(q.to_free) > 0


# -- the TX path drives it: no bypass, drops booked and freed ------------------------------
class FakeCpu:
    index = 0

    def __init__(self):
        self.tracer = None
        self.costs = zero_costs()
        self.now = 0
        self.in_softirq = True

    def jiffies(self):
        return self.now // 1_000_000

    def raise_softirq_irqoff(self, nr, in_interrupt):
        pass


def test_dev_xmit_skb_enqueues_books_and_frees_fq_codel_drops():
    cpu = FakeCpu()
    txq = TxQueue(0, 256, 1000, 1000, "fq_codel", {"limit": 3})
    books = Books(1, 1)
    tx = Tx(cpu, {0: txq}, 1, None, Snmp(), books, 64)
    IgbTx(tx)                          # the driver's transmit half
    tx.doorbell = lambda t, q, pkts, clean, fdir=(): None
    freed = []
    tx.wfree_remote = lambda t, sock, truesize: freed.append((sock, truesize))
    txq.stack_xoff = True             # hold the queue: everything waits in the qdisc
    rcs = [drive(cpu, tx.dev_xmit_skb(txq, pkt(i), FAT)) for i in range(4)]
    assert rcs == [NET_XMIT_SUCCESS] * 3 + [NET_XMIT_CN]
    # the two oldest of the fat flow go (sock_wfree gives back what each was charged)
    assert books.tx_drops == {"fq_codel_drop": 2}
    assert freed == [(pkt(0).sock, pkt(0).truesize), (pkt(1).sock, pkt(1).truesize)]
    tx.count_xmit(pkt(3), rcs[-1])   # NET_XMIT_CN: the datagram counts as sent
    assert tx.udp["OutDatagrams"] == 1 and tx.udp.get("SndbufErrors", 0) == 0
    txq.stack_xoff = False
    txq.dql.limit = txq.dql.adj_limit = 100_000      # BQL room for both
    drive(cpu, tx.qdisc_run(txq))
    assert txq.qdisc.packets == 2 and txq.qdisc.empty()    # never bypassed


# -- tc -s qdisc show ---------------------------------------------------------------------
def test_tc_prints_fq_codel_as_iproute2_does():
    q = FqCodel()
    for i in range(3):
        q.enqueue(pkt(i), 0, FAT, 0)
    q.dequeue(0)
    st = q.stats()
    assert (st["target_us"], st["interval_us"]) == (4999, 99999)   # codel_time_to_us
    text = procfs.tc_qdisc([st, None], "fq_codel")
    assert text == (
        "qdisc mq 0: root \n"
        " Sent 1514 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) \n"
        " backlog 3028b 2p requeues 0\n"
        "qdisc fq_codel 0: parent :1 limit 10240p flows 1024 quantum 1514 target 5ms "
        "interval 100ms memory_limit 32Mb ecn drop_batch 64 \n"
        " Sent 1514 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) \n"
        " backlog 3028b 2p requeues 0\n"
        "  maxpacket 1514 drop_overlimit 0 new_flow_count 1 ecn_mark 0 memory_used 4608\n"
        "  new_flows_len 1 old_flows_len 0\n"
        "qdisc fq_codel 0: parent :2 limit 10240p flows 1024 quantum 1514 target 5ms "
        "interval 100ms memory_limit 32Mb ecn drop_batch 64 \n"
        " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n"
        " backlog 0b 0p requeues 0\n"
        "  maxpacket 0 drop_overlimit 0 new_flow_count 0 ecn_mark 0\n"
        "  new_flows_len 0 old_flows_len 0\n")
    # a single-queue device: the root itself; tc's %.3g times, noecn, 1 ms → 999 us
    one = FqCodel(target_us=1000, interval_us=2_000_000, ecn=False, memory_limit=4 << 20)
    assert procfs.tc_qdisc([one.stats()], "fq_codel").splitlines()[0] == (
        "qdisc fq_codel 0: root refcnt 2 limit 10240p flows 1024 quantum 1514 target 999us "
        "interval 2s memory_limit 4Mb drop_batch 64 ")
    assert codel_time_to_us(us_to_codel(250_000)) == 249999
    assert procfs._sprint_time(249999) == "250ms" and procfs._sprint_time(12345) == "12.3ms"


# -- whole runs -------------------------------------------------------------------------
def udp_mib(path):
    lines = (path / "proc/net/snmp").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("Udp:"))
    return dict(zip(lines[i].split()[1:], map(int, lines[i + 1].split()[1:])))


def tx_balanced(s):
    return s["sent"] == s["on_wire"] + sum(s["tx_drops"].values()) + s["tx_in_flight"]


def test_sender_example_with_fq_codel_balances_and_never_bypasses(tmp_path):
    s = run_inline(tmp_path / "s", 'sysctl."net.core.default_qdisc"="fq_codel"',
                   file=os.path.join(ROOT, "examples", "sender.toml"))
    assert tx_balanced(s) and s["tx_drops"] == {} and 770 <= s["on_wire"] <= 813
    qd = s["tx_queues"]["tx-0"]["qdisc"]
    # every packet went through the flows (no bypass): one flow, new once, then old
    assert qd["kind"] == "fq_codel" and qd["packets"] >= s["on_wire"]
    assert qd["new_flow_count"] >= 1 and len(qd["flow_stats"]) == 1
    assert qd["qlen"] == s["tx_in_flight_by_place"]["qdisc"]
    udp = udp_mib(tmp_path / "s")
    assert udp["OutDatagrams"] == s["sent"] - s["tx_in_flight_by_place"]["xmit"]
    tc = (tmp_path / "s" / "tc_qdisc.txt").read_text().splitlines()
    assert tc[3].startswith("qdisc fq_codel 0: parent :1 limit 10240p flows 1024 ")
    assert tc[6].startswith(f"  maxpacket 1514 drop_overlimit 0 new_flow_count "
                            f"{qd['new_flow_count']} ecn_mark 0 memory_used ")


def test_sparse_flow_keeps_a_low_delay_under_fq_codel_not_under_pfifo_fast(tmp_path):
    fq = run_inline(tmp_path / "fq", "duration=100ms", file=EXAMPLE)
    pf = run_inline(tmp_path / "pf", "duration=100ms",
                    'sysctl."net.core.default_qdisc"="pfifo_fast"', file=EXAMPLE)
    assert fq["tx_balanced"] and tx_balanced(fq) and pf["tx_balanced"]
    qd = fq["tx_queues"]["tx-0"]["qdisc"]
    assert qd["kind"] == "fq_codel" and qd["new_flow_count"] > 100
    flows = qd["flow_stats"]
    bulk = max(flows.values(), key=lambda f: f["qlen"])
    sparse = min(flows.values(), key=lambda f: f["qlen"])
    # the sparse flow leaves within a packet time or so of arriving: far below target,
    # while the bulk flow queues what its send buffer allows
    assert sparse["ldelay_us"] < 500 < qd["target_us"] < bulk["ldelay_us"]
    assert fq["senders"]["sparse"]["dropped"] == 0
    assert fq["senders"]["sparse"]["on_wire"] == fq["senders"]["sparse"]["sent"]
    # pfifo_fast: one FIFO with a standing queue of ~1000 frames (~12 ms at 1 Gb/s) that
    # the sparse flow waits behind, and whose overflow it shares
    pq = pf["tx_queues"]["tx-0"]["qdisc"]
    assert pq["qlen"] * SVC > 10_000_000
    assert pf["senders"]["sparse"]["dropped"] > 0


def test_codel_and_overflow_drops_in_a_run_are_booked_and_counted(tmp_path):
    s = run_inline(tmp_path / "c", "duration=60ms",
                   'nic.fq_codel={limit=300, target="1ms", interval="10ms"}', file=EXAMPLE)
    assert tx_balanced(s)
    d = s["tx_drops"]
    assert d["codel_drop"] > 0 and d["fq_codel_drop"] > 0
    assert s["tx_drop_counters"]["codel_drop"].startswith("tc -s qdisc dropped")
    qd = s["tx_queues"]["tx-0"]["qdisc"]
    assert qd["drop_overlimit"] == d["fq_codel_drop"] and qd["codel_drops"] == d["codel_drop"]
    assert qd["qlen"] <= 300
    tc = (tmp_path / "c" / "tc_qdisc.txt").read_text().splitlines()
    assert f"(dropped {sum(d.values())}," in tc[1]
    assert "limit 300p flows 1024 quantum 1514 target 999us interval 10ms " in tc[3]
    assert f"drop_overlimit {d['fq_codel_drop']} " in tc[6]
    # the sender never hears of a CoDel drop and hears NET_XMIT_CN (0 to udp_send_skb) for
    # an overflow: every datagram that reached the qdisc counts in OutDatagrams
    udp = udp_mib(tmp_path / "c")
    assert udp["SndbufErrors"] == 0
    assert udp["OutDatagrams"] == s["sent"] - s["tx_in_flight_by_place"]["xmit"]
    assert s["senders"]["sparse"]["dropped"] == 0


def test_a_tiny_fq_codel_limit_drops_fragments_and_counts_each_send_once(tmp_path):
    """A 16-packet limit under 4000-byte datagrams (three fragments each): an overflow
    answers NET_XMIT_CN for a fragment whose earlier fragments are still queued; the send
    is booked lost there once, and those fragments, dropped later by fq_codel or sent,
    do not count it again (they did: 34 sends counted twice, the run refused its books)."""
    s = run_inline(tmp_path / "t", "duration=5ms", "nic.fq_codel.limit=16",
                   'apps.0.send={dst="10.0.0.9:7000", rate="120kpps", payload=4000}',
                   'apps.1.send={dst="10.0.0.9:7001", rate="2kpps", payload=3000}',
                   file=EXAMPLE)
    assert tx_balanced(s) and s["tx_drops"]["fq_codel_drop"] > 100
    assert s["senders"]["bulk"]["dropped"] == s["tx_drops"]["fq_codel_drop"]


def test_fq_codel_runs_identically_inline_and_in_processes(tmp_path):
    run_both_modes(tmp_path / "m", "--set", "duration=30ms", "--set",
                   'nic.fq_codel={limit=200, target="1ms", interval="5ms"}', file=EXAMPLE)


def test_bad_fq_codel_keys_are_refused(tmp_path):
    for sets, msg in ((['sysctl."net.core.default_qdisc"="pfifo_fast"'], "nic.fq_codel"),
                      (["nic.fq_codel={quantum=100}"], "nic.fq_codel.quantum"),
                      (['nic.fq_codel={target="0us"}'], "nic.fq_codel.target"),
                      (["nic.fq_codel={ecn=1}"], "nic.fq_codel.ecn"),
                      (["nic.fq_codel={tos=1}"], "nic.fq_codel.tos")):
        args = ["run", EXAMPLE, "--mode", "inline", "--out", str(tmp_path / "x"),
                "--set", "nic.fq_codel={}"]
        for s in sets:
            args += ["--set", s]
        r = softnet(*args)
        assert r.returncode == 2 and msg in r.stderr, (sets, r.stderr)
    assert not (tmp_path / "x").exists()
