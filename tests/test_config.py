"""Bad input is refused before anything starts: exit 2, key, value and what is allowed."""

import os

import pytest

from softnet.coordinator.cli import main

BASE = os.path.join(os.path.dirname(__file__), "..", "examples", "basic.toml")


@pytest.mark.parametrize("setting,expect", [
    ('nic.rx_ring=5000', "nic.rx_ring = 5000: must be an integer from 64 to 4096"),
    ('nic.rx_ring="big"', "nic.rx_ring = 'big'"),
    ('nic.combined=9', "nic.combined = 9: must be 1-8"),
    ('nic.indir="equal 6"', "'equal 6' needs 1..4"),
    ('nic.rx_usecs=5', "igb accepts 0 (off), 1 (dynamic), 3"),
    ('nic.rx_flow_hash.udp4="sdf"', "i350 accepts sd or sdfn"),
    ('nic.duplex="half"', "nic.duplex = 'half': unknown key"),
    ('irq.smp_affinity.eth0-TxRx-2="10"', "names CPU 4, but the host has CPUs 0-3"),
    ('irq.smp_affinity.eth0-rx-9="1"', "no such IRQ"),
    ('net.core.netdev_budget_usecs=100', "must be an integer from 2000"),
    ('net.core.dev_weight=0', "net.core.dev_weight"),
    ('net.core.bogus=1', "unknown sysctl"),
    ('flows.0.rate="lots"', "flows[0].rate = 'lots': not a rate"),
    ('flows.0.size=9000', "64-1518"),
    ('apps.0.cpu=4', "must be a CPU from 0 to 3"),
    ('apps.0.socket.bind="192.168.9.9:9000"', "EADDRNOTAVAIL"),
    ('duration="soon"', "duration = 'soon': not a duration"),
    ('kernel="4.19"', "supported kernels: 3.10, 3.13, 6.6"),
])
def test_refused_with_key_value_and_allowed(setting, expect, capsys, tmp_path):
    out = tmp_path / "run"
    code = main(["run", BASE, "--mode", "inline", "--out", str(out), "--set", setting])
    err = capsys.readouterr().err
    assert code == 2
    assert expect in err and "config error" in err
    assert not out.exists()


def test_missing_file_and_bad_toml(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("cpus = = 4\n")
    assert main(["validate", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_validate_accepts_issue_example(capsys):
    assert main(["validate", BASE]) == 0
    out = capsys.readouterr().out
    assert "ok (4 CPUs, i350 with 4 queues" in out and "does not pair queues" in out
