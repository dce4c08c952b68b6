"""net_rx_action, L6.6 (kernel-spec §5.2) and the NAPI contract (§4.2–§4.4)."""

from types import SimpleNamespace

from conftest import drive, zero_costs

from softnet.cpus.cpu import NET_RX_SOFTIRQ, Cpu
from softnet.cpus.napi import NapiStruct, SoftnetData, napi_complete_done, napi_schedule, net_rx_action
from softnet.engine.events import EventQueue

SYSCTL = SimpleNamespace(netdev_budget=300, netdev_budget_usecs=2000)


class NoStack:
    def gro_normal_list(self, napi):
        napi.rx_list = []
        return
        yield


def fake_napi(name, works, cost=100, log=None):
    """A NAPI whose successive polls report `works` (then 0); it completes like a driver
    does when it did less than its budget."""
    it = iter(works)

    def poll(cpu, n, budget):
        w = min(next(it, 0), budget)
        if log is not None:
            log.append(name)
        yield cost
        if w < budget:
            yield from napi_complete_done(cpu, sd_of[n], n, w, NoStack())
        return w
    n = NapiStruct(name, 64, poll, None)
    return n


sd_of = {}


def setup(*napis):
    cpu = Cpu(0, 4, zero_costs(), 1000, EventQueue(1))
    sd = SoftnetData()
    for n in napis:
        sd_of[n] = sd
        napi_schedule(cpu, sd, n)
    return cpu, sd


def test_budget_checked_after_each_poll():
    log = []
    napis = [fake_napi(x, [64] * 10, log=log) for x in "abcdef"]
    cpu, sd = setup(*napis)
    drive(cpu, net_rx_action(cpu, sd, SYSCTL, NoStack()))
    # budget 300 is checked after each poll: 5 full polls (320 packets), then squeeze
    assert log == list("abcde")
    assert sd.time_squeeze == 1
    assert [n.name for n in sd.poll_list] == list("fabcde")
    assert cpu.softirq_pending & (1 << NET_RX_SOFTIRQ)


def test_lone_full_weight_napi_is_repolled_without_squeeze():
    log = []
    a = fake_napi("a", [64, 64, 10], log=log)
    cpu, sd = setup(a)
    cpu.softirq_pending = 0
    drive(cpu, net_rx_action(cpu, sd, SYSCTL, NoStack()))
    # once the list is empty the loop ends: a waits on the poll list for the next run
    assert log == ["a"] and sd.time_squeeze == 0
    assert list(sd.poll_list) == [a] and cpu.softirq_pending & (1 << NET_RX_SOFTIRQ)


def test_no_squeeze_when_list_empties():
    a = fake_napi("a", [10])
    cpu, sd = setup(a)
    cpu.softirq_pending = 0
    drive(cpu, net_rx_action(cpu, sd, SYSCTL, NoStack()))
    assert sd.time_squeeze == 0 and not sd.poll_list and not a.sched
    assert not cpu.softirq_pending and not sd.in_net_rx_action


def test_time_limit_trips_at_jiffy_granularity():
    log = []
    napis = [fake_napi(x, [64] * 10, cost=700_000, log=log) for x in "abcd"]  # 0.7 ms/poll
    cpu, sd = setup(*napis)
    sysctl = SimpleNamespace(netdev_budget=10**6, netdev_budget_usecs=2000)
    drive(cpu, net_rx_action(cpu, sd, sysctl, NoStack()))
    # starts at jiffy 0, limit = jiffy 2 (2000 us at HZ=1000): polls end at 0.7, 1.4, 2.1 ms
    assert log == ["a", "b", "c"] and cpu.now == 2_100_000 and sd.time_squeeze == 1


def test_repoll_order_round_robin():
    log = []
    a, b, c = (fake_napi(x, [64] * 10, log=log) for x in "abc")
    cpu, sd = setup(a, b, c)
    sysctl = SimpleNamespace(netdev_budget=128, netdev_budget_usecs=2000)
    drive(cpu, net_rx_action(cpu, sd, sysctl, NoStack()))
    assert log == ["a", "b"]
    # unpolled c first, then the repoll list in order
    assert [n.name for n in sd.poll_list] == ["c", "a", "b"]
    log.clear()
    drive(cpu, net_rx_action(cpu, sd, sysctl, NoStack()))
    assert log == ["c", "a"]


def test_newly_scheduled_goes_between_remaining_and_repoll():
    a, b = fake_napi("a", [64] * 10), fake_napi("b", [64] * 10)
    late = fake_napi("late", [5])
    cpu, sd = setup(a, b)
    cpu.softirq_pending = 0
    sd_of[late] = sd
    sysctl = SimpleNamespace(netdev_budget=64, netdev_budget_usecs=2000)
    gen = net_rx_action(cpu, sd, sysctl, NoStack())
    cpu.now += next(gen)            # net_rx_action entry
    napi_schedule(cpu, sd, late)    # an IRQ while net_rx_action runs
    assert not cpu.softirq_pending & (1 << NET_RX_SOFTIRQ)   # in_net_rx_action: no raise
    drive(cpu, gen)
    assert [n.name for n in sd.poll_list] == ["b", "late", "a"]


def test_napi_schedule_sets_missed_when_already_scheduled():
    cpu = Cpu(0, 1, zero_costs(), 1000, EventQueue(1))
    sd = SoftnetData()
    n = NapiStruct("n", 64, None, None)
    napi_schedule(cpu, sd, n)
    napi_schedule(cpu, sd, n)
    assert n.sched and n.missed and list(sd.poll_list) == [n]
    sd.poll_list.clear()
    # completion with MISSED set: stay scheduled, poll again, don't re-arm
    assert drive(cpu, napi_complete_done(cpu, sd, n, 3, NoStack())) is False
    assert n.sched and not n.missed and list(sd.poll_list) == [n]
    sd.poll_list.clear()
    assert drive(cpu, napi_complete_done(cpu, sd, n, 3, NoStack())) is True
    assert not n.sched


def test_disabled_napi_is_not_scheduled():
    cpu = Cpu(0, 1, zero_costs(), 1000, EventQueue(1))
    sd = SoftnetData()
    n = NapiStruct("n", 64, None, None)
    n.disabled = True
    napi_schedule(cpu, sd, n)
    assert not n.sched and not sd.poll_list
