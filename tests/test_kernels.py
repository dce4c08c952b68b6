"""Kernels 3.10 and 3.13 beside 6.6 (devices-probe-kernels.md §3.3, §4; kernel-spec §10.7,
§15): each kernel's /proc formats, the sysctls and features it lacks refused, and where
its packet path differs — net_rx_action's loop, igb's work accounting, the GRO list, UDP
admission and the locked pfifo_fast."""

import os
from types import SimpleNamespace

import pytest

from conftest import drive, zero_costs
from helpers import (FILES, balanced, config_file, refused, run_both_modes, run_inline, snmp,
                     summary as summary_of)

from softnet.cpus.backlog import Backlog
from softnet.cpus.books import Books
from softnet.cpus.cpu import NET_RX_SOFTIRQ, Cpu
from softnet.cpus.gro import TCP, GroFlow, GroList
from softnet.cpus.napi import NapiStruct, SoftnetData, napi_complete_done, napi_schedule
from softnet.cpus.napi_3x import net_rx_action as net_rx_action_3x
from softnet.cpus.qdisc import PfifoFast
from softnet.cpus.sock import UDP_RCVBUF_ERRORS, UDP_RCVQUEUES_FULL, UdpSock3
from softnet.engine.events import EventQueue
from softnet.engine.skb import SkBuff

