"""The run directory's proc files read the way real tools read them: nstat and netstat -s
(pairs of header and value lines), psutil (/proc/stat), netstat -anu (/proc/net/udp).
Where nstat or netstat is installed, the tool itself is run against the files."""

import ipaddress
import json
import os
import re
import shutil
import subprocess

import psutil
import pytest

from softnet.coordinator import procfs
from softnet.coordinator.cli import main

# a TCP stream whose reader is too slow (TCPRcvQDrop), and a reader on a connected UDP
# socket bound to the wildcard address
TOOLS = """
seed = 1
duration = "40ms"
cpus = 2

[nic]
model = "i350"
combined = 1

[irq.smp_affinity]
"eth0-rx-0" = "1"

[sysctl]
"net.ipv4.tcp_rmem" = "4096 65536 65536"

[[flows]]
name = "bulk"
proto = "tcp"
src = "10.0.0.2:40000"
dst = "10.0.0.1:5001"
rate = "600Mbit"
size = 1518

[[flows]]
name = "to-r1"
src = "10.0.0.2:40001"
dst = "10.0.0.1:9001"
rate = "100kpps"

[[apps]]
name = "iperf"
cpu = 1
socket = { proto = "tcp", bind = "0.0.0.0:5001" }
read_size = 1448
cost_per_read = "40us"

[[apps]]
name = "r1"
cpu = 0
socket = { proto = "udp", bind = "0.0.0.0:9001", connect = "10.0.0.2:40001" }
cost_per_read = "500ns"
"""

TICK = 10_000_000          # one USER_HZ tick in ns


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("proc_tools")
    out = {}
    assert main(["run", "--mode", "inline", "--quiet", "--duration", "5ms",
                 "--out", str(base / "default")]) == 0
    out["default"] = base / "default"
    exp = base / "tools.toml"
    exp.write_text(TOOLS)
    assert main(["run", str(exp), "--mode", "inline", "--quiet",
                 "--out", str(base / "tools")]) == 0
    out["tools"] = base / "tools"
    return out


def _summary(run):
    return json.loads((run / "summary.json").read_text())


def _pairs(path):
    """As nstat and netstat -s read /proc/net/snmp and /proc/net/netstat: a header line
    of names then a line of values with the same prefix and as many fields, integers."""
    lines = path.read_text().splitlines()
    assert lines and len(lines) % 2 == 0, path
    out = {}
    for names, values in zip(lines[::2], lines[1::2]):
        k, v = names.split(" "), values.split(" ")       # single spaces, no padding
        assert k[0] == v[0] and re.fullmatch(r"[A-Za-z]+:", k[0]), (names, values)
        assert len(k) == len(v), k[0]
        assert all(re.fullmatch(r"-?\d+", x) for x in v[1:]), k[0]
        out[k[0][:-1]] = dict(zip(k[1:], map(int, v[1:])))
    return out


@pytest.mark.parametrize("name", ["default", "tools"])
def test_snmp_and_netstat_parse_as_nstat_does(runs, name):
    run = runs[name]
    snmp = _pairs(run / "proc/net/snmp")
    assert list(snmp) == ["Ip", "Icmp", "Tcp", "Udp", "UdpLite"]
    net = _pairs(run / "proc/net/netstat")
    assert list(net) == ["TcpExt", "IpExt", "MPTcpExt"]
    assert list(net["TcpExt"]) == procfs.TCPEXT_HEADER
    assert list(net["IpExt"]) == procfs.IPEXT_HEADER
    assert list(net["MPTcpExt"]) == procfs.MPTCPEXT_HEADER
    s = _summary(run)
    tcp_drops = sum(v.get("drops", 0) for v in s["sockets"].values() if v["proto"] == "tcp")
    assert net["TcpExt"]["TCPRcvQDrop"] == tcp_drops


def test_tcp_rcvq_drop_counts_skbs(runs):
    s = _summary(runs["tools"])
    net = _pairs(runs["tools"] / "proc/net/netstat")
    # one per dropped skb (a GRO skb holds several of the segments the books count)
    assert 0 < net["TcpExt"]["TCPRcvQDrop"] <= s["drops"]["tcp_rcvq_drop"]


def _stat(run):
    lines = (run / "proc/stat").read_text().splitlines()
    cpus = [l.split() for l in lines if l.startswith("cpu")]
    rest = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in lines
            if not l.startswith("cpu")}
    return cpus, rest


