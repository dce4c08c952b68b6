"""Interrupt-driven receive (`nic.napi = false`, cpus/intr_rx.py): the hard IRQ takes every
frame to netif_rx and NET_RX's process_backlog does the protocol work; past saturation the
handler starves it and delivery collapses (receive livelock) where NAPI's stays flat."""

import pytest

from helpers import balanced, config_file, refused, run_both_modes, run_inline

FLOOD = {"seed": 1, "duration": "5ms", "cpus": 1,
         "nic": {"model": "i350", "combined": 1, "rx_usecs": 0},
         "flows": [{"name": "flood", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                    "rate": "400kpps", "size": 64}]}


def _run(tmp_path, tag, napi, rate, **nic):
    cfg = {**FLOOD, "nic": {**FLOOD["nic"], "napi": napi, **nic},
           "flows": [{**FLOOD["flows"][0], "rate": rate}]}
    return run_inline(tmp_path / tag, file=config_file(tmp_path, tag, cfg))


def test_interrupt_driven_receive_livelocks_where_napi_stays_flat(tmp_path):
    """No port listens: what completes the protocol path is counted as NoPorts. With an
    interrupt per frame (rx-usecs 0) the handler's work grows with the load until it
    leaves NET_RX nothing."""
    rates = ("400kpps", "800kpps", "1200kpps", "1488kpps")
    intr = [_run(tmp_path, f"i{r}", False, r) for r in rates]
    napi = [_run(tmp_path, f"n{r}", True, r) for r in rates]
    got = [s["drops"].get("udp_no_ports", 0) for s in intr]
    # NAPI: every frame but the few still in flight at the end; flat
    assert all(s["drops"]["udp_no_ports"] == s["offered"] - s["in_flight"]
               and s["in_flight"] < 50 for s in napi)
    assert got[0] == intr[0]["offered"] - intr[0]["in_flight"]   # below saturation, all
    # past saturation it falls as the load grows, to almost nothing
    assert got[1] < 0.9 * intr[1]["offered"] and got[1] > got[2] >= got[3], got
    assert got[3] < got[0] / 10, got
    worst = intr[-1]
    # the frames were taken off the ring (no NIC drop), then lost in the backlog after
    # their interrupt work; the CPU spent the run in hard IRQ
    # (what is not dropped waits in the full backlog: netdev_max_backlog + 1)
    assert worst["drops"]["backlog"] + worst["in_flight"] == worst["offered"]
    assert worst["in_flight_by_place"]["backlog"] == 1001
    assert not worst["drops"].get("nic_rx_missed") and not worst["drops"].get("nic_rx_no_buffer")
    assert worst["softnet"]["cpu0"]["dropped"] == worst["drops"]["backlog"]
    assert worst["cpu_time_ns"]["cpu0"]["hardirq"] > 0.95 * worst["duration_ns"]
    assert all(balanced(s) for s in intr + napi)


def test_the_hard_irq_cleans_and_the_backlog_processes(tmp_path):
    """With an ITR each interrupt's handler cleans every frame that is in; no NAPI poll
    runs; each frame goes through the backlog (softnet processed), whose NET_RX runs as
    the interrupt exits."""
    s = _run(tmp_path, "itr", False, "400kpps", rx_usecs=50)
    vec = s["vectors"]["eth0-TxRx-0"] if "eth0-TxRx-0" in s["vectors"] else \
        next(v for k, v in s["vectors"].items() if "rx" in k)
    assert vec["polls"] == 0 and 0 < vec["interrupts"] < s["offered"] / 10
    assert s["softnet"]["cpu0"]["processed"] == s["drops"]["udp_no_ports"] \
        == s["offered"] - s["in_flight"]
    t = s["cpu_time_ns"]["cpu0"]
    assert t["hardirq"] > 0 and t["softirq"] > 0
    assert (tmp_path / "itr" / "config.toml").read_text().count("napi = false") == 1
    run_inline(tmp_path / "again", file=str(tmp_path / "itr" / "config.toml"))
    assert (tmp_path / "again" / "summary.json").read_bytes() == \
        (tmp_path / "itr" / "summary.json").read_bytes()


