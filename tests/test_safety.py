"""Safe to run (issue 9): signals and kills with real processes, the run directory's
claim and swap, damaged run directories, the command line's own manners, progress."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers import BASIC, ROOT, softnet

from softnet.coordinator import cli, progress as progress_mod
from softnet.coordinator.cli import main
from softnet.coordinator.rundir import MARKER

SENDER = os.path.join(ROOT, "examples", "sender.toml")
STOP = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _default_signals():
    # a shell's background job inherits SIGINT ignored, and softnet keeps an inherited
    # SIG_IGN (as nohup expects); these tests need the signals live
    for s in STOP:
        signal.signal(s, signal.SIG_DFL)


def _start(tmp_path, *extra):
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    return subprocess.Popen([sys.executable, "-m", "softnet.coordinator", "run", BASIC,
                             "--out", str(tmp_path / "out"), "--set", 'duration="20s"',
                             "--set", "flows.0.rate=1Mpps", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT, preexec_fn=_default_signals)


def _children(p) -> list[psutil.Process]:
    """Wait until the coordinator has started its LP processes (start-up)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = psutil.Process(p.pid).children()
        if kids:
            return kids
        time.sleep(0.01)
    raise AssertionError("no LP process started")


def _placement(p) -> dict[str, int]:
    """Read stderr up to the placement line (every LP is up: mid-run)."""
    for line in p.stderr:
        if line.startswith("placement:"):
            return {w.split()[0]: int(w.split()[2])
                    for w in line[len("placement:"):].split("(")[0].split(",")}
    raise AssertionError("no placement line")


def _all_gone(procs) -> None:
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not [a for a in alive if a.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("sig", STOP, ids=lambda s: s.name)
@pytest.mark.parametrize("when", ["start-up", "mid-run"])
def test_a_stop_signal_ends_every_process_with_one_line(tmp_path, sig, when):
    p = _start(tmp_path)
    if when == "start-up":
        kids = _children(p)
    else:
        pids = _placement(p)
        kids = [psutil.Process(x) for x in pids.values()]
        # every process says what it is in ps and top
        assert {k.cmdline()[0] for k in kids} == {f"softnet: {n}" for n in pids}
        assert " ".join(psutil.Process(p.pid).cmdline()).startswith(
            f"softnet: coordinator run {BASIC} --out")
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"softnet: stopped by {sig.name}")
    _all_gone(kids)
    assert os.listdir(tmp_path / "tmp") == []            # the ipc directory is gone
    assert sorted(os.listdir(tmp_path)) == ["tmp"]        # no --out, no lock, no staging


@pytest.mark.parametrize("when", ["start-up", "mid-run"])
def test_children_end_when_the_coordinator_is_killed(tmp_path, when):
    p = _start(tmp_path)
    if when == "start-up":
        kids = _children(p)
    else:
        kids = [psutil.Process(x) for x in _placement(p).values()]
    p.kill()
    p.wait(timeout=10)
    _all_gone(kids)
    assert os.listdir(tmp_path / "tmp") == []
    assert sorted(os.listdir(tmp_path)) == ["tmp"]    # the children drop the lock too


# -- the run directory -------------------------------------------------------------------

def _run(tmp_path, out, *extra, file=BASIC):
    return main(["run", file, "--mode", "inline", "--quiet", "--duration", "1ms",
                 "--out", str(out), *extra])


@pytest.fixture
def no_simulation(monkeypatch):
    """Any refusal of --out must come before the simulation starts."""
    def boom(*a, **k):
        raise AssertionError("simulated although --out was unusable")
    monkeypatch.setattr(cli, "run_inline_mode", boom)
    monkeypatch.setattr(cli, "run_process_mode", boom)


def test_force_replaces_only_a_run_directory(tmp_path, capsys, no_simulation):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    assert _run(tmp_path, home, "--force") == 2
    err = capsys.readouterr().err
    assert "--force replaces only a softnet run directory" in err and "nothing was removed" in err
    assert (home / "thesis.tex").read_text() == "years of work"
    assert _run(tmp_path, home) == 2
    assert "exists and is not empty" in capsys.readouterr().err


