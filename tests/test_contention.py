"""One UDP socket that several CPUs deliver to (shared-state-dim-rr.md §1): its receive
queue's lock, the busylock and the line of sk_rmem_alloc are shared as the kernel shares
them; contention emerges from who holds what, when, and each producer pays its own."""

import os
import sys

import pytest

from helpers import ROOT, config_file, run_both_modes, run_inline
from softnet.cpus.sock import UdpSock
from softnet.cpus.sock_lines import RxLines
from softnet.engine.skb import SkBuff

sys.path.insert(0, os.path.join(ROOT, "bench"))
from shared_state import one_socket  # noqa: E402

X, H = 42, 16


def test_one_cpu_alone_pays_nothing():
    ln = RxLines(X, H, 0)
    assert ln.produce(0, 100, False) == 0 and ln.consume(0, 200) == 0
    assert ln.produce(0, 300, True) == 0 and ln.peek(0, 400) == 0 and ln.drop(0, 500) == 0
    r = ln.report()
    assert r["line_transfers"] == 0 and r["spin_ns"] == 0 and r["contended"] == 0


def test_a_line_another_cpu_wrote_costs_one_transfer():
    ln = RxLines(X, H, 0)
    assert ln.produce(1, 100, False) == X        # the reader's CPU wrote it last
    assert ln.produce(1, 400, False) == 0        # still this producer's
    assert ln.consume(0, 1000) == X              # the reader fetches it back
    assert ln.peek(1, 1100) == X and ln.report()["line_transfers"] == 3


def test_a_held_lock_makes_the_next_cpu_spin_then_fetch():
    ln = RxLines(X, 100, 0)                      # a long hold, to be met
    assert ln.produce(1, 200, False) == X        # fetches at 100, holds 142..242
    # CPU 2 would take it at 110: fetches the line (152), spins while CPU 1 holds it
    # (to 242), fetches it back from CPU 1 (284)
    assert ln.produce(2, 210, False) == 284 + 100 - 210
    r = ln.report()
    assert r["spin_ns"] == 242 - 152 and r["contended"] == 1
    # the reader at 300: fetches it from CPU 2 (342), waits for 384, fetches it (426)
    assert ln.consume(0, 300) == 426 - 300 and ln.report()["contended"] == 2


def test_an_acquisition_fits_before_later_holds():
    """A softirq step places its enqueues ahead of its clock; a hand-off that lands
    before one of them takes the gap before it instead of waiting behind the last."""
    ln = RxLines(X, H, 0)
    for t in (1000, 2000, 3000):                 # the owner's own batch, placed ahead
        ln.produce(0, t, False)
    assert ln.produce(1, 500, False) == X        # fetches at 484, holds 526..542
    assert ln.report()["spin_ns"] == 0


def test_the_busylock_lines_up_producers_when_half_full():
    ln = RxLines(X, H, 0)
    first = ln.produce(1, 100, True)             # busylock and line: two transfers
    assert first == 2 * X and ln.busylock == 1
    # CPU 2 fetches the busylock's line (136), waits for CPU 1 to let it go at 184,
    # fetches it back (226), then the queue's line (268), holds the lock to 284
    assert ln.produce(2, 110, True) == 284 - 110
    assert ln.report()["spin_ns"] == 184 - 136


def test_the_reader_takes_the_lock_to_splice_and_to_release():
    """__skb_recv_udp: the producers' queue (and its lock, and line) is touched once per
    splice of everything queued, and by udp_rmem_release once the deficit reaches
    rcvbuf/4 or the reader queue runs dry; reads in between touch neither."""
    sk = UdpSock(0, "0.0.0.0", 9000, 40_000, 0, 1, lines=RxLines(X, H, 0))
    for i in range(3):                           # a producer on CPU 1
        assert sk.enqueue(SkBuff(i, 0, 60, 2304, 0, 0, 0), 0, 1) is None
        sk.lines.produce(1, 100 * (i + 1), False)
    sk.recv(0, 1000)                             # splice: the line comes back
    assert sk.read_stall == X
    sk.recv(0, 2000)                             # from the reader queue alone
    assert sk.read_stall == X and sk.lines.lock.acquired == 4
    sk.recv(0, 3000)                             # runs dry: release under the lock
    assert sk.lines.lock.acquired == 5 and sk.read_stall == X
    assert sk.recv(0, 4000) is None and sk.read_stall == X     # (its own line still)
    sk.enqueue(SkBuff(9, 0, 60, 2304, 0, 0, 0), 0, 1)
    sk.lines.produce(1, 4500, False)
    sk.recv(0, 5000)
    assert sk.read_stall == 2 * X