def test_identical_in_both_modes_with_rps_to_another_cpu(tmp_path):
    """netif_rx steers by RPS: the IPI leaves at the end of the IRQ CPU's NET_RX."""
    cfg = {**FLOOD, "cpus": 2,
           "nic": {**FLOOD["nic"], "napi": False, "rps_cpus": {"rx-0": "1"}},
           "apps": [{"name": "r", "cpu": 0,
                     "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}}]}
    f = config_file(tmp_path, "rps", cfg)
    run_both_modes(tmp_path, "--duration", "3ms", file=f)
    s = run_inline(tmp_path / "one", file=f)
    assert s["softnet"]["cpu0"]["received_rps"] > 0 and s["delivered"] > 0
    assert balanced(s)


@pytest.mark.parametrize("sets, says", [
    (["nic.napi=1"], "nic.napi = 1: true (NAPI polling, the default) or false"),
    (["nic.model=\"e810\"", "nic.napi=false"], "add nic.adaptive_rx = false and "
     "nic.adaptive_tx = false"),
    (["nic.model=\"e810\"", "nic.napi=false", "nic.adaptive_rx=false"],
     "add nic.adaptive_tx = false"),
])
def test_refused(tmp_path, sets, says):
    f = config_file(tmp_path, "r", {**FLOOD, "nic": {"model": "i350", "combined": 1}})
    assert says in refused(*sets, file=f)


def test_an_e810_with_a_fixed_itr_runs_without_napi(tmp_path):
    s = _run(tmp_path, "ice", False, "400kpps", model="e810", adaptive_rx=False,
             adaptive_tx=False, rx_usecs=20)
    assert s["drops"]["udp_no_ports"] == s["offered"] - s["in_flight"] and balanced(s)


def test_a_napi_weight_is_the_polls_quota(tmp_path):
    """nic.napi_weight (a rebuilt driver's netif_napi_add weight): at full load each poll
    takes at most that many frames; config.toml keeps it, and only where it is not the
    driver's own."""
    full = _run(tmp_path, "w64", True, "1488kpps", rx_usecs=100)
    small = _run(tmp_path, "w4", True, "1488kpps", rx_usecs=100, napi_weight=4)
    polls = {k: next(v["polls"] for v in s["vectors"].values() if v.get("polls"))
             for k, s in (("64", full), ("4", small))}
    done = small["softnet"]["cpu0"]["processed"]
    assert polls["4"] >= done / 4 and polls["4"] > 4 * polls["64"], polls
    assert "napi_weight = 4" in (tmp_path / "w4" / "config.toml").read_text()
    assert "napi_weight" not in (tmp_path / "w64" / "config.toml").read_text()
    assert "nic.napi = false has no NAPI" in refused(
        "nic.napi=false", "nic.napi_weight=8",
        file=config_file(tmp_path, "r", FLOOD))


def test_a_port_forced_to_10_mbps(tmp_path):
    """nic.speed (ethtool -s eth0 speed 10): frames cross the wire at 10 Mb/s (64-byte
    frames plus preamble and gap: 14,880 a second), and igb, off gigabit, moderates at
    IGB_4K_ITR; the model's own speeds only."""
    s = _run(tmp_path, "ten", False, "100kpps", speed=10, rx_usecs=3)
    assert 14_880 * 5 // 1000 - 1 <= s["offered"] <= 14_880 * 5 // 1000 + 1
    vec = next(v for v in s["vectors"].values() if v.get("interrupts"))
    assert vec["itr_val"] == 980
    assert "speed = 10\n" in (tmp_path / "ten" / "config.toml").read_text()
    assert "i350 links at 10, 100, 1000 Mb/s" in refused(
        "nic.speed=50", file=config_file(tmp_path, "r", FLOOD))


def test_a_softirq_raised_in_the_hard_irq_waits_for_irq_exit(tmp_path):
    """Cleaning TX in the handler wakes a stopped queue: NET_TX is raised in interrupt
    context, so it runs at irq exit and ksoftirqd is never woken for it."""
    cfg = {**FLOOD, "nic": {**FLOOD["nic"], "napi": False, "rx_usecs": 50, "tx_ring": 80},
           "host": {"neigh": {"10.2.0.9": "permanent"}},
           "flows": [{**FLOOD["flows"][0], "rate": "100kpps"}],
           "apps": [{"name": "tx", "cpu": 0, "socket": {"proto": "udp", "sndbuf": 4000000},
                     "send": {"dst": "10.2.0.9:7000", "size": 64}}]}
    s = run_inline(tmp_path / "tx", file=config_file(tmp_path, "tx", cfg))
    assert s["on_wire"] > 0
    assert s["cpu_time_ns"]["cpu0"]["ksoftirqd"] == 0
