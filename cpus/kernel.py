"""The kernel versions softnet models, and where their packet paths differ
(kernel-spec §15 and §10.7; devices-probe-kernels.md §4). 6.6 is the default; 3.10 and
3.13 are the seeds' era. A `Kernel` is read-only data: the planner checks an experiment
against it (which sysctls and features exist), each CPU picks its paths by it, and the
report writes each `/proc` file in its version's format.

May import: the standard library only.
"""

from __future__ import annotations


class Kernel:
    """What one kernel version does differently. Every flag names the mechanism it
    switches; the version each appeared in is in the spec sections cited."""

    __slots__ = ("name", "sysctls", "net_rx_action", "napi_missed",
                 "backlog_complete_early", "gro_hash_buckets", "gro_evict_oldest",
                 "drv_zero_work", "lazy_rmem_release", "pfifo_fast_nolock",
                 "bulk_dequeue", "qdisc_quota_sysctl", "udp_gso", "udp_gro", "tcp",
                 "ntuple", "models", "softnet_columns", "softirq_block_iopoll",
                 "irq_domain_names", "mptcp", "function_names")

    def __init__(self, **kw) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.pop(k))
        if kw:
            raise TypeError(f"unknown Kernel fields: {sorted(kw)}")


# net.core / net.ipv4 names each version's sysctl tables have, of those softnet models
# (sysctl_net_core.c net_core_table; devices-probe-kernels.md §4.4)
_SYSCTLS_310 = frozenset((
    "net.core.netdev_budget", "net.core.netdev_max_backlog", "net.core.dev_weight",
    "net.core.rmem_default", "net.core.rmem_max", "net.core.wmem_default",
    "net.core.wmem_max", "net.core.rps_sock_flow_entries", "net.ipv4.tcp_rmem",
    "net.ipv4.ip_forward", "net.ipv4.neigh.default.unres_qlen_bytes"))
# 3.11-3.12 added the flow limit's tables and default_qdisc
_SYSCTLS_313 = _SYSCTLS_310 | {"net.core.flow_limit_cpu_bitmap",
                               "net.core.flow_limit_table_len", "net.core.default_qdisc"}
# later: netdev_budget_usecs (4.12), gro_normal_batch (5.4), dev_tx_weight (5.x)
_SYSCTLS_66 = _SYSCTLS_313 | {"net.core.netdev_budget_usecs", "net.core.gro_normal_batch",
                              "net.core.dev_tx_weight"}

_OLD = dict(
    # §4.1: 2 jiffies fixed, head of poll_list, list_move_tail, no repoll list, no
    # in_net_rx_action; each skb to netif_receive_skb at once (no gro_normal_batch,
    # spec §15.2: the sysctls below hard-code it)
    net_rx_action="3.x",
    napi_missed=False,             # NAPI_STATE_MISSED came in 4.10
    backlog_complete_early=True,   # §4.2: process_backlog completes once the rest fits
    gro_hash_buckets=1, gro_evict_oldest=False,         # §4.6: one list of 8, no eviction
    # spec §15.12: the drivers whose poll returns 0 when it completes (budget undercharged)
    drv_zero_work=frozenset({"igb"}),
    lazy_rmem_release=False,       # §4.5: UdpSock3's admission, an skb freed as it is read
    pfifo_fast_nolock=False,       # §10.7: a locked qdisc, one skb per qdisc_restart
    bulk_dequeue=False, qdisc_quota_sysctl="net.core.dev_weight",     # weight_p
    udp_gso=False, udp_gro=False,  # UDP_SEGMENT (4.18), UDP_GRO (5.0)
    tcp=False,                     # prequeue, no autocorking: not modelled
    # igb's ethtool -N flow rules came after 3.x (3.10's struct igb_adapter has no
    # nfc_filter_list)
    ntuple=False,
    # ice came in 4.x; ixgbe's 3.x driver (its poll's return, its strings) was not read
    models=frozenset({"i350", "82574l"}),
    softirq_block_iopoll=True, irq_domain_names=False, mptcp=False,
    # a trace's names where 3.10's differ from the model's generators ("": inlined,
    # no frame of its own; seed 000's function graph shows dev_queue_xmit calling
    # sch_direct_xmit, and ip_finish_output calling dev_queue_xmit)
    function_names={"do_softirq": "__do_softirq", "dev_xmit_skb": "",
                    "ip_finish_output2": "ip_finish_output", "neigh_output": ""})

KERNELS: dict[str, Kernel] = {
    # 3.10 has no flow limit: its sysctls are absent, so no CPU limits
    "3.10": Kernel(name="3.10", sysctls=_SYSCTLS_310, softnet_columns=10, **_OLD),
    "3.13": Kernel(name="3.13", sysctls=_SYSCTLS_313, softnet_columns=11, **_OLD),
    "6.6": Kernel(name="6.6", sysctls=_SYSCTLS_66, net_rx_action="6.6", napi_missed=True,
                  backlog_complete_early=False, gro_hash_buckets=8, gro_evict_oldest=True,
                  lazy_rmem_release=True, pfifo_fast_nolock=True,
                  bulk_dequeue=True, qdisc_quota_sysctl="net.core.dev_tx_weight",
                  drv_zero_work=frozenset(),
                  udp_gso=True, udp_gro=True, tcp=True, ntuple=True,
                  models=frozenset({"i350", "e810", "82574l", "82599"}),
                  softnet_columns=15, softirq_block_iopoll=False,
                  irq_domain_names=True, mptcp=True, function_names={}),
}
DEFAULT_KERNEL = "6.6"