@pytest.mark.parametrize("name", ["default", "tools"])
def test_stat_layout(runs, name):
    run = runs[name]
    s = _summary(run)
    text = (run / "proc/stat").read_text()
    assert text.startswith("cpu  ") and text.endswith("\n")
    cpus, rest = _stat(run)
    assert [c[0] for c in cpus] == ["cpu"] + [f"cpu{i}" for i in range(s["cpus"])]
    assert all(len(c) == 11 for c in cpus)
    assert list(rest) == ["intr", "ctxt", "btime", "processes", "procs_running",
                          "procs_blocked", "softirq"]
    assert len(rest["intr"]) == 1 + procfs.nr_irqs(s["cpus"])
    assert rest["ctxt"] == [s["context_switches"]] and rest["btime"] == [0]
    # softirq: total, then the ten vectors, the same counts as /proc/softirqs
    rows = (run / "proc/softirqs").read_text().splitlines()[1:]
    per_vec = [sum(map(int, r.split()[1:])) for r in rows]
    assert rest["softirq"] == [sum(per_vec)] + per_vec
    # intr: /proc/interrupts' device lines, the rows arch_irq_stat_cpu adds, and ERR
    total = 0
    for line in (run / "proc/interrupts").read_text().splitlines()[1:]:
        key, vals = line.split(":", 1)
        f = vals.split()
        if key.strip().isdigit():
            total += sum(map(int, f[:s["cpus"]]))
        elif key.strip() in procfs.ARCH_IRQ_STAT_CPU:
            total += sum(map(int, f[:s["cpus"]]))
        elif key.strip() == "ERR":
            total += int(f[0])
    assert rest["intr"][0] == total
    assert sum(rest["intr"][1:]) == sum(v["interrupts"] for v in s["vectors"].values())


@pytest.mark.parametrize("name", ["default", "tools"])
def test_uptime(runs, name):
    run = runs[name]
    s = _summary(run)
    m = re.fullmatch(r"(\d+)\.(\d\d) (\d+)\.(\d\d)\n", (run / "proc/uptime").read_text())
    assert m
    up = int(m[1]) * 100 + int(m[2])
    idle = int(m[3]) * 100 + int(m[4])
    assert up == s["duration_ns"] // TICK
    assert idle == sum(t["idle"] for t in s["cpu_time_ns"].values()) // TICK


def test_time_mapping(runs):
    """/proc/stat's split of the summary's CPU time: hard IRQs irq, softirqs (ksoftirqd's
    included) softirq, an application's time user (its cost_per_read) + system."""
    s = _summary(runs["tools"])
    for cpu, t in s["cpu_time_ns"].items():
        p = s["proc_stat_ns"][cpu]
        assert p["user"] + p["system"] == t["task"]
        assert p["irq"] == t["hardirq"] and p["softirq"] == t["softirq"] + t["ksoftirqd"]
        assert p["idle"] == t["idle"]
    # the reader of the slow TCP stream is busy with its own work: user time
    assert s["proc_stat_ns"]["cpu1"]["user"] > 30 * 1_000_000
    assert s["proc_stat_ns"]["cpu1"]["user"] > 10 * s["proc_stat_ns"]["cpu1"]["system"]


@pytest.mark.parametrize("name", ["default", "tools"])
def test_psutil_reads_the_run(runs, name):
    run = runs[name]
    s = _summary(run)
    saved = psutil.PROCFS_PATH
    psutil.PROCFS_PATH = str(run / "proc")
    try:
        per_cpu = psutil.cpu_times(percpu=True)
        total = psutil.cpu_times()
        stats = psutil.cpu_stats()
        boot = psutil.boot_time()
    finally:
        psutil.PROCFS_PATH = saved
    assert len(per_cpu) == s["cpus"]
    tick = 1 / psutil._pslinux.CLOCK_TICKS
    for i, p in enumerate(per_cpu):
        t = s["cpu_time_ns"][f"cpu{i}"]
        st = s["proc_stat_ns"][f"cpu{i}"]
        for field, ns in (("user", st["user"]), ("system", st["system"]),
                          ("irq", t["hardirq"]), ("softirq", t["softirq"] + t["ksoftirqd"]),
                          ("idle", t["idle"])):
            v = getattr(p, field)
            assert 0 <= ns / 1e9 - v < tick + 1e-9, (i, field, v, ns)
        assert p.nice == p.iowait == p.steal == p.guest == p.guest_nice == 0
        assert abs(p.user + p.system - t["task"] / 1e9) < 2 * tick + 1e-9
    busy = sum(sum(t.values()) - t["idle"] for t in s["cpu_time_ns"].values())
    assert abs(total.user + total.system + total.irq + total.softirq - busy / 1e9) \
        < 4 * tick + 1e-9
    assert stats.ctx_switches == s["context_switches"] > 0
    assert stats.soft_interrupts == sum(
        sum(map(int, r.split()[1:]))
        for r in (run / "proc/softirqs").read_text().splitlines()[1:])
    assert stats.interrupts == _stat(run)[1]["intr"][0]
    assert boot == 0