def _lock(s):
    return s["sockets"]["reader"]["lock"]


def _producer_softirq(s, n):
    return sum(s["cpu_time_ns"][f"cpu{c}"]["softirq"] + s["cpu_time_ns"][f"cpu{c}"]["ksoftirqd"]
               for c in range(1, n + 1))


@pytest.fixture(scope="module")
def sockets(tmp_path_factory):
    """One socket read on CPU 0, fed by 1, 2 and 4 producer CPUs at 1 Mpps each."""
    d = tmp_path_factory.mktemp("sock")
    out = {}
    for n in (1, 2, 4):
        out[n] = run_inline(d / f"r{n}", file=config_file(d, f"p{n}", one_socket(n, "2ms")))
    return out


def test_contention_grows_with_producers(sockets):
    spins = [_lock(sockets[n])["spin_ns"] for n in (1, 2, 4)]
    assert spins[0] < spins[1] < spins[2], spins
    xfers = [_lock(sockets[n])["line_transfers"] for n in (1, 2, 4)]
    assert xfers[0] < xfers[1] < xfers[2], xfers
    # the busylock only once the socket is more than half full (4 Mpps on one reader)
    assert _lock(sockets[1])["busylock"] == 0 and _lock(sockets[4])["busylock"] > 1000
    assert sockets[4]["drops"]["udp_rcvbuf_errors"] > 0
    for s in sockets.values():
        assert s["balanced"]


def test_contention_vanishes_with_one_producer_on_the_readers_cpu(tmp_path):
    """The socket's producer and reader on one CPU: never a transfer, never a spin (the
    reader holds the lock with BHs off, so the softirq cannot cut in)."""
    cfg = one_socket(1, "2ms")
    cfg["irq"]["smp_affinity"] = {"ice-eth0-TxRx-0": "1"}
    cfg["cpus"] = 1
    lk = _lock(run_inline(tmp_path / "r", file=config_file(tmp_path, "one", cfg)))
    assert lk["acquired"] > 1000
    assert lk["spin_ns"] == 0 and lk["contended"] == 0 and lk["line_transfers"] == 0


def test_each_producer_pays_its_stall(tmp_path, monkeypatch):
    """The producers' softirq time holds what they spun and fetched (told 100 µs late):
    with the line and the lock free of cost they spend less."""
    from softnet.coordinator import config   # validate loads the profile
    from softnet.cpus.costs import load_profile

    cfg = config_file(tmp_path, "p4", one_socket(4, "6ms"))
    s = run_inline(tmp_path / "paid", file=cfg)

    def free(name):
        p = load_profile(name)
        p["costs"]["cacheline_transfer"] = 0
        p["costs"]["udp_rxq_hold"] = 0
        return p
    monkeypatch.setattr(config, "load_profile", free)
    f = run_inline(tmp_path / "free", file=cfg)
    assert _lock(f)["spin_ns"] == 0 and _lock(s)["spin_ns"] > 0
    paid = _producer_softirq(s, 4) - _producer_softirq(f, 4)
    # what they spun (the transfers come on top), less the last stretch the run's end
    # cuts: a stall is told late, near the end half way to it
    assert paid > 0.8 * _lock(s)["spin_ns"]


def test_identical_in_both_modes(tmp_path):
    # 4 ms: stalls are told late, and most of them land
    run_both_modes(tmp_path, "--quiet", file=config_file(tmp_path, "p4", one_socket(4, "4ms")))
