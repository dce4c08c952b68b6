"""RPS, the backlog and flow limit (kernel-spec §7.2–§7.6)."""

import json

from conftest import zero_costs

from softnet.cpus.backlog import FLOW_LIMIT_HISTORY, Backlog, FlowLimit, get_rps_cpu
from softnet.cpus.books import Books
from softnet.cpus.cpu import Cpu
from softnet.cpus.napi import SoftnetData
from softnet.engine.events import EventQueue
from softnet.engine.skb import SkBuff
from helpers import balanced, run_both_modes, run_inline


def test_reciprocal_scale():
    assert get_rps_cpu(None, 123) == -1
    m = [0, 1, 2, 3]
    assert get_rps_cpu(m, 0x3FFFFFFF) == 0 and get_rps_cpu(m, 0x40000000) == 1
    assert get_rps_cpu(m, 0xFFFFFFFF) == 3
    assert get_rps_cpu([5, 7], 0x80000000) == 7


def test_flow_limit_drops_above_half_the_history():
    fl = FlowLimit(4096)
    drops = [fl.over(42) for _ in range(FLOW_LIMIT_HISTORY)]
    # the 65th packet of one flow in the 128-packet window is the first over 64
    assert drops.index(True) == 64 and fl.count == 64
    fl2 = FlowLimit(4096)
    mixed = [fl2.over(h) for h in range(200)]     # all different flows: never
    assert not any(mixed)


class FakeStack:
    def __init__(self):
        self.sw_hash = [7, 9]
        self.rx_dropped_core = {}
        self.held = 0


def backlog(max_backlog=4, fl_cpus=()):
    cpu = Cpu(2, 4, zero_costs(), 1000, EventQueue(3))
    sd = SoftnetData()
    books = Books(2)
    return Backlog(cpu, sd, FakeStack(), books, max_backlog, 64, set(fl_cpus), 4096,
                   None), sd, books


def skb(flow=0):
    return SkBuff(1, flow, 60, 2304, 0, 0, 0)


def test_enqueue_thresholds_and_drops_on_the_target():
    b, sd, books = backlog(max_backlog=4)
    results = [b.enqueue_to_backlog(skb(), 0) for _ in range(7)]
    # qlen <= netdev_max_backlog is admitted: the queue reaches max + 1
    assert results == [True] * 5 + [False] * 2
    assert sd.dropped == 2 and sum(b.stack.rx_dropped_core.values()) == 2
    assert books.drops == {"backlog": 2}


def test_remote_wakeup_owes_one_ipi_to_the_enqueuer():
    b, sd, _ = backlog()
    b.enqueue_to_backlog(skb(), 0)            # CPU 0 finds the backlog idle
    b.enqueue_to_backlog(skb(), 1)            # CPU 1 just appends
    assert b.napi.sched and not sd.poll_list and b.owed_ipi_from == 0
    assert not b.ipi_from(1)                  # CPU 1 sent no IPI in the kernel
    assert b.ipi_from(0)
    b.rps_trigger_softirq()
    assert sd.received_rps == 1 and list(sd.poll_list) == [b.napi]
    assert not b.ipi_from(0)


def test_local_enqueue_schedules_directly():
    b, sd, _ = backlog()
    b.enqueue_to_backlog(skb(), 2)            # this CPU is 2
    assert list(sd.poll_list) == [b.napi] and b.owed_ipi_from is None


RPS = ['nic.combined=1', 'nic.indir="default"', 'irq.smp_affinity={}',
       'nic.rps_cpus={"rx-0" = "f"}', 'duration="10ms"', "apps.0.cost_per_read=\"0ns\""]


def many_flows(n):
    return "flows=[" + ",".join(
        f'{{src="10.0.0.{2 + i % 50}:{40000 + i}", dst="10.0.0.1:9000", rate="20kpps"}}'
        for i in range(n)) + "]"


def test_rps_spreads_many_flows(tmp_path):
    s = run_inline(tmp_path / "many", *RPS, many_flows(32))
    processed = [s["softnet"][f"cpu{c}"]["processed"] for c in range(4)]
    assert all(p > 0 for p in processed) and balanced(s)
    rps = [s["softnet"][f"cpu{c}"]["received_rps"] for c in range(4)]
    irq_cpu = s["flows"][0]["irq_cpu"]
    assert rps[irq_cpu] == 0 and sum(rps) > 0
    cal = [l for l in (tmp_path / "many" / "proc/interrupts").read_text().splitlines()
           if l.startswith("CAL:")][0].split()[1:5]
    assert [int(x) for x in cal] == rps      # each RPS IPI is a function-call interrupt


def test_rps_cannot_spread_one_flow(tmp_path):
    s = run_inline(tmp_path / "one", *RPS, 'flows.0.rate="300kpps"')
    processed = [s["softnet"][f"cpu{c}"]["processed"] for c in range(4)]
    assert sum(1 for p in processed if p) == 1 and balanced(s)


def test_flow_limit_drops_fall_on_the_elephant(tmp_path):
    mice = ",".join(f'{{name="mouse{i}", src="10.0.0.{3 + i}:{41000 + i}", '
                    f'dst="10.0.0.1:9000", rate="20kpps"}}' for i in range(10))
    flows = (f'flows=[{{name="elephant", src="10.0.0.2:40000", dst="10.0.0.1:9000", '
             f'rate="1Mpps"}},{mice}]')
    common = ['nic.combined=1', 'nic.indir="default"', 'irq.smp_affinity={}',
              'nic.rps_cpus={"rx-0" = "4"}', 'duration="10ms"',
              'apps.0.cost_per_read="0ns"', "net.core.netdev_max_backlog=40", flows]
    # The RX CPU enqueues a whole interrupt's worth to CPU 2 before its IPI lets CPU 2
    # start: a short backlog overflows at every burst.
    off = run_inline(tmp_path / "off", *common)
    on = run_inline(tmp_path / "on", *common, 'net.core.flow_limit_cpu_bitmap="f"')
    assert balanced(off) and balanced(on) and "backlog" in off["drops"]
    mice_lost = lambda s: sum(f["dropped"] for f in s["flows"][1:])  # noqa: E731
    eleph = on["flows"][0]
    assert on["drops"].get("flow_limit", 0) > 0
    assert mice_lost(on) < mice_lost(off) and mice_lost(on) * 20 < eleph["dropped"]
    irq_cpu = eleph["irq_cpu"]
    assert on["softnet"][f"cpu{irq_cpu}"]["flow_limit_count"] == on["drops"]["flow_limit"]


def test_rps_modes_identical(tmp_path):
    args = []
    for a in RPS + [many_flows(8)]:
        args += ["--set", a]
    run_both_modes(tmp_path, *args)
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert sum(c["received_rps"] for c in s["softnet"].values()) > 0


def test_quantum_modes_identical_and_reported(tmp_path):
    args = ["--quantum", "1us"]
    for a in RPS + [many_flows(8)]:
        args += ["--set", a]
    run_both_modes(tmp_path, *args)
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert s["quantum_ns"] == 1000 and balanced(s)
    exact = run_inline(tmp_path / "exact", *RPS, many_flows(8))
    assert exact["quantum_ns"] == 0
    # same packets, same fates; only cross-CPU timing moved (to microsecond boundaries)
    assert exact["offered"] == s["offered"] and exact["latency_ns"] != s["latency_ns"]
