"""net_dim (lib/dim, Linux 6.6) and ice's adaptive-rx: the algorithm step by step, and an
E810 whose interrupt rate follows its load."""

import csv

import pytest

from helpers import refused, run_both_modes, run_inline

from softnet.cpus.dim import (DIM_APPLY_NEW_PROFILE, DIM_GOING_LEFT, DIM_GOING_RIGHT,
                              DIM_MEASURE_IN_PROGRESS, DIM_PARKING_ON_TOP,
                              DIM_PARKING_TIRED, DIM_STATS_BETTER, DIM_STATS_SAME,
                              DIM_STATS_WORSE, Dim, DimSample, DimStats, dim_calc_stats,
                              net_dim, net_dim_decision, net_dim_stats_compare, significant)


def test_significant_is_above_ten_percent_in_integers():
    assert significant(111, 100) and not significant(110, 100)
    assert significant(89, 100) and not significant(90, 100)
    assert not significant(5, 0)                    # no reference: never


def test_rates_per_ms_count_64_events_whatever_passed():
    s = dim_calc_stats(DimSample(0, 0, 0, 0), DimSample(2_000_000, 1000, 64_000, 100))
    assert (s.ppms, s.bpms, s.epms) == (500, 32_000, 32)      # 64 events / 2 ms
    assert dim_calc_stats(DimSample(0), DimSample(999)) is None   # no µs passed
    # 32-bit counters wrap (BIT_GAP)
    w = dim_calc_stats(DimSample(0, 0xFFFFFFF0, 0, 0), DimSample(1_000_000, 0x10, 0, 64))
    assert w.ppms == 32


@pytest.mark.parametrize("curr, prev, res", [
    ((10, 100, 5), (10, 0, 5), DIM_STATS_BETTER),     # bytes from none
    ((10, 0, 5), (10, 0, 5), DIM_STATS_SAME),
    ((10, 120, 5), (10, 100, 5), DIM_STATS_BETTER),   # more bytes
    ((10, 80, 5), (10, 100, 5), DIM_STATS_WORSE),
    ((20, 105, 5), (10, 100, 5), DIM_STATS_BETTER),   # bytes alike: more packets
    ((10, 105, 4), (10, 100, 5), DIM_STATS_BETTER),   # … alike: fewer interrupts
    ((10, 105, 9), (10, 100, 5), DIM_STATS_WORSE),
    ((10, 105, 5), (10, 100, 5), DIM_STATS_SAME),
])
def test_stats_compare_bytes_then_packets_then_interrupts(curr, prev, res):
    assert net_dim_stats_compare(DimStats(*curr), DimStats(*prev)) == res


def _decide(dim, ppms, bpms, epms):
    return net_dim_decision(DimStats(ppms, bpms, epms), dim)


