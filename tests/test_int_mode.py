"""The interrupt capability the probe ends with (`nic.int_mode`, devices-probe-kernels.md
§1.2, §3): igb falls back from MSI-X to MSI to legacy INTx with one queue pair and one
vector under the interface's name, whose handler reads ICR across PCIe; /proc/interrupts
shows each as 6.6 prints it; without MSI-X igb moderates with igb_set_itr."""

import pytest

from helpers import config_file, refused, run_both_modes, run_inline

from softnet.cpus.igb import (BULK_LATENCY, IGB_4K_ITR, IGB_20K_ITR, LOW_LATENCY,
                              LOWEST_LATENCY, igb_update_itr)

EXP = {"seed": 1, "duration": "5ms", "cpus": 2, "nic": {"model": "i350"},
       "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                  "rate": "300kpps", "size": 64}],
       "apps": [{"name": "r", "cpu": 1, "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}}]}


def _run(tmp_path, mode, **nic):
    f = config_file(tmp_path, mode, {**EXP, "nic": {**EXP["nic"], "int_mode": mode, **nic}})
    return run_inline(tmp_path / mode, file=f), tmp_path / mode


def _nic_lines(run):
    return [l for l in (run / "proc/interrupts").read_text().splitlines()[1:]
            if "eth0" in l]


def test_each_mode_as_proc_interrupts_shows_it(tmp_path):
    msix, d = _run(tmp_path, "msix")
    lines = _nic_lines(d)
    assert [l.split()[-1] for l in lines] == ["eth0", "eth0-rx-0", "eth0-rx-1", "eth0-tx-0",
                                              "eth0-tx-1"]
    assert lines[1].startswith(" 66:") and \
        "  IR-PCI-MSIX-0000:01:00.0   1-edge      eth0-rx-0" in lines[1]
    msi, d = _run(tmp_path, "msi")
    assert _nic_lines(d) == [" 65:        100          0  IR-PCI-MSI-0000:01:00.0   0-edge"
                             "      eth0"]
    legacy, d = _run(tmp_path, "legacy")
    assert _nic_lines(d) == [" 16:        100          0  IR-IO-APIC  16-fasteoi   eth0"]
    assert msi["delivered"] == legacy["delivered"] == msix["delivered"] > 0
    assert "int_mode = \"legacy\"" in (d / "config.toml").read_text()


def test_without_msix_one_vector_takes_every_cause_and_reads_icr(tmp_path):
    """One queue pair (RSS collapses onto one CPU's interrupt), and each interrupt costs
    the ICR read across PCIe (the profile's links.pcie_read) on top of the MSI-X one."""
    msix, _ = _run(tmp_path, "msix", combined=1)
    msi, _ = _run(tmp_path, "msi")
    assert list(msi["vectors"]) == ["eth0"] and msi["vectors"]["eth0"]["polls"] > 0

    def per_irq(s):
        hard = sum(t["hardirq"] for t in s["cpu_time_ns"].values())
        irqs = sum(v.get("interrupts", 0) for v in s["vectors"].values())
        return hard / irqs
    from softnet.cpus.costs import load_profile
    icr = load_profile("xeon-e5-1650v4")["links"]["pcie_read"]
    assert abs(per_irq(msi) - per_irq(msix) - icr) < 20, (per_irq(msi), per_irq(msix))


@pytest.mark.parametrize("mode", ["msi", "legacy"])
def test_identical_in_both_modes(tmp_path, mode):
    f = config_file(tmp_path, mode, {**EXP, "nic": {"model": "i350", "int_mode": mode}})
    run_both_modes(tmp_path, "--duration", "2ms", file=f)


def test_refused(tmp_path):
    f = config_file(tmp_path, "r", EXP)
    assert "nic.combined = 2: must be 1-1 (without MSI-X igb uses one queue pair)" in \
        refused('nic.int_mode="msi"', "nic.combined=2", file=f)
    assert "e810 (ice) offers 'msix': its driver needs MSI-X to probe" in \
        refused('nic.model="e810"', 'nic.int_mode="msi"', file=f)
    assert "i350 (igb) offers 'msix', 'msi', 'legacy'" in \
        refused('nic.int_mode="intx"', file=f)
    assert "with more than one port" in refused('nic.int_mode="msi"', "nic.ports=2", file=f)


def test_igb_update_itr_classifies_what_a_container_moved():
    assert igb_update_itr(LOWEST_LATENCY, 0, 0) == LOWEST_LATENCY        # nothing moved
    assert igb_update_itr(LOWEST_LATENCY, 4, 6000) == LOW_LATENCY        # few, big
    assert igb_update_itr(LOWEST_LATENCY, 2, 18000) == BULK_LATENCY      # TSO-sized
    assert igb_update_itr(LOW_LATENCY, 20, 30000) == BULK_LATENCY        # 1,500-byte frames
    assert igb_update_itr(LOW_LATENCY, 200, 12800) == LOWEST_LATENCY     # many small
    assert igb_update_itr(LOW_LATENCY, 2, 128) == LOWEST_LATENCY
    assert igb_update_itr(BULK_LATENCY, 10, 1000) == LOW_LATENCY
    assert igb_update_itr(BULK_LATENCY, 20, 30000) == BULK_LATENCY


def test_big_frames_move_the_single_vector_to_bulk_in_steps(tmp_path):
    """1,518-byte frames: each interrupt's containers classify as bulk, so igb_set_itr
    moves from 20K towards 4K interrupts/s, a rise approached in steps."""
    s, _ = _run(tmp_path, "msi", rx_usecs=3)
    assert s["vectors"]["eth0"]["itr_val"] == IGB_20K_ITR                # small frames
    big = {**EXP, "nic": {"model": "i350", "int_mode": "msi"},
           "flows": [{**EXP["flows"][0], "size": 1518, "rate": "60kpps"}]}
    b = run_inline(tmp_path / "big", file=config_file(tmp_path, "big", big))
    assert b["vectors"]["eth0"]["itr_val"] == IGB_4K_ITR