EXP = {"seed": 1, "duration": "5ms", "cpus": 2, "nic": {"model": "i350", "combined": 1},
       "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                  "rate": "300kpps", "size": 64}],
       "apps": [{"name": "r", "cpu": 1, "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}}]}


def _run(tmp_path, name, kernel, **over):
    cfg = {**EXP, "kernel": kernel, **over}
    f = config_file(tmp_path, name, cfg)
    return run_inline(tmp_path / name, file=f), tmp_path / name


# -- formats -----------------------------------------------------------------------------

@pytest.mark.parametrize("kernel,cols", [("3.10", 10), ("3.13", 11), ("6.6", 15)])
def test_each_kernel_prints_its_own_proc_files(tmp_path, kernel, cols):
    s, d = _run(tmp_path, kernel.replace(".", "_"), kernel)
    assert balanced(s) and s["kernel"] == kernel
    rows = (d / "proc/net/softnet_stat").read_text().splitlines()
    assert len(rows) == 2 and all(len(r.split()) == cols for r in rows)
    assert int(rows[0].split()[0], 16) + int(rows[1].split()[0], 16) == s["delivered"]
    udp = snmp(d, "Udp")
    old = kernel != "6.6"
    assert list(udp) == ["InDatagrams", "NoPorts", "InErrors", "OutDatagrams",
                         "RcvbufErrors", "SndbufErrors", "InCsumErrors"] + \
        ([] if old else ["IgnoredMulti", "MemErrors"])
    assert udp["InDatagrams"] == s["delivered"]
    assert ("OutTransmits" in snmp(d, "Ip")) is not old
    assert ("OutRateLimitGlobal" in snmp(d, "Icmp")) is not old
    softirqs = (d / "proc/softirqs").read_text()
    assert ("BLOCK_IOPOLL:" in softirqs) is old and ("IRQ_POLL:" in softirqs) is not old
    netstat = (d / "proc/net/netstat").read_text()
    assert ("MPTcpExt:" in netstat) is not old
    tcpext = netstat.splitlines()[0].split()[1:]
    assert ("TCPPrequeued" in tcpext) is old            # 3.x TCP has the prequeue
    assert len(tcpext) == {"3.10": 94, "3.13": 95, "6.6": 126}[kernel]
    header = (d / "proc/net/udp").read_text().splitlines()[0]
    assert header.startswith("  sl  local" if old else "   sl  local") and len(header) == 127


def test_proc_interrupts_of_3x_has_one_msi_chip_and_no_hwirq(tmp_path):
    for mode, want in (("msix", " IR-PCI-MSI-edge      eth0-rx-0"),
                       ("msi", " IR-PCI-MSI-edge      eth0"),
                       ("legacy", " IR-IO-APIC-fasteoi   eth0")):
        s, d = _run(tmp_path, mode, "3.10", nic={"model": "i350", "combined": 1,
                                                  "int_mode": mode})
        lines = [l for l in (d / "proc/interrupts").read_text().splitlines() if "eth0" in l]
        # the queue vector (MSI-X) or the one vector: its count, then the chip
        line = lines[-1] if mode != "msix" else next(l for l in lines if "rx-0" in l)
        assert line.endswith(want), (mode, line)
        counts = line.split(":", 1)[1].split()[:2]
        assert sum(map(int, counts)) > 0
    rows = [l.split(":")[0].strip() for l in (d / "proc/interrupts").read_text().splitlines()
            if not l.lstrip()[:1].isdigit() and ":" in l]
    assert rows == ["NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TLB", "TRM",
                    "THR", "MCE", "MCP", "ERR", "MIS"]       # no DFR, no KVM rows


def test_dmesg_banner_is_the_kernel_driver_version(tmp_path):
    _, d = _run(tmp_path, "k310", "3.10")
    lines = (d / "dmesg.txt").read_text().splitlines()
    assert lines[0] == "igb: Intel(R) Gigabit Ethernet Network Driver - version 5.0.3-k"
    assert lines[1] == "igb: Copyright (c) 2007-2013 Intel Corporation."
    _, d = _run(tmp_path, "k313", "3.13")      # 3.13's version was not read: none invented
    assert (d / "dmesg.txt").read_text().startswith("igb 0000:01:00.0: Intel(R) Gigabit")
    _, d = _run(tmp_path, "k66", "6.6")
    assert (d / "dmesg.txt").read_text().startswith(
        "igb: Intel(R) Gigabit Ethernet Network Driver\n")


# -- refused keys --------------------------------------------------------------------------

@pytest.mark.parametrize("kernel,key,value", [
    ("3.10", "net.core.netdev_budget_usecs", 4000),
    ("3.13", "net.core.netdev_budget_usecs", 4000),
    ("3.10", "net.core.gro_normal_batch", 16),
    ("3.13", "net.core.dev_tx_weight", 128),
    ("3.10", "net.core.flow_limit_table_len", 8192),
    ("3.10", "net.core.default_qdisc", '"pfifo_fast"'),
])
def test_a_sysctl_the_kernel_lacks_is_refused(kernel, key, value):
    err = refused(f'kernel="{kernel}"', f"{key}={value}")
    assert f'sysctl."{key}"' in err and f"kernel {kernel} has no such sysctl" in err
    assert "net.core.netdev_budget" in err            # what that kernel does have


def test_3_13_has_the_flow_limit_sysctls():
    from softnet.coordinator.config import apply_sets, validate
    r = validate(apply_sets({}, ['kernel="3.13"', "net.core.flow_limit_table_len=8192",
                                'net.core.flow_limit_cpu_bitmap="1"']))
    assert r["sysctl"]["net.core.flow_limit_table_len"] == 8192
    # what 3.13 hard-codes reaches the CPUs under the later names
    assert r["sysctl"]["net.core.gro_normal_batch"] == 1
    assert r["sysctl"]["net.core.netdev_budget_usecs"] == 2000       # 2 jiffies at HZ 1000
    r = validate(apply_sets({}, ['kernel="3.13"', "hz=250", "net.core.dev_weight=16"]))
    assert r["sysctl"]["net.core.netdev_budget_usecs"] == 8000
    assert r["sysctl"]["net.core.dev_tx_weight"] == 16                # __qdisc_run: weight_p


@pytest.mark.parametrize("sets,key,words", [
    (['nic.model="e810"'], "nic.model", "models on 3.10: 82574l, i350"),
    (['nic.fq_codel={}'], "nic.fq_codel", "fq_codel is not modelled"),
    (['kernel="3.13"', 'sysctl."net.core.default_qdisc"="fq_codel"'],
     'sysctl."net.core.default_qdisc"', "kernel 3.13's other qdiscs are not modelled"),
    (['flows.0.proto="tcp"', "flows.0.size=1000"], "flows[0].proto",
     "TCP on kernel 3.10 is not modelled"),
    (['apps.0.socket.proto="tcp"'], "apps[0].socket.proto", "TCP on kernel 3.10"),
    (["apps.0.socket.udp_gro=true"], "apps[0].socket.udp_gro", "no UDP_GRO"),
    (["nic.ntuple=true"], "nic.ntuple", "no ethtool -N flow rules"),
    (["kernel=3"], "kernel", 'a quoted string: kernel = "3.10"'),
    (["kernel=3.10"], "kernel", 'a quoted string: kernel = "3.10"'),
])
def test_features_the_kernel_lacks_are_refused(tmp_path, sets, key, words):
    f = config_file(tmp_path, "x", {**EXP, "kernel": "3.10"})
    err = refused(*sets, file=f)
    assert key in err and words in err, err


def test_config_toml_of_a_3_10_run_reruns(tmp_path):
    """config.toml names only 3.10's sysctls: run again from it, it gives the same run."""
    _, d = _run(tmp_path, "a", "3.10", sysctl={"net.core.dev_weight": 16})
    text = (d / "config.toml").read_text()
    assert "netdev_budget_usecs" not in text and "gro_normal_batch" not in text
    run_inline(tmp_path / "b", file=str(d / "config.toml"))
    for f in FILES:
        assert (d / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


# -- net_rx_action (3.x) ---------------------------------------------------------------

SYSCTL = SimpleNamespace(netdev_budget=300)


class NoStack:
    def gro_normal_list(self, napi):
        napi.rx_list = []
        return
        yield


def _napi(name, works, sd_of, log, cost=100):
    it = iter(works)

    def poll(cpu, n, budget):
        w = min(next(it, 0), budget)
        log.append(name)
        yield cost
        if w < budget:
            yield from napi_complete_done(cpu, sd_of[n], n, w, NoStack())
        return w
    return NapiStruct(name, 64, poll, None)


def _setup(*works, cost=100):
    cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
    sd = SoftnetData(napi_missed=False)
    sd_of, log = {}, []
    napis = [_napi(chr(97 + i), w, sd_of, log, cost) for i, w in enumerate(works)]
    for n in napis:
        sd_of[n] = sd
        napi_schedule(cpu, sd, n)
    cpu.softirq_pending = 0
    return cpu, sd, napis, log


def test_3x_repolls_a_lone_full_napi_until_the_budget_is_gone():
    # 6.6 leaves it for the next run; 3.x moves it to the tail of the list it walks
    cpu, sd, (a,), log = _setup([64] * 10)
    drive(cpu, net_rx_action_3x(cpu, sd, SYSCTL, NoStack()))
    assert log == ["a"] * 5                          # 320 > 300 before the sixth
    assert sd.time_squeeze == 1 and list(sd.poll_list) == [a]
    assert cpu.softirq_pending & (1 << NET_RX_SOFTIRQ)


def test_3x_checks_before_each_poll_so_an_emptied_list_is_no_squeeze():
    cpu, sd, napis, log = _setup([64, 64, 64, 64], [44])
    drive(cpu, net_rx_action_3x(cpu, sd, SYSCTL, NoStack()))
    # a, b, a, b(done) … a's fifth full poll makes 300: the list still holds a → squeeze
    assert log[:4] == ["a", "b", "a", "a"] and sd.time_squeeze == 1
    cpu, sd, napis, log = _setup([64, 64], [44])
    drive(cpu, net_rx_action_3x(cpu, sd, SYSCTL, NoStack()))
    assert log == ["a", "b", "a", "a"] and sd.time_squeeze == 0 and not sd.poll_list
    assert not cpu.softirq_pending


def test_3x_time_limit_is_two_jiffies_from_the_start():
    """time_after_eq(jiffies, start + 2): polls of a millisecond each (HZ 1000) stop after
    the second, whatever budget is left."""
    cpu, sd, (a,), log = _setup([64] * 10, cost=1_000_000)
    drive(cpu, net_rx_action_3x(cpu, sd, SimpleNamespace(netdev_budget=10**6), NoStack()))
    assert log == ["a", "a"] and sd.time_squeeze == 1


class BacklogStack:
    def __init__(self):
        self.sw_hash, self.rx_dropped_core, self.held, self.fwd_pending = [7], {}, 0, []

    def receive_skb(self, skb, now):
        return 100


def test_3x_process_backlog_completes_as_soon_as_the_rest_fits():
    """3.x completes the backlog NAPI when what it spliced fits the quota left, so a packet
    that arrives meanwhile schedules it again; 6.6 completes only on an empty queue, and
    takes that packet in the same poll."""
    for early, work_done, rescheduled in ((True, 5, True), (False, 6, False)):
        cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
        sd = SoftnetData(napi_missed=not early)
        b = Backlog(cpu, sd, BacklogStack(), Books(1), 1000, 64, set(), 4096, None)
        b.complete_early = early
        for _ in range(5):
            b.enqueue_to_backlog(SkBuff(1, 0, 60, 2304, 0, 0, 0), 0)
        sd.poll_list.clear()                       # net_rx_action took it off to poll
        gen = b.process_backlog(cpu, b.napi, 64)
        next(gen)                                  # the splice
        next(gen)                                  # the first packet
        b.enqueue_to_backlog(SkBuff(2, 0, 60, 2304, 0, 0, 0), 0)
        assert drive(cpu, gen) == work_done
        assert (list(sd.poll_list) == [b.napi]) is rescheduled
        assert b.napi.sched is rescheduled and len(b.input_pkt_queue) == (1 if early else 0)


def test_3x_loses_a_schedule_that_finds_the_napi_running():
    """No NAPI_STATE_MISSED before 4.10: napi_schedule of a scheduled NAPI does nothing."""
    cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
    for missed in (False, True):
        sd = SoftnetData(napi_missed=missed)
        n = NapiStruct("a", 64, None, None)
        napi_schedule(cpu, sd, n)
        napi_schedule(cpu, sd, n)
        assert n.missed is missed


def test_igb_3x_poll_returns_zero_when_it_completes(tmp_path):
    """3.13's igb_poll returns 0 on completion (spec §15.12): net_rx_action's budget is
    charged only by polls that used it all, so a CPU serving four busy vectors squeezes
    less than 6.6 does on the same traffic."""
    flows = [{"name": f"f{i}", "src": f"10.0.0.{3 + i}:5000{i}", "dst": "10.0.0.1:9000",
              "rate": "600kpps", "size": 64} for i in range(4)]
    over = {"nic": {"model": "i350", "combined": 4, "rx_usecs": 0},
            "irq": {"smp_affinity": {f"eth0-TxRx-{q}": "1" for q in range(4)}},
            "flows": flows, "duration": "3ms"}
    s66, _ = _run(tmp_path, "a", "6.6", **over)
    s313, _ = _run(tmp_path, "b", "3.13", **over)
    assert balanced(s66) and balanced(s313)
    sq = {k: s["softnet"]["cpu0"]["time_squeeze"] for k, s in (("6.6", s66), ("3.13", s313))}
    assert sq["6.6"] > 0 and sq["3.13"] < sq["6.6"], sq


# -- GRO, UDP admission, pfifo_fast --------------------------------------------------------

class Skb:
    def __init__(self, flow, i):
        self.flow, self.id, self.segs = flow, i, None
        self.len = self.truesize = 100
        self.t_wire = self.t_dma = self.t_poll = 0

    @property
    def nsegs(self):
        return 1 + len(self.segs or ())


def test_3x_gro_list_of_eight_sends_a_ninth_flow_up_unmerged():
    flows = [GroFlow(TCP, 8 * i, 52, 1448, False) for i in range(9)]   # one 6.6 bucket
    for evict in (False, True):
        g = GroList(1, False) if not evict else GroList()
        first = [Skb(i, i) for i in range(8)]
        for i in range(8):
            assert g.receive(first[i], flows[i], 0) == []
        ninth = Skb(8, 8)
        out = g.receive(ninth, flows[8], 0)
        if not evict:                              # 3.x: `goto normal`, nothing evicted
            assert out == [ninth] and g.held_segs == 8
        else:                                      # 6.6: the bucket's oldest completes
            assert out == [first[0]] and g.held_segs == 8
    g = GroList(1, False)
    for i in range(8):
        g.receive(Skb(0, i), flows[0], 0)          # one flow merges into one held packet
    assert g.held_segs == 8 and g.merged == 7


def test_3x_udp_admission_counts_in_errors_alone_above_rcvbuf():
    sk = UdpSock3(0, "10.0.0.1", 9000, 300, 1, 1)
    assert [sk.enqueue(Skb(0, i), 0, 1) for i in range(3)] == [None] * 3
    assert sk.enqueue(Skb(0, 3), 0, 1) == UDP_RCVBUF_ERRORS     # charge == rcvbuf: -ENOMEM
    sk.rmem_alloc = 301
    assert sk.enqueue(Skb(0, 4), 0, 1) == UDP_RCVQUEUES_FULL     # above: InErrors alone
    sk.rmem_alloc = 300
    assert sk.recv(1, 0).id == 0 and sk.rmem_alloc == 200         # freed as it is read


def test_3x_udp_overflow_is_in_errors_without_rcvbuf_errors(tmp_path):
    """A slow reader on 3.10: most drops are InErrors only; RcvbufErrors counts those
    that found the charge exactly at sk_rcvbuf; the books name both stages."""
    over = {"apps": [{"name": "r", "cpu": 1, "cost_per_read": "20us",
                      "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}}]}
    s, d = _run(tmp_path, "slow", "3.10", **over)
    udp = snmp(d, "Udp")
    drops = s["drops"]
    assert balanced(s) and drops.get("udp_rcvqueues_full", 0) > 0
    assert udp["InErrors"] == drops["udp_rcvqueues_full"] + drops.get("udp_rcvbuf_errors", 0)
    assert udp["RcvbufErrors"] == drops.get("udp_rcvbuf_errors", 0) < udp["InErrors"]
    s66, d66 = _run(tmp_path, "slow66", "6.6", **over)
    assert snmp(d66, "Udp")["RcvbufErrors"] == snmp(d66, "Udp")["InErrors"] > 0


def test_3x_pfifo_fast_bands_share_one_limit():
    for nolock, accepted in ((True, 6), (False, 3)):
        q = PfifoFast(3, nolock)
        got = sum(q.enqueue(Skb(0, i), prio) for i, prio in enumerate([0, 0, 0, 6, 6, 6]))
        assert got == accepted


def test_3x_runs_alike_in_both_modes(tmp_path):
    """RFS with a migrating reader on 3.13 (the backlog's early completion, NET_RX raised
    by every RPS enqueue), and interrupt-driven receive with RPS on 3.10."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run_both_modes(tmp_path / "rfs", "--set", 'kernel="3.13"', "--set", 'duration="5ms"',
                   "--set", "net.core.dev_weight=16", "--set",
                   'apps.0.migrate=[{at="2ms", cpu=2}, {at="4ms", cpu=3}]',
                   file=os.path.join(root, "examples", "rfs_migrate.toml"))
    s = summary_of(tmp_path / "rfs" / "i")
    assert balanced(s) and sum(c["received_rps"] for c in s["softnet"].values()) > 0
    run_both_modes(tmp_path / "intr", "--set", 'kernel="3.10"', "--set", 'duration="3ms"',
                   "--set", "cpus=2", "--set", 'nic.rps_cpus={"rx-0" = "1"}',
                   "--set", 'flows.0.rate="200kpps"',
                   file=os.path.join(root, "examples", "livelock.toml"))
    s = summary_of(tmp_path / "intr" / "i")
    assert balanced(s) and s["softnet"]["cpu0"]["received_rps"] > 0   # rx-0 is CPU 1's
