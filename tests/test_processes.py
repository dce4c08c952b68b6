"""Process mode: real OS processes over ZeroMQ, identical results, failures named."""

import json
import os
import signal

import psutil
import pytest

from helpers import BASIC, run_both_modes, softnet


def test_process_and_inline_give_identical_files(tmp_path):
    sets = ["--set", 'duration="10ms"', "--set", "nic.rx_ring=64", "--set",
            'flows.0.arrival="onoff"', "--set", 'flows.0.on="100us"', "--set",
            'flows.0.off="400us"', "--set", "flows.0.rate=1Mpps"]
    run_both_modes(tmp_path, *sets)
    eng = json.loads((tmp_path / "p" / "engine.json").read_text())
    pids = eng["pids"]
    # 1 + N processes, none of them the coordinator, none left behind
    assert sorted(pids) == ["cpu0", "cpu1", "cpu2", "cpu3", "nic"]
    assert len(set(pids.values())) == 5
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                   for p in pids.values())


def test_default_experiment_in_process_mode(tmp_path):
    r = softnet("run", "--out", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert "built-in default" in r.stderr and "placement:" in r.stderr
    assert "books balance" in r.stdout


def test_bad_value_exits_2_and_writes_nothing(tmp_path):
    r = softnet("run", BASIC, "--out", str(tmp_path / "x"), "--set", "nic.rx_ring=1")
    assert r.returncode == 2
    assert "nic.rx_ring = 1: must be an integer from 64 to 4096" in r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("transport", ["pair", "shm"])
def test_crashed_process_is_named(tmp_path, transport):
    r = softnet("run", BASIC, "--out", str(tmp_path / "c"), "--fault", "cpu2@1000000",
                "--transport", transport)
    assert r.returncode == 3
    assert "cpu2 process failed" in r.stderr and "injected fault" in r.stderr
    assert not (tmp_path / "c").exists()


def test_killed_process_is_named_and_nothing_is_left(tmp_path):
    import subprocess
    import sys
    from helpers import ROOT
    p = subprocess.Popen([sys.executable, "-m", "softnet.coordinator", "run", BASIC, "--out",
                          str(tmp_path / "k"), "--set", 'duration="20s"', "--set",
                          "flows.0.rate=1Mpps"], cwd=ROOT, stderr=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    pids = {}
    for line in p.stderr:
        if line.startswith("placement:"):
            for part in line[len("placement:"):].split(","):
                words = part.split()
                pids[words[0]] = int(words[2])
            break
    assert set(pids) == {"nic", "cpu0", "cpu1", "cpu2", "cpu3"}
    os.kill(pids["cpu1"], signal.SIGKILL)
    rest = p.stderr.read()
    assert p.wait(timeout=60) == 3
    assert "cpu1 process was killed by SIGKILL" in rest
    gone, alive = psutil.wait_procs([psutil.Process(x) for x in pids.values()
                                     if psutil.pid_exists(x)], timeout=10)
    assert not [a for a in alive if a.status() != psutil.STATUS_ZOMBIE]
    assert not (tmp_path / "k").exists()
