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
    """Run `file` (None: the built-in default experiment) inline; its summary."""
    from softnet.coordinator.cli import main
    args = ["run", *([file] if file else []), "--mode", "inline", "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return summary(out)


def config_file(d, name: str, cfg: dict) -> str:
    """An experiment written as `d/name.toml` (for a config built in Python); its path."""
    import tomli_w
    p = os.path.join(d, f"{name}.toml")
    with open(p, "w") as f:
        f.write(tomli_w.dumps(cfg))
    return p


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


def refused(*sets, file=None):
    """What validation says refusing the experiment (`file`, None: the built-in default)
    with these --set assignments; it must refuse."""
    import pytest
    from softnet.coordinator.config import ConfigError, apply_sets, load_file, validate
    with pytest.raises(ConfigError) as e:
        validate(apply_sets(load_file(file), list(sets)))
    return str(e.value)


def pcap_records(path):
    """(timestamp, frame) of a pcap file softnet wrote (nanosecond format)."""
    import struct
    import dpkt
    with open(path, "rb") as f:
        assert struct.unpack("<I", f.read(4))[0] == 0xA1B23C4D   # nanosecond magic
        f.seek(0)
        return list(dpkt.pcap.Reader(f))


def pcap_ip_frames(path):
    """The IP frames of a capture, parsed (the kernel's ARP exchange left out)."""
    import dpkt
    return [e for e in (dpkt.ethernet.Ethernet(buf) for _, buf in pcap_records(path))
            if e.type != dpkt.ethernet.ETH_TYPE_ARP]


def assert_refused(tmp_path, file, sets, msg):
    """The real command refuses the experiment with exit 2, names `msg`, writes nothing."""
    args = ["run", file, "--mode", "inline", "--out", str(tmp_path / "x")]
    for s in sets:
        args += ["--set", s]
    r = softnet(*args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()


# A planned flow and RSS setting for driving a NicLP by hand: 1 Mpps of 64-byte UDP from
# t = 0, hashed on ports, every RETA entry on queue 0
NIC_FLOW = {"name": "f", "proto": "udp", "src_ip": "10.0.0.2", "sport": 40000,
            "dst_ip": "10.0.0.1", "dport": 9000, "pps": 1e6, "size": 64,
            "arrival": "constant", "on_ns": None, "off_ns": None, "count": None,
            "start_ns": 0, "stop_ns": None}
NIC_RSS = {"key": bytes(range(52)), "rx_flow_hash": {"udp4": "sdfn"}, "reta": [0] * 8,
           "rules": []}
