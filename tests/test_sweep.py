"""`softnet sweep`: a grid of ordinary runs and one table of their figures."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers import ROOT, softnet, summary

from softnet.coordinator import sweep as sweep_mod
from softnet.coordinator.cli import main


def _cmdline(proc) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:                        # it ended meanwhile
        return ""


def _stop_once_running(p, find, n: int) -> None:
    """SIGTERM the sweep `p` once `find()` shows n processes; they must all end."""
    deadline = time.monotonic() + 60
    procs = []
    while len(procs) < n:
        assert time.monotonic() < deadline, "the points never started"
        procs = find()
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 128 + signal.SIGTERM
    gone, alive = psutil.wait_procs(procs, timeout=30)
    assert not alive


def _table(out):
    with open(out / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_grid_of_runs_and_its_table(tmp_path):
    out = tmp_path / "sw"
    assert main(["sweep", "--vary", "flows.0.rate=100kpps,500kpps", "--vary",
                 "cpus=2,4", "--duration", "2ms", "--out", str(out), "--quiet"]) == 0
    rows = _table(out)
    assert [(r["flows.0.rate"], r["cpus"]) for r in rows] == [
        ("100kpps", "2"), ("100kpps", "4"), ("500kpps", "2"), ("500kpps", "4")]
    for r in rows:
        assert r["status"] == "ok"
        s = summary(out / r["dir"])           # each point is an ordinary run directory
        assert s["cpus"] == int(r["cpus"])
        assert int(r["offered"]) == s["offered"]
        assert int(r["delivered"]) == s["delivered"]
        assert int(r["dropped"]) == sum(s["drops"].values())
        for stage, n in s["drops"].items():
            assert int(r[f"drop.{stage}"]) == n
        assert float(r["busy.cpu0"]) == s["cpu_busy_share"]["cpu0"]
    assert int(rows[2]["offered"]) > int(rows[0]["offered"])
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["vary"] == [["flows.0.rate", ["100kpps", "500kpps"]], ["cpus", ["2", "4"]]]
    assert [p["status"] for p in meta["points"]] == ["ok"] * 4
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".softnet-")]


def test_a_failed_point_does_not_lose_the_others(tmp_path, monkeypatch):
    real = sweep_mod.point_argv

    def argv(file, sets, out, mode):
        if "flows.0.rate=200kpps" in sets:
            return [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); "
                    "sys.exit(3)"]
        return real(file, sets, out, mode)
    monkeypatch.setattr(sweep_mod, "point_argv", argv)
    out = tmp_path / "sw"
    assert main(["sweep", "--vary", "flows.0.rate=100kpps,200kpps,300kpps", "--duration",
                 "2ms", "--out", str(out), "--quiet", "--jobs", "2"]) == 3
    rows = _table(out)
    assert [r["status"] for r in rows] == ["ok", "failed: exit 3: boom", "ok"]
    assert rows[1]["offered"] == ""
    assert int(rows[2]["offered"]) > int(rows[0]["offered"])


@pytest.mark.parametrize("vary, says", [
    ("flows.0.rate", "give KEY=VALUE1,VALUE2"),
    ("flows.0.rate=1kpps,,2kpps", "an empty value"),
    ("nic.rx_ring=64,99999", "sweep point 1 (nic.rx_ring=99999)"),
    ("nic.rx_rnig=64,128", "nic.rx_rnig"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path, capsys, vary, says):
    out = tmp_path / "sw"
    assert main(["sweep", "--vary", vary, "--out", str(out), "--quiet"]) == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_no_vary_is_refused(tmp_path, capsys):
    assert main(["sweep", "--out", str(tmp_path / "sw")]) == 2
    assert "--vary" in capsys.readouterr().err


def test_a_stop_ends_every_point_and_leaves_nothing(tmp_path):
    out = tmp_path / "sw"
    p = subprocess.Popen([sys.executable, "-m", "softnet.coordinator", "sweep", "--vary",
                          "flows.0.rate=100kpps,101kpps,102kpps,103kpps", "--duration",
                          "2s", "--jobs", "1", "--mode", "process", "--out", str(out)],
                         cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:                   # the sweep has started its first point
            if "sweep of 4 points" in line:
                break
        # once the first point's LP processes are up
        _stop_once_running(p, lambda: [c for c in psutil.Process(p.pid).children(
            recursive=True) if "softnet: cpu" in _cmdline(c)], 1)
        rest = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    # the point the stop ended is not reported as a failure of its own
    assert "failed" not in rest and "exit 143" not in rest, rest
    assert not out.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".softnet-")]


def test_force_replaces_only_softnet_output(tmp_path):
    out = tmp_path / "sw"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    r = softnet("sweep", "--vary", "flows.0.rate=100kpps,200kpps", "--duration", "1ms",
                "--out", str(out), "--force")
    assert r.returncode == 2 and "nothing was removed" in r.stderr
    assert (out / "mine.txt").exists()


def test_points_on_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")   # softnet[cluster]; tox installs it
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "sw"
        assert main(["sweep", "--vary", "flows.0.rate=100kpps,500kpps", "--duration", "2ms",
                     "--out", str(out), "--quiet", "--scheduler", cluster.scheduler_address,
                     "--plot", "offered"]) == 0
    rows = _table(out)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    here = tmp_path / "here"
    assert main(["sweep", "--vary", "flows.0.rate=100kpps,500kpps", "--duration", "2ms",
                 "--out", str(here), "--quiet"]) == 0
    for r, h in zip(rows, _table(here)):     # the same runs, wherever they ran
        assert (out / r["dir"] / "summary.json").read_bytes() == \
            (here / h["dir"] / "summary.json").read_bytes()


def test_an_unreachable_scheduler_is_refused(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "sw"
    assert main(["sweep", "--vary", "flows.0.rate=100kpps,500kpps", "--out", str(out),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "running dask scheduler" in err   # refused at once
    assert not out.exists()


def test_a_stopped_cluster_sweep_ends_its_running_points(tmp_path):
    """A cancelled Dask task's child would run on: the stop ends it on the worker."""
    distributed = pytest.importorskip("distributed")
    import tempfile
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        out = tmp_path / "sw"
        p = subprocess.Popen([sys.executable, "-m", "softnet.coordinator", "sweep", "--vary",
                              "flows.0.rate=100kpps,200kpps", "--duration", "10s", "--out",
                              str(out), "--scheduler", cluster.scheduler_address],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            # once both points' runs are going (the in-process cluster's workers start
            # them: they are this process's children)
            _stop_once_running(p, lambda: [c for c in psutil.Process().children()
                                           if "coordinator run" in _cmdline(c)], 2)
        finally:
            if p.poll() is None:
                p.kill()
        assert not out.exists()
        # each ended run's worker thread removes its directory as its child returns
        deadline = time.monotonic() + 30
        while [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("softnet-point-")]:
            assert time.monotonic() < deadline, "a point's directory was left behind"


def test_values_may_be_lists_or_tables():
    from softnet.coordinator.sweep import parse_vary, split_values
    assert split_values('["1ms", "2ms"],["2ms", "3ms"]') == ['["1ms", "2ms"]', '["2ms", "3ms"]']
    assert split_values('{ a = 1, b = "x,y" }, 7') == ['{ a = 1, b = "x,y" }', "7"]
    assert split_values("100kpps, 200kpps") == ["100kpps", "200kpps"]
    assert parse_vary(['observe.trace_window=["1ms","2ms"],["2ms","3ms"]']) == \
        [("observe.trace_window", ['["1ms","2ms"]', '["2ms","3ms"]'])]


def test_a_quoted_string_value_is_shown_once_quoted():
    """kernel="3.13" is the string 3.13 in the table (csv quotes only what needs it)."""
    from softnet.coordinator.sweep import table
    vary = [("kernel", ['"3.13"', '"6.6"']), ("flows.0.rate", ["100kpps", "2"])]
    pts = [[("kernel", '"3.13"'), ("flows.0.rate", "100kpps")],
           [("kernel", '"6.6"'), ("flows.0.rate", "2")]]
    rows = list(csv.DictReader(io.StringIO(table(vary, pts, [
        {"dir": "points/0", "status": "ok"}, {"dir": "points/1", "status": "ok"}]))))
    assert [(r["kernel"], r["flows.0.rate"]) for r in rows] == [("3.13", "100kpps"),
                                                                ("6.6", "2")]
