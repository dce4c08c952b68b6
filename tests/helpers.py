import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASIC = os.path.join(ROOT, "examples", "basic.toml")
FILES = ["summary.json", "config.toml", "proc/net/softnet_stat", "proc/interrupts",
         "proc/softirqs", "proc/net/snmp", "proc/net/dev", "proc/net/udp", "ethtool_S.txt",
         "tc_qdisc.txt"]


def softnet(*args, **kw):
    """The real command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "coordinator.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def run_inline(out, *sets, file=BASIC):
    from coordinator.cli import main
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
