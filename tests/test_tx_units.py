"""The transmit path's rules, unit by unit (kernel-spec §3.5, §3.7, §10.4–§10.6, §11.2)."""

from conftest import drive

from softnet.cpus.books import Books
from softnet.cpus.bql import Dql
from softnet.cpus.igb_tx import DESC_NEEDED, IgbTx
from softnet.cpus.qdisc import PRIO2BAND, PfifoFast
from softnet.cpus.stack import Snmp
from softnet.cpus.tx import NET_XMIT_DROP, NET_XMIT_SUCCESS, Tx, TxQueue, TxSock, tx_truesize
from softnet.engine.skb import SkBuff


def pkt(i, length=60, sock=0):
    return SkBuff(i, 0, length, 768, 0, 0, 0, sock=sock)


def test_dql_grows_when_starved():
    d = Dql(1000)
    d.queued(1000)                       # limit 0: over the limit at once
    assert d.avail() < 0
    d.completed(1000, 0)                 # all done while over the limit: starved → grow
    assert d.limit == 1000 and d.avail() == 1000


def test_dql_sheds_slack_once_per_hold_time():
    d = Dql(1000)                        # hold_time HZ = 1000 jiffies
    d.limit = d.adj_limit = 10000
    d.queued(2000)
    for j in range(1, 1002):             # 2000 in flight, 1000 completed a pass: always busy
        d.queued(1000)
        d.completed(1000, j)
        if j <= 1000:
            assert d.limit == 10000      # slack measured, limit kept during the hold time
    # slack = limit − 2 × completed per pass = 8000, taken off after the hold time
    assert d.limit == 2000


def test_pfifo_fast_bands_limit_and_requeue():
    q = PfifoFast(2)
    assert PRIO2BAND[0] == 1 and PRIO2BAND[6] == 0
    a, b, c = pkt(1), pkt(2), pkt(3)
    assert q.enqueue(a) and q.enqueue(b) and not q.enqueue(c)    # band 1 holds 2
    assert q.drops == 1 and q.enqueue(pkt(4), priority=6)         # band 0 has room
    assert q.dequeue().id == 4                                     # band 0 first
    first = q.dequeue()
    q.requeue(first)
    assert q.requeues == 1 and q.dequeue() is first               # requeued goes first
    assert q.packets == 2 and q.qlen() == 1                        # counted once


class FakeCpu:
    index = 0

    def __init__(self):
        from conftest import zero_costs
        self.costs = zero_costs()
        self.now = 0
        self.in_softirq = True
        self.raised = []
        self.tracer = None

    def jiffies(self):
        return self.now // 1_000_000

    def in_interrupt(self):
        return self.in_softirq

    def raise_softirq_irqoff(self, nr, in_interrupt):
        self.raised.append(nr)


RUNG: dict = {}                        # per TX queue: the cleans its doorbells handed over


def tx_with_queue(ring=64, qlen=1000):
    cpu = FakeCpu()
    txq = TxQueue(0, ring, qlen, 1000)
    tx = Tx(cpu, {0: txq}, 1, None, Snmp(), Books(1, 1), 64)
    IgbTx(tx)                          # the driver's transmit half
    bells = []

    def doorbell(t, q, pkts, clean, fdir=()):
        bells.append(len(pkts))
        rung.extend(clean)
    rung = RUNG[id(txq)] = []          # what the device will hand back, in ring order
    tx.doorbell = doorbell
    tx.wfree_remote = lambda t, sock, truesize: None
    return cpu, tx, txq, bells


def write_back(txq, n):
    """The device writes back the next n descriptors (what the cpu's txc filing does)."""
    for _ in range(n):
        txq.ring.in_flight.append(RUNG[id(txq)].pop(0))
        txq.ring.hw_done += 1


