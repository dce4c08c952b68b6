"""Every bad input is refused cleanly (issue 9): exit 2, a message naming the key (or the
file), the value and what is allowed, no traceback, nothing written, at once.

One row per bad input, by class: A inputs that used to raise a traceback (or hang),
B inputs that used to be accepted silently, C runs that could never finish, D mistyped
names (which suggest the nearest valid one), E CPU masks a smaller `cpus` no longer has.
"""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from softnet.coordinator.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASIC = os.path.join(ROOT, "examples", "basic.toml")        # 4 CPUs, i350, 1 flow, 1 app
SENDER = os.path.join(ROOT, "examples", "sender.toml")      # 2 CPUs, one UDP sender
NTUPLE = os.path.join(ROOT, "examples", "ntuple.toml")      # e810 with two rules
PROFILE_DIR = os.path.join(ROOT, "cpus", "profiles")
MASK = "a hex CPU mask as the kernel reads it"
NAME = "a non-empty string of printable characters"
IFNAME = "dev_valid_name"
PORT = "a port 1-65535"
NOT_DUR = ": not a duration; use a number with ns, us, ms or s"
NOT_RATE = ": not a rate; use packets per second"
ONE_VALUE = "not one TOML value and has a newline or NUL"


@contextmanager
def deadline(seconds: int):
    """Fail, instead of hanging the suite, when a run does not return in time."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused(capsys, tmp_path, args: list[str], expect: list[str]) -> str:
    """Run in-process; assert exit 2, every expected piece in the message, no traceback,
    no run directory, and an answer within seconds."""
    out = tmp_path / "run"
    t0 = time.monotonic()
    with deadline(20):
        code = main([*args[:2], "--mode", "inline", "--quiet", "--out", str(out), *args[2:]])
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 2, err
    assert "softnet: config error: " in err and "Traceback" not in err
    for piece in expect:
        assert piece in err, f"{piece!r} not in {err!r}"
    assert not out.exists()
    assert took < 5, f"took {took:.1f} s"
    return err


def sets(*items: str) -> list[str]:
    return [a for s in items for a in ("--set", s)]


# --set KEY=VALUE on examples/basic.toml: (setting(s), pieces of the message)
ON_BASIC = [
    # A: used to raise a traceback
    ("irq.smp_affinity=\"1\"", ["irq.smp_affinity = '1'", "a table of IRQ names"]),
    ("irq.smp_affinity=[\"1\"]", ["irq.smp_affinity = ['1']", "a table of IRQ names"]),
    ("flows.0.proto=[\"udp\"]", ["flows[0].proto = ['udp']", "udp, or tcp"]),
    ("flows.0.proto={a=1}", ["flows[0].proto = {'a': 1}", "udp, or tcp"]),
    ("flows.0.name=[\"a\"]", ["flows[0].name = ['a']", NAME]),
    ("flows.0.name={x=1}", ["flows[0].name = {'x': 1}", NAME]),
    ("flows.0.name=true", ["flows[0].name = True", NAME]),
    ("flows.0.name=7", ["flows[0].name = 7", NAME]),
    ("apps.0.name=[\"s\"]", ["apps[0].name = ['s']", NAME]),
    ("apps.0.name={x=1}", ["apps[0].name = {'x': 1}", NAME]),
    ("apps.0.socket.proto=[\"udp\"]", ["apps[0].socket.proto = ['udp']", "udp or tcp"]),
    ("apps.0.socket.proto={p=1}", ["apps[0].socket.proto = {'p': 1}", "udp or tcp"]),
    ("seed.x=1", ["--set seed.x", "seed is 1, not a table"]),
    ("nic.rx_ring.=512", ["--set 'nic.rx_ring.=512'", "is not a key"]),
    ("nic.rx_ring.x=512", ["--set nic.rx_ring.x", "nic.rx_ring is 256, not a table"]),
    ("nic..x=1", ["--set 'nic..x=1'", "no empty parts"]),
    (".x=1", ["--set '.x=1'", "is not a key"]),
    ("nic.=1", ["--set 'nic.=1'", "is not a key"]),
    ("=5", ["--set '=5'", "the key before '=' is empty"]),
    ("  =5", ["--set '  =5'", "the key before '=' is empty"]),
    ("duration.0=1", ["--set duration.0", "duration is '50ms', not a table"]),
    ("flows.x.rate=\"1kpps\"", ["--set flows.x.rate", "no element x in flows (elements: 0 to 0)"]),
    ("flows.7.rate=\"1kpps\"", ["--set flows.7.rate", "no element 7 in flows (elements: 0 to 0)"]),
    ("flows.0.x.y=1", ["flows[0].x = {'y': 1}: unknown key", "allowed here: arrival"]),
    ("apps.0.socket.proto.x=1", ["--set apps.0.socket.proto.x", "is 'udp', not a table"]),
    ("net..core=1", ["--set 'net..core=1'", "is not a sysctl name"]),
    ("nic.rx_ring=\udcff", ["--set", "not valid UTF-8"]),
    (("sysctl=5", "net.core.netdev_budget=600"), ["--set net.core.netdev_budget",
                                                  "sysctl is 5, not a table"]),
    ("nic.indir=5", ["nic.indir = 5", "a string: 'equal N'"]),
    ("routes=[{dst=5, dev=\"eth0\"}]", ["routes[0].dst = 5", "an IPv4 prefix"]),
    ("nic.hkey=[1]", ["nic.hkey = [1]", "a string of colon-separated hex bytes"]),
    ("seed=" + "9" * 5000, ["--set 'seed=9999", "Exceeds the limit (4300 digits)"]),
    ("duration=\"" + "1" * 400 + "s\"", ["duration = '1111", "…", NOT_DUR]),
    # B: used to be accepted
    ("irq.smp_affinity.eth0-rx-0=\"-1\"", ["irq.smp_affinity.eth0-rx-0 = '-1'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"0x1\"", ["irq.smp_affinity.eth0-rx-0 = '0x1'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\" 1\"", ["irq.smp_affinity.eth0-rx-0 = ' 1'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"1 \"", ["irq.smp_affinity.eth0-rx-0 = '1 '", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"+1\"", ["irq.smp_affinity.eth0-rx-0 = '+1'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"1_0\"", ["irq.smp_affinity.eth0-rx-0 = '1_0'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"\"", ["irq.smp_affinity.eth0-rx-0 = ''", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"\u0663\"", ["irq.smp_affinity.eth0-rx-0 = '\u0663'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\",1\"", ["irq.smp_affinity.eth0-rx-0 = ',1'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"1,\"", ["irq.smp_affinity.eth0-rx-0 = '1,'", MASK]),
    ("irq.smp_affinity.eth0-rx-0=\"100000000\"", ["irq.smp_affinity.eth0-rx-0 = '100000000'",
                                                  MASK]),
    ("nic.rps_cpus.rx-0=\"-1\"", ["nic.rps_cpus.rx-0 = '-1'", MASK]),
    ("nic.rps_cpus.rx-0=\"0x3\"", ["nic.rps_cpus.rx-0 = '0x3'", MASK]),
    ("nic.rps_cpus.rx-0=\"f f\"", ["nic.rps_cpus.rx-0 = 'f f'", MASK]),
    ("nic.rps_cpus.rx-0=\"\"", ["nic.rps_cpus.rx-0 = ''", MASK]),
    ("nic.rps_cpus.\"rx-\u0661\"=\"1\"", ["nic.rps_cpus.rx-\u0661 = '1'", "RX queues are rx-0"]),
    ("nic.rps_cpus.rx-\u0661=\"1\"", ["--set", "'nic.rps_cpus.rx-\u0661' is not a key"]),
    ("nic.rps_cpus.rx-01=\"1\"", ["nic.rps_cpus.rx-01 = '1'", "RX queues are rx-0"]),
    ("nic.rps_flow_cnt.\"rx-\u0661\"=16", ["nic.rps_flow_cnt.rx-\u0661 = 16",
                                            "RX queues are rx-0"]),
    ("net.core.flow_limit_cpu_bitmap=\"-1\"",
     ["sysctl.\"net.core.flow_limit_cpu_bitmap\" = '-1'", MASK]),
    ("net.core.flow_limit_cpu_bitmap=\"0x1\"",
     ["sysctl.\"net.core.flow_limit_cpu_bitmap\" = '0x1'", MASK]),
    ("net.core.flow_limit_cpu_bitmap=\"10\"",
     ["sysctl.\"net.core.flow_limit_cpu_bitmap\" = '10' names CPU 4", "CPUs 0-3"]),
    ("net.core.rps_sock_flow_entries=536870913",
     ["sysctl.\"net.core.rps_sock_flow_entries\" = 536870913", "to 536870912 (2^29)"]),
    ("net.core.rps_sock_flow_entries=2147483647",
     ["sysctl.\"net.core.rps_sock_flow_entries\" = 2147483647", "to 536870912 (2^29)"]),
    ("net.core.netdev_budget=4000000000", ["sysctl.\"net.core.netdev_budget\" = 4000000000",
                                           "from 0 to 2147483647"]),
    ("net.core.flow_limit_table_len=1000",
     ["sysctl.\"net.core.flow_limit_table_len\" = 1000", "a power of two"]),
    ("net.core.flow_limit_table_len=1073741824",
     ["sysctl.\"net.core.flow_limit_table_len\" = 1073741824", "from 1 to 2097152"]),
    ("net.ipv4.tcp_rmem=\"4096 \u0663\u0663\u0663\u0663\u0663\u0663 6291456\"",
     ["sysctl.\"net.ipv4.tcp_rmem\" = '4096 \u0663\u0663\u0663\u0663\u0663\u0663 6291456'",
      "three integers"]),
    ("net.ipv4.tcp_rmem=\"0 1 2\"", ["sysctl.\"net.ipv4.tcp_rmem\" = '0 1 2'", "1 ≤ min"]),
    ("net.ipv4.tcp_rmem=\"1 2 3000000000\"",
     ["sysctl.\"net.ipv4.tcp_rmem\" = '1 2 3000000000'", "max ≤ 2147483647"]),
    ("net.ipv4.ip_forward=true", ["sysctl.\"net.ipv4.ip_forward\" = True", "0 or 1"]),
    ("net.ipv4.ip_forward=false", ["sysctl.\"net.ipv4.ip_forward\" = False", "0 or 1"]),
    ("net.ipv4.ip_forward=1.0", ["sysctl.\"net.ipv4.ip_forward\" = 1.0", "0 or 1"]),
    ("host.addresses=[5]", ["host.addresses = 5", "IP addresses as strings"]),
    ("host.addresses=[\"10.0.0.1\", true]", ["host.addresses = True", "IP addresses as strings"]),
    ("host.addresses=[\"fe80::1%eth0\"]", ["host.addresses = 'fe80::1%eth0'", "IP addresses"]),
    ("hz=1000.0", ["hz = 1000.0", "CONFIG_HZ must be one of"]),
    ("hz=true", ["hz = True", "(an integer)"]),
    ("kernel=6.6", ["kernel = 6.6", "a quoted string: kernel = \"3.10\" (unquoted, TOML"]),
    ("quantum=false", ["quantum = False", NOT_DUR]),
    ("quantum=0.0", ["quantum = 0.0", NOT_DUR]),
    ("seed=1.0", ["seed = 1.0", "must be an integer from 0 to 9223372036854775807"]),
    ("seed=true", ["seed = True", "must be an integer from 0 to 9223372036854775807"]),
    ("flows.0.src=\"10.0.0.2:+40000\"", ["flows[0].src = '10.0.0.2:+40000'", PORT]),
    ("flows.0.src=\"10.0.0.2:4_0000\"", ["flows[0].src = '10.0.0.2:4_0000'", PORT]),
    ("flows.0.src=\"10.0.0.2:\uff14\uff10\uff10\uff10\uff10\"", ["flows[0].src = '10.0.0.2:",
                                                                 PORT]),
    ("flows.0.src=\"10.0.0.2:\u0664\u0660\u0660\u0660\u0660\"", ["flows[0].src = '10.0.0.2:",
                                                                 PORT]),
    ("flows.0.src=\"10.0.0.2: 40000\"", ["flows[0].src = '10.0.0.2: 40000'", PORT]),
    ("flows.0.dst=\"10.0.0.1:9000 \"", ["flows[0].dst = '10.0.0.1:9000 '", PORT]),
    ("apps.0.socket.bind=\"0.0.0.0:+9000\"", ["apps[0].socket.bind = '0.0.0.0:+9000'", PORT]),
    ("duration=\"50ms\\n\"", ["duration = '50ms\\n'", NOT_DUR]),
    ("duration=\"50\u00a0ms\"", ["duration = '50\\xa0ms'", NOT_DUR]),
    ("flows.0.rate=\"200kpps\\n\"", ["flows[0].rate = '200kpps\\n'", NOT_RATE]),
    ("duration=\"1_0ms\"", ["duration = '1_0ms'", NOT_DUR]),
    ("duration=\"\u0661\u0660ms\"", ["duration = '\u0661\u0660ms'", NOT_DUR]),
    ("duration=\"infms\"", ["duration = 'infms'", NOT_DUR]),
    ("duration=\"nans\"", ["duration = 'nans'", NOT_DUR]),
    ("duration=-5", ["duration = -5", "must not be negative"]),
    ("flows.0.rate=\"infpps\"", ["flows[0].rate = 'infpps'", NOT_RATE]),
    ("flows.0.rate=\"nanpps\"", ["flows[0].rate = 'nanpps'", NOT_RATE]),
    ("flows.0.rate=\"1_000pps\"", ["flows[0].rate = '1_000pps'", NOT_RATE]),
    ("flows.0.rate=\"1e3pps\"", ["flows[0].rate = '1e3pps'", NOT_RATE]),
    ("flows.0.rate=\"200\u2003kpps\"", ["flows[0].rate = '200\\u2003kpps'", NOT_RATE]),
    ("flows.0.name=\"\"", ["flows[0].name = ''", NAME]),
    ("flows.0.name=\"   \"", ["flows[0].name = '   '", NAME]),
    ("flows.0.name=\"a\\nb\"", ["flows[0].name = 'a\\nb'", NAME]),
    ("apps.0.name=\"\"", ["apps[0].name = ''", NAME]),
    ("apps.0.name=\"x\\u0000\"", ["apps[0].name = 'x\\x00'", NAME]),
    ("profile=\"../profiles/xeon-e5-1650v4\"", ["profile = '../profiles/xeon-e5-1650v4'",
                                                "cost profiles: seed-3.10-e1000e, xeon-e5-1650v4"]),
    ("profile=\"" + os.path.join(PROFILE_DIR, "xeon-e5-1650v4") + "\"",
     ["profile = '/", "cost profiles: seed-3.10-e1000e, xeon-e5-1650v4"]),
    ("profile=\"xeon-e5-1650v4/\"", ["profile = 'xeon-e5-1650v4/'", "cost profiles:"]),
    ("nic.ifname=\"eth 0\"", ["nic.ifname = 'eth 0'", IFNAME]),
    ("nic.ifname=\"eth/0\"", ["nic.ifname = 'eth/0'", IFNAME]),
    ("nic.ifname=\"eth0\\n\"", ["nic.ifname = 'eth0\\n'", IFNAME]),
    ("nic.ifname=\"eth\\u00000\"", ["nic.ifname = 'eth\\x000'", IFNAME]),
    ("nic.ifname=\"eth:0\"", ["nic.ifname = 'eth:0'", IFNAME]),
    ("nic.ifname=\".\"", ["nic.ifname = '.'", IFNAME]),
    ("nic.ifname=\"..\"", ["nic.ifname = '..'", IFNAME]),
    ("nic.ifname=\"eth\\t0\"", ["nic.ifname = 'eth\\t0'", IFNAME]),
    ("nic.ifname=\"ethé00000000000\"", ["nic.ifname = 'ethé00000000000'", "1-15 bytes"]),
    ("nic.hkey=\"+d:5a\"", ["nic.hkey = '+d:5a'", "two digits each"]),
    ("nic.indir=\"equal +4\"", ["nic.indir = 'equal +4'", "numbers from 0 to 4294967295"]),
    ("nic.indir=\"equal \u0664\"", ["nic.indir = 'equal \u0664'", "numbers from 0"]),
    ("seed=1\nx=2", ["--set 'seed=1\\nx=2'", "more than one TOML value (it sets v, x)"]),
    ("nic.rx_ring=512\n[nic]\nmodel=\"e810\"", ["--set", "more than one TOML value"]),
    ("nic.ifname=a\nb", ["--set 'nic.ifname=a\\nb'", ONE_VALUE]),
    ("nic.ifname=a\0b", ["--set 'nic.ifname=a\\x00b'", ONE_VALUE]),
    # C: runs that could never finish
    ("duration=\"1000000s\"", ["duration = '1000000s'", "at most 1000s of simulated time"]),
    ("duration=\"1001s\"", ["duration = '1001s'", "at most 1000s of simulated time"]),
    ("duration=99999999999999999999", ["duration = 99999999999999999999", "at most 1000s"]),
    ("duration=\"10000000000000000000000ns\"", ["duration = '10000000000000000000000ns'",
                                                "at most 1000s"]),
    ("flows.0.rate=\"999999999999999999999pps\"", ["flows[0].rate = '999999999999999999999pps'",
                                                   "at most 1000Mpps"]),
    ("flows.0.rate=\"" + "9" * 30 + "Mpps\"", ["flows[0].rate = '9999", "at most 1000Mpps"]),
    ("flows.0.rate=\"2000Mpps\"", ["flows[0].rate = '2000Mpps'", "one every 0.5 ns"]),
    ("flows.0.rate=\"2000Gbit\"", ["flows[0].rate = '2000Gbit'", "at most 1000Mpps"]),
    ("flows.0.rate=\"0.0000001pps\"", ["flows[0].rate = '0.0000001pps'", "at least 0.001pps"]),
    ("flows.0.rate=\"0.1bit\"", ["flows[0].rate = '0.1bit'", "at least 0.001pps"]),
    (("duration=\"600s\"", "flows.0.rate=\"2Mpps\""),
     ["duration = '600s'", "flows[0].rate = '2Mpps': 1,200,000,001", "at most 1,000,000,000"]),
    ("flows.0.stop=\"100000000s\"", ["flows[0].stop = '100000000s'", "at most 1000.000s"]),
    (("flows.0.arrival=\"onoff\"", "flows.0.on=\"1us\"", "flows.0.off=\"2000s\""),
     ["flows[0].off = '2000s'", "at most 1000.000s"]),
    ("flows.0.start=\"1001s\"", ["flows[0].start = '1001s'", "at most 1000.000s"]),
    ("host.arp_reply_delay=\"10000s\"", ["host.arp_reply_delay = '10000s'", "at most"]),
    ("apps.0.cost_per_read=\"2000s\"", ["apps[0].cost_per_read = '2000s'", "at most"]),
    # D: a mistyped name suggests the nearest valid one
    ("nic.rx_rnig=512", ["nic.rx_rnig = 512", "did you mean rx_ring? allowed here:"]),
    ("durtion=\"1ms\"", ["durtion = '1ms'", "did you mean duration?"]),
    ("apps.0.socket.rcvbfu=1", ["apps[0].socket.rcvbfu = 1", "did you mean rcvbuf?"]),
    ("flows.0.arival=\"poisson\"", ["flows[0].arival = 'poisson'", "did you mean arrival?"]),
    ("net.core.netdev_budgett=600", ["sysctl.\"net.core.netdev_budgett\" = 600",
                                     "did you mean net.core.netdev_budget?"]),
    ("net.core.rmem_defualt=600", ["sysctl.\"net.core.rmem_defualt\" = 600",
                                   "did you mean net.core.rmem_default?"]),
    ("nic.model=\"i530\"", ["nic.model = 'i530'", "did you mean i350?"]),
    ("nic.model=\"E810\"", ["nic.model = 'E810'", "did you mean e810?"]),
    ("profile=\"xeon-e5-1650v3\"", ["profile = 'xeon-e5-1650v3'",
                                    "did you mean xeon-e5-1650v4?"]),
    ("flows.0.arrival=\"poison\"", ["flows[0].arrival = 'poison'", "did you mean poisson?"]),
    ("flows.0.proto=\"upd\"", ["flows[0].proto = 'upd'", "did you mean udp?"]),
    ("apps.0.socket.proto=\"tpc\"", ["apps[0].socket.proto = 'tpc'", "did you mean tcp?"]),
    ("nic.rx_flow_hash.udp44=\"sdfn\"", ["nic.rx_flow_hash.udp44 = 'sdfn'",
                                         "did you mean udp4?"]),
    ("nic.rx_flow_hash.udp4=\"sdnf\"", ["nic.rx_flow_hash.udp4 = 'sdnf'",
                                        "did you mean sdfn?"]),
    ("irq.smp_affinity.eth0-rx0=\"1\"", ["irq.smp_affinity.eth0-rx0 = '1'",
                                          "did you mean eth0-rx-0?"]),
    ("host.neigh.\"10.0.0.9\"=\"permanant\"", ["host.neigh.\"10.0.0.9\" = 'permanant'",
                                               "did you mean permanent?"]),
    ("net.core.default_qdisc=\"fq-codel\"", ["sysctl.\"net.core.default_qdisc\" = 'fq-codel'",
                                             "did you mean fq_codel?"]),
    ("routes=[{dst=\"10.2.0.0/16\", dev=\"eht0\"}]", ["routes[0].dev = 'eht0'",
                                                      "did you mean eth0?"]),
    ("host.iptables_drop=\"nat\"", ["host.iptables_drop = 'nat'",
                                   '"raw" (iptables -t raw -I PREROUTING -j DROP']),
    ("host.iptables_drop=\"rwa\"", ["host.iptables_drop = 'rwa'", "did you mean raw?"]),
    ("sysctl.net={core={netdev_budget=1}}", ["sysctl.\"net\" = {'core'",
                                             "a sysctl name is one quoted key"]),
    (("nic.ntuple=true", "nic.rules=[{flow_type=\"ehter\", proto=\"0x88f7\", action=1}]"),
     ["nic.rules[0].flow_type = 'ehter'", "did you mean ether?"]),
    # E: masks naming CPUs the host no longer has: every key to change, at once
    ("cpus=2", ["irq.smp_affinity.eth0-TxRx-2 = '4' names CPU 2",
                "irq.smp_affinity.eth0-TxRx-3 = '8' names CPU 3",
                "but the host has CPUs 0-1 (cpus = 2)", "change these irq.smp_affinity keys"]),
    (("cpus=2", "irq.smp_affinity={}", "nic.rps_cpus={rx-0=\"e\", rx-1=\"10\"}"),
     ["nic.rps_cpus.rx-0 = 'e' names CPU 3", "nic.rps_cpus.rx-1 = '10' names CPU 4",
      "but the host has CPUs 0-1 (cpus = 2)", "change these nic.rps_cpus masks"]),
]


@pytest.mark.parametrize("setting,expect", ON_BASIC,
                         ids=[repr(s)[:60] for s, _ in ON_BASIC])
def test_refused_on_basic(setting, expect, capsys, tmp_path):
    items = setting if isinstance(setting, tuple) else (setting,)
    refused(capsys, tmp_path, ["run", BASIC, *sets(*items)], expect)


ON_SENDER = [
    # C
    ("apps.0.send.rate=\"0.0000001pps\"", ["apps[0].send.rate = '0.0000001pps'",
                                           "at least 0.001pps"]),
    ("apps.0.send.rate=\"2000Mpps\"", ["apps[0].send.rate = '2000Mpps'", "at most 1000Mpps"]),
    ("apps.0.send.rate=\"1" + "0" * 25 + "pps\"", ["apps[0].send.rate = '1000", "at most"]),
    (("apps.0.send={dst=\"10.0.0.9:7000\"}", "duration=\"1000s\""),
     ["duration = '1000s'", "apps[0].send.rate = None: 1,09", "at most 1,000,000,000"]),
    ("apps.0.send.stop=\"2000s\"", ["apps[0].send.stop = '2000s'", "at most 1000.000s"]),
    # B
    ("nic.xps_cpus.tx-0=\"0x1\"", ["nic.xps_cpus.tx-0 = '0x1'", MASK]),
    # E
    ("nic.xps_cpus.tx-0=\"4\"", ["nic.xps_cpus.tx-0 = '4' names CPU 2",
                                 "but the host has CPUs 0-1 (cpus = 2)"]),
    # D
    ("apps.0.socket.sndbfu=1", ["apps[0].socket.sndbfu = 1", "did you mean sndbuf?"]),
    # A (found by fuzzing): a traceback at the end of the run, in /proc/net/udp
    (("host.addresses=[\"10.0.0.1\", \"fd00::1\"]", "apps.0.socket.bind=\"[fd00::1]:5000\""),
     ["apps[0].socket.bind = '[fd00::1]:5000'", "an IPv4 address: apps' sockets are AF_INET"]),
    (("host.addresses=[\"fd00::1\"]",), ["host.addresses = ['fd00::1']", "an IPv4 address for "
                                          "apps[0] to send from"]),
    # B: a second bind to a port in use (the kernel's EADDRINUSE)
    (("apps=[{name=\"sender\", socket={bind=\"0.0.0.0:9000\"}, send={dst=\"10.0.0.9:7000\"}},"
      " {name=\"rx\", socket={bind=\"10.0.0.1:9000\"}}]",),
     ["apps[1].socket.bind = '10.0.0.1:9000'", "port 9000 is already bound by sender on "
      "0.0.0.0 (EADDRINUSE"]),
]


@pytest.mark.parametrize("setting,expect", ON_SENDER,
                         ids=[repr(s)[:60] for s, _ in ON_SENDER])
def test_refused_on_sender(setting, expect, capsys, tmp_path):
    items = setting if isinstance(setting, tuple) else (setting,)
    refused(capsys, tmp_path, ["run", SENDER, *sets(*items)], expect)


FLOW = '''
[[flows]]
name = "{name}"
src = "10.0.0.2:40000"
dst = "10.0.0.1:9000"
rate = "1kpps"
'''

# whole experiment files: (content, pieces of the message)
FILES = [
    # B
    (FLOW.format(name="a") + FLOW.format(name="a"), ["flows[1].name = 'a'", "must be unique"]),
    (FLOW.format(name="flow1") + FLOW.replace('name = "{name}"\n', ""),
     ["flows[1].name = 'flow1'", "must be unique"]),
    ("kernel = 6.6\n", ["kernel = 6.6", "a quoted string"]),
    ("seed = 1.5\n", ["seed = 1.5", "must be an integer from 0 to"]),
    # D
    ("[nic]\nrx_rnig = 512\n", ["nic.rx_rnig = 512", "did you mean rx_ring?"]),
    # A
    ("x = " + "[" * 40 + "]" * 40 + "\n", ["nested more than 32 deep"]),
    ("seed = 1" + "0" * 5000 + "\n", ["not valid TOML", "Exceeds the limit (4300 digits)"]),
    ("[[apps]]\nname = \"a\"\nsocket = \"udp\"\n", ["apps[0].socket = 'udp'", "a table such as"]),
    ("[host]\naddresses = [\"10.0.0.1\", \"fd00::1\"]\n[[apps]]\nname = \"v6\"\n"
     "socket = { bind = \"[::]:9000\" }\n", ["apps[0].socket.bind = '[::]:9000'",
                                             "an IPv4 address"]),
]


@pytest.mark.parametrize("content,expect", FILES, ids=[c[:40] for c, _ in FILES])
def test_refused_file(content, expect, capsys, tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(content)
    refused(capsys, tmp_path, ["run", str(path)], expect)


def test_rules_on_ntuple_example_suggest_flow_type(capsys, tmp_path):
    refused(capsys, tmp_path, ["run", NTUPLE, *sets("nic.rules.0.flow_type=\"udp_4\"")],
            ["nic.rules[0].flow_type = 'udp_4'", "did you mean udp4?"])


def test_not_utf8_in_process(capsys, tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("seed = 1 # café\n".encode("latin-1"))
    refused(capsys, tmp_path, ["run", str(path)], [str(path), "not UTF-8 text (byte 0xe9"])


def test_nul_in_path_in_process(capsys, tmp_path):
    refused(capsys, tmp_path, ["run", "a\0b.toml"], ["not a usable file name"])


def _cli(*args, timeout=30):
    """The real command in a fresh interpreter (CI's fresh venv too)."""
    return subprocess.run([sys.executable, "-m", "softnet.coordinator.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _refused_by_command(tmp_path, path: str, expect: list[str]) -> None:
    out = tmp_path / "run"
    r = _cli("run", path, "--mode", "inline", "--quiet", "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"softnet: config error: {path}: ") and "Traceback" not in r.stderr
    for piece in expect:
        assert piece in r.stderr, r.stderr
    assert not out.exists()


def test_fifo_is_not_opened(tmp_path):
    fifo = str(tmp_path / "pipe.toml")
    os.mkfifo(fifo)
    _refused_by_command(tmp_path, fifo, ["a FIFO (named pipe), not a regular file"])


def test_dev_zero(tmp_path):
    _refused_by_command(tmp_path, "/dev/zero", ["a character device, not a regular file"])


def test_directory(tmp_path):
    d = tmp_path / "exp"
    d.mkdir()
    _refused_by_command(tmp_path, str(d), ["a directory, not a regular file"])


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.symlink_to(b)
    b.symlink_to(a)
    _refused_by_command(tmp_path, str(a), ["too many levels of symbolic links"])


def test_not_utf8(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"seed = 1\n\xff\xfe\x00garbage\n")
    _refused_by_command(tmp_path, str(path), ["not UTF-8 text (byte 0xff at offset 9)"])


def test_deep_nesting(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    _refused_by_command(tmp_path, str(path), ["nested too deeply"])


def test_too_big(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * (1 << 20) + "\nseed = 1\n")
    _refused_by_command(tmp_path, str(path), ["an experiment file is at most 1048576 bytes"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file")
def test_unreadable(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text("seed = 1\n")
    path.chmod(0)
    _refused_by_command(tmp_path, str(path), ["cannot read the experiment file: permission "
                                              "denied"])


# Not refusals: inputs that crashed or could not run before, and now run as the kernel would.

TWO_TCP_READERS = '''
duration = "2ms"
cpus = 2
[[flows]]
name = "t"
proto = "tcp"
src = "10.0.0.2:40000"
dst = "10.0.0.1:5201"
rate = "10kpps"
[[apps]]
name = "first"
cpu = 0
socket = { proto = "tcp", bind = "0.0.0.0:5201" }
[[apps]]
name = "second"
cpu = 1
socket = { proto = "tcp", bind = "0.0.0.0:5201" }
'''


def test_two_tcp_apps_on_one_port_one_connection(tmp_path):
    """accept() hands the flow's one connection to the first app; the second stays asleep
    in accept() and reads nothing (this raised ZeroDivisionError in TcpSock.queued)."""
    path = tmp_path / "tcp.toml"
    path.write_text(TWO_TCP_READERS)
    out = tmp_path / "run"
    with deadline(60):
        assert main(["run", str(path), "--mode", "inline", "--quiet", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["offered"] == s["delivered"] + sum(s["drops"].values()) + s["in_flight"]
    assert s["delivered"] > 0
    tcp = (out / "proc/net/snmp").read_text().splitlines()
    tcp = [l.split() for l in tcp if l.startswith("Tcp:")]
    assert dict(zip(tcp[0], tcp[1]))["CurrEstab"] == "1"      # one connection, not two


@pytest.mark.parametrize("cpus", [1, 2, 3])
def test_default_experiment_follows_cpus(cpus, tmp_path):
    out = tmp_path / "run"
    with deadline(60):
        assert main(["run", "--mode", "inline", "--quiet", "--duration", "2ms", "--set",
                     f"cpus={cpus}", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["cpus"] == cpus and s["delivered"] > 0


def test_slow_rate_sends_one_packet(tmp_path):
    """A rate slower than the run (one packet per 1000 s) offers exactly the packet at the
    flow's start, promptly."""
    out = tmp_path / "run"
    with deadline(20):
        assert main(["run", BASIC, "--mode", "inline", "--quiet", "--out", str(out), *sets(
            'flows.0.rate="0.001pps"', 'flows.0.arrival="constant"', 'duration="2ms"')]) == 0
    assert json.loads((out / "summary.json").read_text())["offered"] == 1


def test_set_quoted_key_and_wide_masks(tmp_path, capsys):
    """A quoted component (a neighbour's address) is one key; a mask pasted from a big
    machine (leading zero groups, short groups as bitmap_parse reads them) is accepted."""
    assert main(["validate", SENDER, *sets('host.neigh."10.0.0.9"="permanent"',
                                           'nic.xps_cpus.tx-1="00000000,00000002"',
                                           'irq.smp_affinity.eth0-rx-1="0,2"')]) == 0
    assert "ok (2 CPUs" in capsys.readouterr().out


def test_readers_on_one_port_of_two_addresses(tmp_path):
    """Two UDP sockets on one port, each bound to its own address, do not conflict (only
    the same or the wildcard address does: udp_lib_lport_inuse)."""
    out = tmp_path / "run"
    with deadline(60):
        assert main(["run", BASIC, "--mode", "inline", "--quiet", "--out", str(out), *sets(
            'duration="2ms"', 'host.addresses=["10.0.0.1", "10.0.0.2"]',
            'apps=[{name="a", socket={bind="10.0.0.1:9000"}}, '
            '{name="b", cpu=1, socket={bind="10.0.0.2:9000"}}]')]) == 0


def test_an_ipv6_udp_frame_has_room_for_its_headers():
    """14 + 40 + 8 bytes of headers and the FCS: no 64-byte IPv6 UDP frame exists."""
    from softnet.coordinator.config import ConfigError, apply_sets, load_file, validate
    v6 = ['flows.0.src="[fd00::2]:40000"', 'flows.0.dst="[fd00::1]:9000"']
    with pytest.raises(ConfigError) as e:
        validate(apply_sets(load_file(None), v6 + ["flows.0.size=64"]))
    assert "67-1518 bytes for udp over IPv6" in str(e.value)
    assert validate(apply_sets(load_file(None), v6 + ["flows.0.size=67"]))["flows"][0][
        "size"] == 67


def test_ipv4_forwarding_leaves_ipv6_alone(tmp_path):
    """net.ipv4.ip_forward forwards IPv4 only: an IPv6 flow to another host is dropped
    as the host's own IPv6 (forwarding off by default) drops it, not routed."""
    from helpers import ROOT, run_inline
    s = run_inline(tmp_path / "r", 'flows.0.src="[fd00::2]:40000"',
                   'flows.0.dst="[fd00:2::9]:7000"', "flows.0.size=80",
                   file=f"{ROOT}/examples/router.toml")
    v6 = s["flows"][0]
    assert v6["offered"] and not v6.get("forwarded") and s["forwarded"] > 0
    assert s["drops"]["ip_in_addr_errors"] == v6["dropped"] > 0 and s["balanced"]
    assert v6["offered"] - v6["dropped"] <= s["in_flight"]
