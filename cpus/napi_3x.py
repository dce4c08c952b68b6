"""The NET_RX softirq handler of 3.10 and 3.13 (devices-probe-kernels.md §4.1), under the
kernel's name: it checks budget and time before each poll, moves a NAPI that used its
weight to the tail itself, and never sets `in_net_rx_action`. The NAPI core it drives is
`napi`'s.

May import: this package's `cpu` and `napi`.
"""

from __future__ import annotations

from .cpu import NET_RX_SOFTIRQ
from .napi import SoftnetData


def net_rx_action(cpu, sd: SoftnetData, sysctl, stack):
    """The NET_RX softirq handler of 3.10 and 3.13 (devices-probe-kernels.md §4.1): the
    head of poll_list is polled while budget and two jiffies last; a NAPI that used its
    whole weight has its GRO packets older than this jiffy flushed and goes to the tail
    (list_move_tail); one that did less completed itself. Budget or time running out
    with NAPIs still listed counts `time_squeeze` and raises NET_RX again."""
    costs = cpu.costs
    time_limit = cpu.jiffies() + 2
    budget = sysctl.netdev_budget
    if costs.net_rx_action:
        yield costs.net_rx_action
    pl = sd.poll_list
    while pl:
        if budget <= 0 or cpu.jiffies() >= time_limit:          # softnet_break
            sd.time_squeeze += 1
            if cpu.tracer is not None:
                cpu.tracer.args("net_rx_action", time_squeeze=1)
            cpu.softirq_pending |= 1 << NET_RX_SOFTIRQ
            break
        n = pl.popleft()              # (list_del'd by napi_complete, or moved below)
        yield costs.napi_poll
        weight = n.weight
        work = 0
        if n.sched:
            n.polls += 1
            work = yield from n.poll(cpu, n, weight)
            if cpu.tracer is not None:
                cpu.tracer.napi_poll(n.name, work, weight)
        budget -= work
        if work >= weight:
            if n.gro is not None and n.gro.has_held():
                yield from stack.napi_gro_flush(n, cpu.hz >= 1000)
            pl.append(n)
    if sd.rps_ipi_list:                                # net_rps_action_and_irq_enable
        yield from stack.send_rps_ipis()
