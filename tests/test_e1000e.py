"""e1000e on the 82574L (devices-probe-kernels.md §1): three MSI-X vectors (RX, TX,
other) with TX cleaned in the hard IRQ, one vector under MSI or INTx, the ITR in
interrupts/s with e1000_set_itr's classifier, ethtool -S in e1000e's order, its dmesg."""

import pytest

from helpers import config_file, refused, run_both_modes, run_inline

from softnet.cpus.e1000e import e1000_update_itr, e1000e_itr_ns
from softnet.cpus.igb import BULK_LATENCY, LOW_LATENCY, igb_update_itr

EXP = {"seed": 1, "duration": "5ms", "cpus": 2, "nic": {"model": "82574l"},
       "host": {"neigh": {"10.2.0.9": "permanent"}},
       "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                  "rate": "100kpps", "size": 64}],
       "apps": [{"name": "r", "cpu": 1, "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}},
                {"name": "tx", "cpu": 1, "socket": {"proto": "udp"},
                 "send": {"dst": "10.2.0.9:7000", "rate": "50kpps", "size": 64}}]}


def _run(tmp_path, tag, nic=None, **top):
    cfg = {**EXP, "nic": {**EXP["nic"], **(nic or {})}, **top}
    return run_inline(tmp_path / tag, file=config_file(tmp_path, tag, cfg)), tmp_path / tag


def test_msix_rx_tx_and_other_with_tx_cleaned_in_the_hard_irq(tmp_path):
    s, d = _run(tmp_path, "msix")
    assert list(s["vectors"]) == ["eth0-rx-0", "eth0-tx-0", "eth0"]
    irqs = s["probe"][0]["steps"][7]["irqs"]
    assert [i["handler"] for i in irqs] == ["e1000_intr_msix_rx", "e1000_intr_msix_tx",
                                            "e1000_msix_other"]
    lines = [l for l in (d / "proc/interrupts").read_text().splitlines() if "eth0" in l]
    assert lines[1].endswith("IR-PCI-MSIX-0000:02:00.0   1-edge      eth0-tx-0")
    tx = s["vectors"]["eth0-tx-0"]
    assert tx["interrupts"] > 0 and tx["polls"] == 0           # no NAPI for TX
    assert s["vectors"]["eth0-rx-0"]["polls"] > 0
    assert s["on_wire"] > 0 and s["delivered"] > 0 and s["balanced"]


def test_one_vector_under_msi_polls_tx_then_rx(tmp_path):
    s, d = _run(tmp_path, "msi", {"int_mode": "msi"})
    assert list(s["vectors"]) == ["eth0"] and s["vectors"]["eth0"]["polls"] > 0
    assert s["probe"][0]["steps"][7]["irqs"][0]["handler"] == "e1000_intr_msi"
    assert s["on_wire"] > 0 and s["delivered"] > 0
    assert (d / "dmesg.txt").read_text().splitlines() == [
        "e1000e: Intel(R) PRO/1000 Network Driver",
        "e1000e: Copyright(c) 1999 - 2015 Intel Corporation.",
        "e1000e 0000:02:00.0: Interrupt Throttling Rate (ints/sec) set to dynamic "
        "conservative mode",
        "e1000e 0000:02:00.0: Interrupt Mode set to 1",
        "e1000e 0000:02:00.0 eth0: (PCI Express:2.5GT/s:Width x1) 02:53:4e:00:00:01",
        "e1000e 0000:02:00.0 eth0: Intel(R) PRO/1000 Network Connection"]


def test_the_itr_is_in_interrupts_per_second():
    assert e1000e_itr_ns(20000) == 195 * 256          # 1e9 / (20000 * 256) = 195
    assert e1000e_itr_ns(4000) == 976 * 256 and e1000e_itr_ns(0) == 0
    # e1000e leaves bulk below 6,000 bytes an interrupt, igb below 1,500
    assert e1000_update_itr(BULK_LATENCY, 4, 5000) == LOW_LATENCY
    assert igb_update_itr(BULK_LATENCY, 4, 5000) == BULK_LATENCY


@pytest.mark.parametrize("mode", ["msix", "legacy"])
def test_dynamic_modes_classify_each_interrupt(tmp_path, mode):
    """A trickle of small frames is lowest latency: dynamic mode (rx-usecs 1) climbs to
    70,000 interrupts/s in steps of a quarter (20,000 → 37,500 → 55,000 → 70,000);
    dynamic conservative (the default) stays at 20,000; off gigabit it is 4,000."""
    trickle = [{**EXP["flows"][0], "rate": "10kpps"}]
    dyn, _ = _run(tmp_path, f"dyn{mode}", {"int_mode": mode, "rx_usecs": 1},
                  flows=trickle, apps=[])
    rx = "eth0-rx-0" if mode == "msix" else "eth0"
    assert dyn["vectors"][rx]["itr_val"] == 70000
    assert dyn["vectors"][rx]["interval_ns"] == e1000e_itr_ns(70000)
    cons, _ = _run(tmp_path, f"cons{mode}", {"int_mode": mode}, flows=trickle, apps=[])
    assert cons["vectors"][rx]["itr_val"] == 20000
    slow, _ = _run(tmp_path, f"slow{mode}", {"int_mode": mode, "speed": 100},
                   flows=trickle, apps=[])
    assert slow["vectors"][rx]["itr_val"] == 4000


def test_ethtool_s_in_e1000e_order(tmp_path):
    s, d = _run(tmp_path, "ethtool")
    lines = (d / "ethtool_S.txt").read_text().splitlines()
    names = [l.split(":")[0].strip() for l in lines[1:]]
    assert len(names) == 53 and names[:4] == ["rx_packets", "tx_packets", "rx_bytes",
                                              "tx_bytes"]
    assert names[17:19] == ["rx_no_buffer_count", "rx_missed_errors"]
    assert names[-2:] == ["tx_hwtstamp_timeouts", "tx_hwtstamp_skipped"]
    vals = dict(l.strip().split(": ") for l in lines[1:])
    assert int(vals["rx_packets"]) == s["offered"] - s["in_flight_by_place"]["pcie_link"] \
        - s["in_flight_by_place"]["nic_packet_buffer"]


@pytest.mark.parametrize("mode", ["msix", "msi", "legacy"])
def test_identical_in_both_modes(tmp_path, mode):
    """With the interrupt on the CPU the sender is not on: the hard-IRQ TX clean hands
    its sock_wfree and ring progress to the other CPU."""
    cfg = {**EXP, "nic": {"model": "82574l", "int_mode": mode, "rx_usecs": 1},
           "irq": {"smp_affinity": {"eth0-tx-0" if mode == "msix" else "eth0": "1"}}}
    run_both_modes(tmp_path, "--duration", "2ms", file=config_file(tmp_path, mode, cfg))


def test_the_ramp_to_more_interrupts_goes_in_quarter_steps():
    """e1000_set_itr: min(itr + new / 4, new) on the way up, at once on the way down."""
    from softnet.cpus.e1000e import E1000eDriver
    from softnet.cpus.igb import QVector
    from softnet.nic.msix import MsixVector
    qv = QVector(MsixVector(0, "eth0", 65, 0), None, 1, 20000, True, 16)
    qv.single = True
    seen = []
    for _ in range(4):
        qv.rx_total_packets, qv.rx_total_bytes = 1, 64          # lowest latency
        E1000eDriver.e1000_set_itr(None, qv)
        seen.append(qv.itr_val)
    assert seen == [37500, 55000, 70000, 70000]
    assert qv.vec.interval == e1000e_itr_ns(70000)              # written at once
    qv.rx_total_packets, qv.rx_total_bytes = 3, 4500            # low latency
    E1000eDriver.e1000_set_itr(None, qv)
    assert qv.itr_val == 20000


def test_one_napi_and_interrupt_names_of_the_mode(tmp_path):
    s, _ = _run(tmp_path, "napi")
    assert s["probe"][0]["steps"][8]["napi"] == 1               # the TX vector has none
    f = config_file(tmp_path, "aff", EXP)
    assert "the NIC has: eth0" in refused('nic.int_mode="msi"', 'irq.smp_affinity."eth0-rx-0"="2"',
                                          file=f)
    assert "no such IRQ" in refused('irq.smp_affinity."eth0-TxRx-0"="2"', file=f)


def test_refused(tmp_path):
    f = config_file(tmp_path, "r", EXP)
    assert "nic.combined = 2: must be 1-1" in refused("nic.combined=2", file=f)
    assert "4, the simplified mode, is not modelled" in refused("nic.rx_usecs=4", file=f)
    assert "82574l accepts" in refused('nic.rx_flow_hash.udp4="sdfn"', file=f)


@pytest.mark.parametrize("param, words, itr", [
    (0, "turned off", 0), (1, "set to dynamic mode", None), (8000, "set to 8000", 8000)])
def test_the_interrupt_throttle_rate_module_parameter(tmp_path, param, words, itr):
    """InterruptThrottleRate at probe: its line in dmesg, and the ITR until ethtool
    (rx-usecs, given too) overrides it; config.toml reruns it."""
    s, d = _run(tmp_path, f"p{param}", {"interrupt_throttle_rate": param})
    assert (d / "dmesg.txt").read_text().splitlines()[2] == \
        f"e1000e 0000:02:00.0: Interrupt Throttling Rate (ints/sec) {words}"
    rx = s["vectors"]["eth0-rx-0"]
    if itr is not None:
        assert rx["itr_val"] == itr and rx["interval_ns"] == e1000e_itr_ns(itr)
    run_inline(tmp_path / "again", file=str(d / "config.toml"))
    assert (tmp_path / "again" / "summary.json").read_bytes() == \
        (d / "summary.json").read_bytes()
    both, _ = _run(tmp_path, f"both{param}", {"interrupt_throttle_rate": param,
                                              "rx_usecs": 100})
    assert both["vectors"]["eth0-rx-0"]["itr_val"] == 10000      # ethtool's, later


def test_a_rate_keeps_its_mode_bits_in_the_register(tmp_path):
    """e1000e clears the low two bits in itr_setting only: 101 interrupts/s is written as
    1e9 / (101 * 256) = 38,675 units, and the mode test sees 100 (fixed)."""
    s, _ = _run(tmp_path, "r101", {"interrupt_throttle_rate": 101})
    rx = s["vectors"]["eth0-rx-0"]
    assert rx["itr_val"] == 101 and rx["interval_ns"] == 38675 * 256
    u, _ = _run(tmp_path, "u", {"rx_usecs": 300})                 # 3,333 interrupts/s
    assert u["vectors"]["eth0-rx-0"]["interval_ns"] == e1000e_itr_ns(3333)


def test_the_module_parameter_refused(tmp_path):
    f = config_file(tmp_path, "r", EXP)
    for v, says in ((2, "takes 2 as 3"), (4, "simplified mode, is not modelled"),
                    (50, "100-100000 interrupts/s")):
        assert says in refused(f"nic.interrupt_throttle_rate={v}", file=f)
    assert "e1000e's module parameter" in refused(
        'nic.model="i350"', "nic.interrupt_throttle_rate=8000", file=f)
