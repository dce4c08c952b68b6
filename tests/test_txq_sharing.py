"""A TX queue several CPUs transmit on (shared-state-dim-rr.md §2): its line and enqueue
lock are shared, each sender's dev_queue_xmit runs in its own time and at its own cost
(where the queue's producer half is held), and XPS takes the sharing away."""

import os
import sys

import pytest

from helpers import ROOT, config_file, run_both_modes, run_inline
from softnet.cpus.txq_lines import TxqLines

sys.path.insert(0, os.path.join(ROOT, "bench"))
from shared_state import xps  # noqa: E402

X, H = 42, 16


def test_one_cpu_alone_pays_nothing():
    ln = TxqLines(X, H, 0)
    assert ln.touch(0, 0) == 0 and ln.enqueue(0, 100, False) == 0
    assert ln.enqueue(0, 200, True) == 0
    r = ln.report()
    assert r["line_transfers"] == 0 and r["spin_ns"] == 0


def test_the_line_moves_with_its_last_writer():
    ln = TxqLines(X, H, 0)
    assert ln.touch(1, 10) == X and ln.touch(1, 20) == 0
    ln.written(0, 30)                               # a clean on CPU 0 wrote dql
    assert ln.touch(1, 40) == X and ln.report()["line_transfers"] == 2


def test_a_held_enqueue_lock_makes_the_next_cpu_spin():
    ln = TxqLines(X, 100, 0)                        # a long hold, to be met
    assert ln.enqueue(1, 100, False) == X           # fetches the line, holds 142..242
    # CPU 2 fetches the line at 150 (192), spins to 242, fetches it from CPU 1 (284)
    assert ln.enqueue(2, 150, False) == 284 - 150
    r = ln.report()
    assert r["spin_ns"] == 242 - 192 and r["contended"] == 1
    # a locked qdisc another CPU runs: the busylock's line first, then the queue's
    assert ln.enqueue(3, 1000, True) == 2 * X and ln.busylock == 1


def test_only_one_cpu_runs_the_qdisc():
    """qdisc_run_begin: while a run is under way here it fails (that run takes what was
    enqueued); while another CPU's run is not over in time, it fails and that CPU's
    NET_TX runs the queue again at its end; after that, it succeeds."""
    from test_tx_units import FakeCpu
    from softnet.cpus.books import Books
    from softnet.cpus.stack import Snmp
    from softnet.cpus.tx import Tx, TxQueue

    cpu = FakeCpu()
    txq = TxQueue(0, 256, 1000, 1000)
    tx = Tx(cpu, {0: txq}, 1, None, Snmp(), Books(1, 1), 64)
    reruns = []
    tx.rerun = lambda t, q, c: reruns.append((t, q.index, c))
    assert tx.qdisc_run_begin(txq) and not tx.qdisc_run_begin(txq)   # under way here
    assert reruns == []
    cpu.now = 100
    tx.qdisc_run_end(txq)
    txq.run_cpu, txq.run_end = 1, 500            # CPU 1's run, over at 500
    assert not tx.qdisc_run_begin(txq) and reruns == [(500, 0, 1)]
    assert not tx.qdisc_run_begin(txq) and len(reruns) == 1          # told once
    cpu.now = 500
    assert tx.qdisc_run_begin(txq) and txq.run_cpu == 0


def _locks(s):
    return [q["lock"] for q in s["tx_queues"].values()]


def test_xps_takes_the_sharing_away(tmp_path):
    """A sender on each of 4 CPUs: without XPS the flow hashes put two senders on one
    queue and leave another idle, and the shared queue's line moves with every datagram;
    with XPS each CPU has its own queue, whose line moves only with the clean (the
    queue's vector is on the next CPU)."""
    off, on = (run_inline(tmp_path / str(x), file=config_file(tmp_path, str(x), xps(x, "2ms")))
               for x in (False, True))
    assert len(_locks(off)) == 3 and len(_locks(on)) == 4
    assert all(lk["contended"] == 0 for lk in _locks(on))
    moved = [sum(lk["line_transfers"] for lk in _locks(s)) for s in (off, on)]
    assert moved[0] > 3 * moved[1] > 0, moved
    # HARD_TX_LOCK's line moves only when the qdisc's runner changes: between the two
    # senders of a shared queue, never on a queue of its own
    xmit = [sum(lk["xmit_lock_transfers"] for lk in _locks(s)) for s in (off, on)]
    assert xmit[0] > 10 and xmit[1] == 0, xmit


def two_senders(duration: str) -> dict:
    """Senders on CPUs 1 and 2 share the one TX queue, whose vector is on CPU 2: CPU 2
    holds its producer half, CPU 1 hands its datagrams over."""
    return {"seed": 1, "duration": duration, "cpus": 3,
            "nic": {"model": "i350", "combined": 1},
            "host": {"neigh": {"10.2.0.9": "permanent"}},
            "apps": [{"name": f"tx{c}", "cpu": c,
                      "socket": {"proto": "udp", "sndbuf": 4_000_000},
                      "send": {"dst": f"10.2.0.9:{7000 + c}", "rate": "200kpps",
                               "size": 64}} for c in (1, 2)]}


def test_a_sender_pays_for_its_own_transmit(tmp_path):
    """CPU 1's datagrams are sent in CPU 1's time: CPU 2, which holds the queue, does not
    run NET_TX for them, and the queue's line moves between the two senders."""
    s = run_inline(tmp_path / "r", file=config_file(tmp_path, "two", two_senders("3ms")))
    t = s["cpu_time_ns"]
    assert s["tx_queues"]["tx-0"]["cpu"] == 2
    # (it ran NET_TX in ksoftirqd for every one of them: 650 µs of the 3 ms)
    assert t["cpu2"]["ksoftirqd"] < 0.01 * t["cpu2"]["task"]
    lk = _locks(s)[0]
    assert lk["line_transfers"] > 100 and lk["acquired"] > 0
    # both senders got as much out and paid alike for it, in their tasks (sendmsg and
    # the whole transmit; CPU 1 was 57 µs short of CPU 2 when CPU 2 paid its xmit)
    sent = s["senders"]
    assert abs(sent["tx1"]["sent"] - sent["tx2"]["sent"]) <= 2
    assert abs(t["cpu1"]["task"] - t["cpu2"]["task"]) < 0.01 * t["cpu2"]["task"]


@pytest.mark.parametrize("qdisc", ["pfifo_fast", "fq_codel"])
def test_a_locked_qdisc_lines_senders_up_on_its_busylock(tmp_path, qdisc):
    """Four senders on one queue: fq_codel is a locked qdisc, so a sender that finds it
    running takes its busylock, and the runner takes the root lock to dequeue; the
    lockless pfifo_fast has neither."""
    cfg = xps(False, "2ms")
    cfg["nic"]["combined"] = 1
    cfg["sysctl"] = {"net.core.default_qdisc": qdisc}
    s = run_inline(tmp_path / "r", file=config_file(tmp_path, qdisc, cfg))
    (lk,) = _locks(s)
    assert s["tx_balanced"] and lk["line_transfers"] > 1000
    if qdisc == "fq_codel":          # (no bypass: every send enqueues)
        assert lk["busylock"] > 100 and lk["contended"] > 100 and lk["spin_ns"] > 0
        assert lk["acquired"] > 1.5 * s["sent"]      # the runner's dequeues too
    else:
        assert lk["busylock"] == 0


def test_identical_in_both_modes(tmp_path):
    run_both_modes(tmp_path, "--quiet", file=config_file(tmp_path, "two", two_senders("4ms")))