def _udp_sockets(run):
    """/proc/net/udp decoded as netstat -anu decodes it."""
    def addr(h):
        ip, port = h.split(":")
        return f"{ipaddress.IPv4Address(int(ip, 16).to_bytes(4, 'little'))}:{int(port, 16)}"
    lines = (run / "proc/net/udp").read_text().splitlines()
    assert all(len(l) == 127 for l in lines)
    return [(addr(f[1]), addr(f[2]), f[3]) for f in (l.split() for l in lines[1:])]


def test_udp_connected_socket_shows_route_source(runs):
    socks = _udp_sockets(runs["tools"])
    assert ("10.0.0.1:9001", "10.0.0.2:40001", "01") in socks
    # an unconnected wildcard socket stays on 0.0.0.0
    assert all(local.startswith("0.0.0.0:") for local, _, st in _udp_sockets(runs["default"])
               if st == "07")


def test_interrupts_trailer_order(runs):
    keys = [l.split(":")[0].strip() for l in
            (runs["tools"] / "proc/interrupts").read_text().splitlines()[1:]]
    assert keys[-5:] == ["ERR", "MIS", "PIN", "NPI", "PIW"]


# -- the tools themselves, where installed ------------------------------------------------

def test_nstat(runs, tmp_path):
    if not shutil.which("nstat"):
        pytest.skip("nstat (iproute2) not installed")
    run = runs["tools"]
    env = dict(os.environ, PROC_NET_SNMP=str(run / "proc/net/snmp"),
               PROC_NET_NETSTAT=str(run / "proc/net/netstat"),
               PROC_NET_SNMP6=str(tmp_path / "none"), NSTAT_HISTORY=str(tmp_path / "hist"))
    p = subprocess.run(["nstat", "--ignore", "--noupdate", "--zeros", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)["kernel"]
    want = {f"{proto}{k}": v for proto, d in {**_pairs(run / "proc/net/snmp"),
                                              **_pairs(run / "proc/net/netstat")}.items()
            for k, v in d.items()}
    # nstat leaves out the constants it calls useless (Tcp RtoAlgorithm, …)
    assert set(got) <= set(want) and len(got) > 200
    assert all(got[k] == want[k] for k in got)
    assert got["TcpExtTCPRcvQDrop"] > 0 and "MPTcpExtMPCurrEstab" in got


def _in_proc_namespace(run, *cmd):
    """`cmd` in a mount namespace of its own where /proc is the run's proc directory
    (net-tools reads fixed /proc paths); None where namespaces are not allowed."""
    if not shutil.which("unshare") or not shutil.which(cmd[0]):
        return None
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /proc && exec "$@"', str(run / "proc"), *cmd],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and ("mount" in p.stderr or "unshare" in p.stderr):
        return None
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_netstat_anu_and_s(runs):
    run = runs["tools"]
    out = _in_proc_namespace(run, "netstat", "-anu")
    if out is None:
        pytest.skip("netstat not installed or no mount namespace here")
    assert re.search(r"udp +0 +0 10\.0\.0\.1:9001 +10\.0\.0\.2:40001 +ESTABLISHED", out)
    out = _in_proc_namespace(run, "netstat", "-s")
    drops = _pairs(run / "proc/net/netstat")["TcpExt"]["TCPRcvQDrop"]
    assert f"TCPRcvQDrop: {drops}" in out
    udp = _pairs(run / "proc/net/snmp")["Udp"]
    assert f"{udp['InDatagrams']} packets received" in out