@pytest.mark.parametrize("legacy", [False, True], ids=["marker", "legacy"])
def test_force_replaces_a_run_directory(tmp_path, legacy):
    out = tmp_path / "r"
    assert _run(tmp_path, out) == 0
    assert (out / MARKER).is_file()
    if legacy:                       # written before the marker existed
        (out / MARKER).unlink()
    before = json.loads((out / "summary.json").read_text())
    assert _run(tmp_path, out, "--force", "--seed", "7") == 0
    after = json.loads((out / "summary.json").read_text())
    assert before["offered"] != after["offered"] or before != after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]    # no staging left


def test_a_failed_run_keeps_the_old_directory(tmp_path):
    out = tmp_path / "r"
    assert _run(tmp_path, out) == 0
    old = (out / "summary.json").read_bytes()
    r = softnet("run", BASIC, "--out", str(out), "--force", "--duration", "5ms",
                "--fault", "cpu1@1000")
    assert r.returncode == 3, r.stderr
    assert (out / "summary.json").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.parametrize("case", ["under-a-file", "a-file", "name-too-long", "unwritable"])
def test_an_unusable_out_is_refused_before_the_run(tmp_path, capsys, no_simulation, case):
    f = tmp_path / "f"
    f.write_text("x")
    out, msg = {"under-a-file": (f / "run", "not a directory"),
                "a-file": (f, "exists and is not a directory"),
                "name-too-long": (tmp_path / ("n" * 300), "too long"),
                "unwritable": ("/proc/self/softnet-run", "cannot")}[case]
    assert _run(tmp_path, out) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err, err
    assert f.read_text() == "x"


def test_two_runs_cannot_share_an_out(tmp_path, capsys, no_simulation):
    lock = tmp_path / ".r.softnet-lock"            # what a running softnet holds
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert _run(tmp_path, tmp_path / "r") == 2
        assert "another softnet run is writing there" in capsys.readouterr().err
    finally:
        os.close(fd)
    assert not (tmp_path / "r").exists()


# -- show on damaged run directories ----------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("show") / "r"
    assert main(["run", BASIC, "--mode", "inline", "--quiet", "--duration", "1ms",
                 "--out", str(out)]) == 0
    return out


def _damage(run_dir, tmp_path, case):
    d = tmp_path / "d"
    shutil.copytree(run_dir, d)
    s = d / "summary.json"
    if case == "empty":
        s.write_text("")
    elif case == "truncated":
        s.write_text(s.read_text()[:200])
    elif case == "array":
        s.write_text("[1, 2]")
    elif case == "directory":
        s.unlink()
        s.mkdir()
    elif case == "missing-keys":
        s.write_text(json.dumps({"duration_ns": 1}))
    elif case == "wrong-types":
        j = json.loads(s.read_text())
        j["cpu_time_ns"] = 5
        s.write_text(json.dumps(j))
    elif case == "absent":
        s.unlink()
    return d


@pytest.mark.parametrize("case", ["empty", "truncated", "array", "directory",
                                  "missing-keys", "wrong-types", "absent"])
def test_show_on_a_damaged_summary(run_dir, tmp_path, capsys, case):
    d = _damage(run_dir, tmp_path, case)
    assert main(["show", str(d)]) == 2
    err = capsys.readouterr().err
    assert "summary.json" in err and "Traceback" not in err


def test_show_on_damaged_files(run_dir, tmp_path, capsys):
    d = _damage(run_dir, tmp_path, "none")
    (d / "proc/net/dev").write_bytes(b"Inter-|\xff\xfe garbage\n")
    assert main(["show", str(d), "dev"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["show", str(d / "summary.json")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "nowhere")]) == 2
    assert main(["show", str(run_dir), "interrupts"]) == 0
    assert capsys.readouterr().out.split()[0] == "CPU0"