def test_a_rising_byte_rate_walks_right_to_the_edge_and_parks():
    dim = Dim(1)
    assert _decide(dim, 10, 100, 50)                 # parked, then BETTER: exit to the left
    assert (dim.profile_ix, dim.tune_state) == (0, DIM_GOING_LEFT)
    # not better: turn right (index 1), then better and better up to index 4
    assert _decide(dim, 10, 100, 50) and dim.profile_ix == 1
    assert dim.tune_state == DIM_GOING_RIGHT
    for want in (2, 3, 4):
        assert _decide(dim, 10, dim.prev_stats.bpms * 2, 50)
        assert dim.profile_ix == want
    assert not _decide(dim, 10, dim.prev_stats.bpms * 2, 50)   # on the edge: park
    assert dim.tune_state == DIM_PARKING_ON_TOP and dim.profile_ix == 4
    # parked: the same stats keep it there; a significant change exits
    assert not _decide(dim, 10, dim.prev_stats.bpms, 50)
    assert _decide(dim, 10, dim.prev_stats.bpms // 2, 50) and dim.profile_ix == 3


def test_alternating_steps_tire_and_rest():
    dim = Dim(2)
    dim.tune_state, dim.prev_stats = DIM_GOING_RIGHT, DimStats(10, 100, 50)
    seen = []
    for _ in range(21):
        _decide(dim, 10, 100, 50)
        seen.append((dim.profile_ix, dim.tune_state))
    assert [ix for ix, _ in seen[:10]] == [1, 2] * 5    # never better: it turns every time
    # ten steps tire it (NET_DIM_PARAMS_NUM_PROFILES * 2): it rests as many decisions …
    assert seen[10:20] == [(2, DIM_PARKING_TIRED)] * 10, seen
    assert seen[20] == (1, DIM_GOING_LEFT)              # … then leaves parking


def test_no_decision_before_64_interrupts_and_none_while_a_profile_applies():
    dim = Dim(1)
    assert not net_dim(dim, DimSample(0, 0, 0, 0))
    assert dim.state == DIM_MEASURE_IN_PROGRESS
    assert not net_dim(dim, DimSample(1_000_000, 100, 6400, 63))
    assert dim.decisions == 0
    assert net_dim(dim, DimSample(2_000_000, 200, 12800, 64))    # bytes from none: move
    assert dim.state == DIM_APPLY_NEW_PROFILE and dim.decisions == 1
    assert not net_dim(dim, DimSample(3_000_000, 300, 19200, 200))   # until it is applied


E810 = """
seed = 3
duration = "{dur}"
cpus = 1
[nic]
model = "e810"
combined = 1
{nic}
[observe]
interval = "500us"
[[flows]]
name = "light"
src = "10.0.0.2:40000"
dst = "10.0.0.1:9000"
rate = "20kpps"
size = 64
stop = "10ms"
[[flows]]
name = "heavy"
src = "10.0.0.3:40000"
dst = "10.0.0.1:9000"
rate = "1500kpps"
size = 1518
start = "10ms"
[[apps]]
name = "r"
cpu = 0
socket = {{ proto = "udp", bind = "0.0.0.0:9000", rcvbuf = 8000000 }}
"""


def _itr(out):
    with open(out / "timeseries" / "queue.csv", newline="") as f:
        return [(int(r["t_ns"]), int(r["itr_interval_ns"])) for r in csv.DictReader(f)]


def test_an_e810_moderates_more_as_its_load_grows(tmp_path):
    """adaptive-rx (the E810's default): light load keeps a short ITR, a heavy one moves
    net_dim right to a longer ITR (fewer interrupts per packet); with it off the ITR is
    rx_usecs throughout."""
    f = tmp_path / "e810.toml"
    f.write_text(E810.format(dur="40ms", nic=""))
    s = run_inline(tmp_path / "dim", file=str(f))
    itr = _itr(tmp_path / "dim")
    light = {v for t, v in itr if 2_000_000 <= t < 10_000_000}
    heavy = [v for t, v in itr if t >= 30_000_000]
    assert max(light) <= 16_000 and min(heavy) > max(light), itr
    vec = s["vectors"]["ice-eth0-TxRx-0"]
    assert vec["dim"]["profile_changes"] >= 2 and vec["dim"]["decisions"] > 2
    f.write_text(E810.format(dur="40ms", nic="adaptive_rx = false\nrx_usecs = 50"))
    run_inline(tmp_path / "fixed", file=str(f))
    assert {v for _, v in _itr(tmp_path / "fixed")} == {50_000}


def test_a_new_profile_waits_for_the_kworker_that_writes_it(tmp_path):
    """ice_rx_dim_work runs from the system workqueue: on a CPU that idles between polls
    its kworker runs as the softirq ends; behind a reader that never sleeps it waits for
    the reader's slice (EEVDF's RUN_TO_PARITY), measuring paused meanwhile."""
    f = tmp_path / "e810.toml"
    f.write_text(E810.format(dur="40ms", nic=""))
    busy = run_inline(tmp_path / "busy", file=str(f))["vectors"]["ice-eth0-TxRx-0"]["dim"]
    idle = run_inline(tmp_path / "idle", "apps.0.socket.bind=0.0.0.0:9001",   # NoPorts
                      file=str(f))["vectors"]["ice-eth0-TxRx-0"]["dim"]
    assert idle["applied"] >= 2 and busy["applied"] >= 2
    assert idle["applied"] >= idle["profile_changes"] - 1      # at most one pending
    # the context switch to the kworker (1,070 ns) and the ITR write, nothing else
    assert idle["apply_wait_us"]["max"] < 5, idle
    assert busy["apply_wait_us"]["max"] > 750, busy            # at least a base slice
    # a write between interrupts moves an armed vector's next one, the same in both modes
    # (here the responses' TX completions and a flood share the server's core)
    from helpers import ROOT
    run_both_modes(tmp_path / "both", "--set", 'duration="5ms"', "--set",
                   "flows.1.rate=2Mpps", file=f"{ROOT}/examples/rr_flood.toml")


def test_the_tx_container_has_its_own_dim(tmp_path):
    """adaptive-tx: a vector that cleans a TX ring runs net_dim on its TX packets too,
    and its TX causes are throttled by that ITR; off, by the static 50 µs."""
    from helpers import ROOT
    s = run_inline(tmp_path / "on", 'duration="5ms"', file=f"{ROOT}/examples/udp_rr.toml")
    tx = [v["tx_dim"] for v in s["vectors"].values() if "tx_dim" in v]
    assert tx and all(d["itr_us"] in (2, 8, 40, 128, 256) for d in tx)
    assert any(d["decisions"] > 0 for d in tx)      # the queues the responses leave by
    off = run_inline(tmp_path / "off", 'duration="5ms"', "nic.adaptive_tx=false",
                     file=f"{ROOT}/examples/udp_rr.toml")
    assert not any("tx_dim" in v for v in off["vectors"].values())
    assert off["rr"] != s["rr"]                       # the TX throttle is another
    assert "igb has no adaptive-tx" in refused("nic.adaptive_tx=true")   # the default I350


def test_a_pending_profile_work_is_not_queued_twice():
    """schedule_work on a pending dim->work does nothing (a stale measurement restarted
    while the kworker waits can decide again); once it ran, the next is queued."""
    from softnet.cpus.ice import IceDriver

    class Cpu:
        def __init__(self):
            self.queued = []

        def queue_work(self, work):
            self.queued.append(work)
    drv = IceDriver.__new__(IceDriver)
    drv.cpu = Cpu()
    dim = Dim(1)
    drv._schedule_work(dim, iter(()))
    drv._schedule_work(dim, iter(()))
    assert len(drv.cpu.queued) == 1 and dim.work_pending
    dim.work_ran(5)
    drv._schedule_work(dim, iter(()))
    assert len(drv.cpu.queued) == 2
