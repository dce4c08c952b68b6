"""NAPI core and the NET_RX softirq (kernel-spec §4, §5.2; L6.6 net/core/dev.c).

`napi_schedule` always puts a NAPI on the *current* CPU's poll list. `net_rx_action`
polls the list round-robin under a packet budget and a jiffy-granular time limit,
counting `time_squeeze` whenever either trips after a poll; NAPIs that used their full
weight go to the tail via the repoll list. `net_rx_action_3x` is the loop of 3.10 and 3.13
(devices-probe-kernels.md §4.1): it checks budget and time before each poll, moves a
NAPI that used its weight to the tail itself, and knows neither NAPI_STATE_MISSED nor
`in_net_rx_action` (`SoftnetData.napi_missed` off).
"""

from __future__ import annotations

from collections import deque

from .cpu import NET_RX_SOFTIRQ


class NapiStruct:
    __slots__ = ("name", "weight", "poll", "ctx", "sched", "missed", "disabled",
                 "rx_list", "rx_count", "gro", "polls")

    def __init__(self, name: str, weight: int, poll, ctx) -> None:
        self.name = name
        self.weight = weight
        self.poll = poll          # generator function (cpu, napi, budget) -> work done
        self.ctx = ctx            # driver data (q_vector)
        self.sched = False        # NAPI_STATE_SCHED
        self.missed = False       # NAPI_STATE_MISSED
        self.disabled = False
        self.rx_list: list = []   # GRO_NORMAL skbs waiting for delivery (napi->rx_list)
        self.rx_count = 0         # … counted in segments (napi->rx_count)
        self.gro = None           # GroList (napi->gro_hash) when the device does GRO
        self.polls = 0


class SoftnetData:
    """Per-CPU `softnet_data`: poll list and the counters of /proc/net/softnet_stat (the
    backlog queues and flow-limit tables live in `backlog.Backlog`)."""

    __slots__ = ("poll_list", "in_net_rx_action", "processed", "dropped", "time_squeeze",
                 "received_rps", "rps_ipi_list", "napi_missed")

    def __init__(self, napi_missed: bool = True) -> None:
        self.poll_list: deque[NapiStruct] = deque()
        self.in_net_rx_action = False
        self.napi_missed = napi_missed    # the kernel has NAPI_STATE_MISSED (4.10+)
        self.processed = 0
        self.dropped = 0
        self.time_squeeze = 0
        self.received_rps = 0
        self.rps_ipi_list: list = []


def napi_list_schedule(cpu, sd: SoftnetData, n: NapiStruct, in_interrupt: bool) -> None:
    """____napi_schedule (renamed: Python mangles leading "__" names inside classes)."""
    sd.poll_list.append(n)
    # 6.6: while net_rx_action runs, it picks newly scheduled NAPIs up itself.
    if not sd.in_net_rx_action:
        cpu.raise_softirq_irqoff(NET_RX_SOFTIRQ, in_interrupt)


def napi_schedule(cpu, sd: SoftnetData, n: NapiStruct, in_interrupt: bool = True) -> None:
    """napi_schedule_prep + __napi_schedule."""
    if n.disabled:
        return
    if n.sched:
        # 6.6 notes a schedule that found the NAPI running, to poll it again; 3.x
        # loses it (the driver's interrupt stays masked while it polls)
        if sd.napi_missed:
            n.missed = True
        return
    n.sched = True
    napi_list_schedule(cpu, sd, n, in_interrupt)


def napi_complete_done(cpu, sd: SoftnetData, n: NapiStruct, work_done: int, stack):
    """Returns True when the driver may re-enable its interrupt (kernel-spec §4.3).
    gro_flush_timeout and napi_defer_hard_irqs are 0 (defaults): flush everything."""
    if n.gro is not None and n.gro.has_held():
        yield from stack.napi_gro_flush(n, False)
    if n.rx_list:
        yield from stack.gro_normal_list(n)
    if n.missed:
        n.missed = False
        napi_list_schedule(cpu, sd, n, True)   # poll again; leave the IRQ masked
        return False
    n.sched = False
    return True


def __napi_poll(cpu, n: NapiStruct, stack):
    """Returns (work, repoll)."""
    weight = n.weight
    work = 0
    if n.sched:
        n.polls += 1
        work = yield from n.poll(cpu, n, weight)
        if cpu.tracer is not None:
            cpu.tracer.napi_poll(n.name, work, weight)      # trace_napi_poll
    if work < weight:
        return work, False
    # Full weight used: the core still owns n. Held packets older than this jiffy are
    # flushed (all of them if HZ < 1000), then the GRO_NORMAL batch is delivered.
    if n.gro is not None and n.gro.has_held():
        yield from stack.napi_gro_flush(n, cpu.hz >= 1000)
    if n.rx_list:
        yield from stack.gro_normal_list(n)
    return work, True


def net_rx_action(cpu, sd: SoftnetData, sysctl, stack):
    """The NET_RX softirq handler, L6.6 (kernel-spec §5.2)."""
    costs = cpu.costs
    time_limit = cpu.jiffies() + usecs_to_jiffies(sysctl.netdev_budget_usecs, cpu.hz)
    budget = sysctl.netdev_budget
    lst: deque[NapiStruct] = deque()
    repoll: deque[NapiStruct] = deque()
    entry = costs.net_rx_action
    while True:                                    # start:
        sd.in_net_rx_action = True
        lst.extend(sd.poll_list)
        sd.poll_list.clear()
        if entry:
            yield entry
            entry = 0
        finish = False
        while True:
            if not lst:
                if not repoll:
                    sd.in_net_rx_action = False
                    if sd.poll_list:
                        break                      # goto start
                    if not sd.rps_ipi_list:
                        return                     # goto end
                finish = True
                break
            n = lst.popleft()
            yield costs.napi_poll
            work, again = yield from __napi_poll(cpu, n, stack)
            if again:
                repoll.append(n)
            budget -= work
            if budget <= 0 or cpu.jiffies() >= time_limit:
                sd.time_squeeze += 1
                if cpu.tracer is not None:
                    cpu.tracer.args("net_rx_action", time_squeeze=1)
                finish = True
                break
        if finish:
            break
    lst.extend(sd.poll_list)
    lst.extend(repoll)
    sd.poll_list = lst
    if lst:
        cpu.softirq_pending |= 1 << NET_RX_SOFTIRQ    # __raise_softirq_irqoff
    else:
        sd.in_net_rx_action = False
    if sd.rps_ipi_list:                                # net_rps_action_and_irq_enable
        yield from stack.send_rps_ipis()


def usecs_to_jiffies(usecs: int, hz: int) -> int:
    """Rounds up, as the kernel's usecs_to_jiffies does."""
    return -(-usecs * hz // 1_000_000)