def test_show_into_a_closed_pipe_is_quiet(run_dir):
    p = subprocess.Popen([sys.executable, "-m", "softnet.coordinator", "show", str(run_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                                # `| head` that has already gone
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


# -- the command line ----------------------------------------------------------------------

def test_version_usage_and_help():
    r = softnet("--version")
    assert r.returncode == 0 and r.stdout.startswith("softnet ")
    r = softnet()
    assert r.returncode == 2 and r.stderr.startswith("usage: softnet")
    assert "required" not in r.stderr
    for action in cli._parser()._subparsers._group_actions[0].choices["run"]._actions:
        assert action.help, action.option_strings       # every option explains itself


def test_validate_counts_in_words(capsys):
    assert main(["validate", BASIC]) == 0
    assert "1 flow, 1 app)" in capsys.readouterr().out


@pytest.mark.parametrize("fault,msg", [("nope@1000", "LP one of nic, cpu0"),
                                       ("cpu1", "LP@TIME"),
                                       ("cpu1@soon", "TIME is a simulated time"),
                                       ("cpu1@-5", "TIME is a simulated time")])
def test_bad_fault_is_refused(tmp_path, capsys, no_simulation, fault, msg):
    assert main(["run", BASIC, "--quiet", "--out", str(tmp_path / "x"), "--fault", fault]) == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# -- progress ------------------------------------------------------------------------------

def test_progress_figures():
    p = progress_mod.Progress(1_000_000, receives=True, sends=True, enabled=True)
    p.t0 -= 2.0
    f = p.fields({"nic": {"t": 600_000, "offered": 900, "on_wire": 40},
                  "cpu0": {"t": 250_000, "delivered": 500, "dropped": 7, "sent": 100},
                  "cpu1": {"t": 300_000, "delivered": 300, "dropped": 3, "sent": 0}},
                 p.t0 + 2.0)
    assert f["t"] == 250_000 and f["share"] == 0.25
    assert (f["offered"], f["delivered"], f["dropped"], f["sent"], f["on_wire"]) == \
        (900, 800, 10, 100, 40)
    assert f["pps"] == pytest.approx(500) and f["eta"] == pytest.approx(6.0)
    assert "sent 100  on wire 40" in p.text(f) and "offered 900" in p.text(f)


@pytest.mark.parametrize("mode", ["process", "inline"])
@pytest.mark.parametrize("what", ["sends", "receives"])
def test_progress_lines_say_what_the_run_does(tmp_path, capsys, monkeypatch, mode, what):
    monkeypatch.setattr(progress_mod, "SHOW_AFTER_S", 0.0)
    monkeypatch.setattr(progress_mod, "PLAIN_EVERY_S", 0.0)
    if what == "sends":
        args = [SENDER, "--duration", "60ms", "--set", "apps.0.send.rate=2Mpps"]
        counter, absent = "sent", "offered"
    else:
        args = [BASIC, "--duration", "150ms", "--set", "flows.0.rate=2Mpps"]
        counter, absent = "offered", "sent"
    assert main(["run", *args, "--mode", mode, "--out", str(tmp_path / "r")]) == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("t=")]
    assert lines, "no progress line"
    last = lines[-1]
    words = last.split()
    assert "ETA" in last and "pkt/s wall" in last and absent not in words
    assert words[words.index(counter) + 1] not in ("0", "0.00"), last


# -- review findings: the swap, the lock, error reports, job control, the package ------------

def test_commit_does_not_replace_what_appeared_during_the_run(tmp_path):
    from softnet.coordinator.rundir import OutError, RunDir
    out = tmp_path / "r"
    rd = RunDir(str(out), force=False).claim()
    out.mkdir()
    (out / "thesis.tex").write_text("written while the run ran")
    summary = {"offered": 1}
    with pytest.raises(OutError, match="the results are kept in"):
        rd.commit(_resolved(), {"summary": summary, "files": {}}, {})
    rd.release()
    assert (out / "thesis.tex").read_text() == "written while the run ran"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".softnet-")]
    assert len(kept) == 1 and json.loads((kept[0] / "summary.json").read_text()) == summary


