import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASIC = os.path.join(ROOT, "examples", "basic.toml")
FILES = ["summary.json", "config.toml", "proc/net/softnet_stat", "proc/interrupts",
         "proc/softirqs", "proc/net/snmp", "proc/net/netstat", "proc/net/dev",
         "proc/net/udp", "proc/stat", "proc/uptime", "ethtool_S.txt", "tc_qdisc.txt"]


def softnet(*args, **kw):
    """The real command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "softnet.coordinator", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def run_inline(out, *sets, file=BASIC):
    from softnet.coordinator.cli import main
    args = ["run", file, "--mode", "inline", "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return summary(out)


def summary(out):
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def balanced(s):
    return s["offered"] == s["delivered"] + sum(s["drops"].values()) + s["in_flight"]


def run_both_modes(tmp_path, *args, file=BASIC):
    """Run the same experiment in process and inline mode; assert identical result files."""
    a = softnet("run", file, "--mode", "process", "--out", str(tmp_path / "p"), *args)
    assert a.returncode == 0, a.stderr
    b = softnet("run", file, "--mode", "inline", "--out", str(tmp_path / "i"), *args)
    assert b.returncode == 0, b.stderr
    for f in FILES:
        assert (tmp_path / "p" / f).read_bytes() == (tmp_path / "i" / f).read_bytes(), f


def tx_balanced(s):
    """sent = on_wire + TX drops + TX in flight."""
    return s["sent"] == s["on_wire"] + sum(s["tx_drops"].values()) + s["tx_in_flight"]


def snmp(path, proto):
    """One protocol's /proc/net/snmp counters of a run directory, as ints."""
    lines = (path / "proc/net/snmp").read_text().splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith(proto + ":"))
    return dict(zip(lines[i].split()[1:], map(int, lines[i + 1].split()[1:])))


def ethtool(path):
    """ethtool_S.txt of a run directory as {name: int}."""
    return {k: int(v) for k, v in (l.strip().split(": ") for l in
                                  (path / "ethtool_S.txt").read_text().splitlines()[1:])}


def assert_refused(tmp_path, file, sets, msg):
    """The real command refuses the experiment with exit 2, names `msg`, writes nothing."""
    args = ["run", file, "--mode", "inline", "--out", str(tmp_path / "x")]
    for s in sets:
        args += ["--set", s]
    r = softnet(*args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()