def test_ring_stops_below_desc_needed_and_wakes_at_twice():
    cpu, tx, txq, bells = tx_with_queue(ring=64)
    txq.dql.limit = txq.dql.adj_limit = 10**6           # keep BQL out of the way
    sent = 0
    while not txq.drv_xoff:
        assert drive(cpu, tx.drv.igb_xmit_frame_ring(txq, pkt(sent), False)) == 0
        sent += 1
    # two descriptors each; stopped once fewer than DESC_NEEDED are free: 63 − 2 × 22
    assert sent == 22 and txq.ring.desc_unused() == 19 < DESC_NEEDED
    assert bells == [1] * sent                          # no xmit_more: a doorbell each
    write_back(txq, 5)                                  # 10 descriptors back: not yet 42
    drive(cpu, tx.drv.igb_clean_tx_irq(txq, 128))
    assert txq.drv_xoff and txq.ring.restart_queue == 0
    write_back(txq, sent - 5)
    drive(cpu, tx.drv.igb_clean_tx_irq(txq, 128))
    assert not txq.drv_xoff and txq.ring.restart_queue == 1
    assert txq.scheduled                                # the qdisc will run again (NET_TX)


def test_clean_stops_at_the_work_limit():
    cpu, tx, txq, _ = tx_with_queue(ring=512)
    txq.dql.limit = txq.dql.adj_limit = 10**6
    for i in range(200):                     # xmit_more on all but the last: one doorbell
        drive(cpu, tx.drv.igb_xmit_frame_ring(txq, pkt(i), i < 199))
    write_back(txq, 200)
    assert drive(cpu, tx.drv.igb_clean_tx_irq(txq, 128)) is False   # 128 cleaned, more left
    assert txq.ring.hw_done == 72 and txq.ring.packets == 128


def test_bypass_enqueue_and_qdisc_drop():
    cpu, tx, txq, bells = tx_with_queue(ring=8, qlen=3)
    txq.dql.limit = txq.dql.adj_limit = 10**6
    assert drive(cpu, tx.dev_xmit_skb(txq, pkt(0))) == NET_XMIT_SUCCESS
    assert txq.qdisc.packets == 1 and txq.qdisc.qlen() == 0      # bypassed straight out
    # an 8-descriptor ring takes one more packet (2 descriptors, stop below 21 at once)
    assert txq.drv_xoff
    rcs = [drive(cpu, tx.dev_xmit_skb(txq, pkt(i))) for i in range(1, 6)]
    # the next one still bypasses (the qdisc is empty) but finds the queue stopped and is
    # requeued; three fill band 1 (txqueuelen 3), the last is dropped
    assert rcs == [NET_XMIT_SUCCESS] * 4 + [NET_XMIT_DROP]
    assert txq.qdisc.requeues == 1 and txq.qdisc.qlen() == 4
    assert txq.qdisc.drops == 1 and tx.books.tx_drops == {"qdisc_drop": 1}


def test_bql_limits_what_a_qdisc_run_dequeues():
    cpu, tx, txq, bells = tx_with_queue(ring=4096)
    txq.stack_xoff = True                 # hold the queue while filling the qdisc
    for i in range(40):
        drive(cpu, tx.dev_xmit_skb(txq, pkt(i)))
    txq.stack_xoff = False
    txq.dql.limit = txq.dql.adj_limit = 600     # room for 10 packets of 60 bytes
    drive(cpu, tx.qdisc_run(txq))
    # the first packet was requeued (it found the queue stopped) and comes back on its
    # own; then a bulk of nine fills the limit exactly (avail 0 is not XOFF), and the
    # next restart takes one more
    assert txq.dql.num_queued == 660 and txq.stack_xoff
    assert txq.qdisc.qlen() == 29 and bells == [1, 9, 1]        # a doorbell per burst


def test_3x_qdisc_run_sends_one_skb_per_restart():
    """3.10/3.13 have no try_bulk_dequeue_skb: with BQL room for ten packets, each
    restart still takes one, so each rings its own doorbell."""
    cpu, tx, txq, bells = tx_with_queue(ring=4096)
    tx.bulk_dequeue = False
    txq.stack_xoff = True
    for i in range(40):
        drive(cpu, tx.dev_xmit_skb(txq, pkt(i)))
    txq.stack_xoff = False
    txq.dql.limit = txq.dql.adj_limit = 600
    drive(cpu, tx.qdisc_run(txq))
    assert txq.dql.num_queued == 660 and bells == [1] * 11


def test_send_buffer_accounting():
    assert tx_truesize(18) == 768 and tx_truesize(1472) == 2304
    s = TxSock(0, 4608, 1, False, True)
    s.wmem_alloc = 5 * 768
    s.waiter = object()
    assert not s.wfree(768)               # 3072 × 2 > 4608
    assert s.wfree(768)                   # 2304 × 2 ≤ 4608: sk_write_space wakes it