def _resolved():
    from softnet.coordinator.config import load_file, validate
    return validate(load_file(BASIC))


def test_the_lock_is_held_by_one_run_and_removed_only_when_free(tmp_path):
    from softnet.coordinator.rundir import OutBusy, RunDir
    from softnet.engine import lockfile
    a = RunDir(str(tmp_path / "r"), force=False).claim()
    with pytest.raises(OutBusy):
        RunDir(str(tmp_path / "r"), force=False).claim()
    lockfile.remove_if_free(a.lock_path)          # what a killed run's LP processes do
    assert os.path.exists(a.lock_path)            # held: left alone
    a.release()
    assert not os.path.exists(a.lock_path)
    b = RunDir(str(tmp_path / "r"), force=False).claim()
    b.release()


@pytest.mark.parametrize("transport", ["pair", "zmq"])
def test_a_failing_lp_is_named_with_its_own_error(transport):
    from softnet.coordinator.launch import LPFailed, run_process_mode
    specs = [{"name": n, "index": i, "factory": "no_such_module:build", "args": {},
              "out_links": [], "in_links": []} for i, n in enumerate(("a", "b"))]
    for _ in range(3):
        with pytest.raises(LPFailed) as e:
            run_process_mode(specs, 1000, transport=transport)
        assert "No module named 'no_such_module'" in e.value.why


def test_ctrl_z_stops_the_lp_processes_too(tmp_path):
    p = _start(tmp_path)
    kids = [psutil.Process(x) for x in _placement(p).values()]
    p.send_signal(signal.SIGTSTP)
    try:
        _until(lambda: all(k.status() == psutil.STATUS_STOPPED for k in kids))
        p.send_signal(signal.SIGCONT)
        _until(lambda: not any(k.status() == psutil.STATUS_STOPPED for k in kids))
    finally:
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM
    _all_gone(kids)


def _until(cond, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_nothing_in_the_current_directory_shadows_the_package(tmp_path):
    fake = tmp_path / "softnet" / "engine"
    fake.mkdir(parents=True)
    marker = tmp_path / "impostor-ran"
    (fake / "worker.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    r = subprocess.run([sys.executable, "-P", "-m", "softnet.coordinator", "run", BASIC,
                        "--duration", "1ms", "--quiet", "--out", str(tmp_path / "r")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()


def test_a_full_file_system_is_refused_before_the_run(tmp_path, capsys, no_simulation):
    """A 512 KiB tmpfs cannot take the 1 MiB probe: refused at once, nothing left there.
    Needs root and mount(2) (CI has both; elsewhere it is skipped)."""
    fs = tmp_path / "small"
    fs.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(fs)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert _run(tmp_path, fs / "run") == 2
        err = capsys.readouterr().err
        assert "no space left on the device" in err and "Traceback" not in err
        assert os.listdir(fs) == []
    finally:
        subprocess.run(["umount", str(fs)], check=False)


def test_a_signal_during_the_swap_is_held_until_it_is_done(tmp_path, monkeypatch):
    from softnet.coordinator import entry
    from softnet.coordinator.rundir import RunDir
    out = tmp_path / "r"
    assert _run(tmp_path, out) == 0
    rd = RunDir(str(out), force=True).claim()
    real_rename = os.rename

    def rename(a, b):                    # SIGTERM lands between moving the old run aside
        real_rename(a, b)                # and moving the new one in
        os.kill(os.getpid(), signal.SIGTERM)

    saved = {s: signal.getsignal(s) for s in entry.SIGNALS}
    entry.install_signal_handlers()
    monkeypatch.setattr(os, "rename", rename)
    try:
        with pytest.raises(entry.Interrupted):
            rd.commit(_resolved(), {"summary": {"offered": 7}, "files": {}}, {})
    finally:
        monkeypatch.setattr(os, "rename", real_rename)
        for s, h in saved.items():
            signal.signal(s, h)
        rd.release()
    assert rd.committed
    assert json.loads((out / "summary.json").read_text()) == {"offered": 7}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
