"""Cost profiles: data files in `cpus/profiles/` giving each modelled kernel step a CPU
cost in ns, and each link its latency, every number with its source."""

from __future__ import annotations

import tomllib
from importlib import resources

COST_KEYS = (
    "irq_entry_exit", "igb_msix_ring", "tick", "ipi_call_function", "softirq_entry",
    "net_rx_action", "napi_poll", "igb_irq_enable", "igb_clean_rx_packet",
    "igb_alloc_rx_buffer", "napi_gro_receive", "netif_receive_skb_ip_rcv",
    "ip_local_deliver", "udp_rcv", "udp_queue_rcv_skb", "ttwu", "udp_recvmsg",
    "context_switch", "get_rps_cpu", "flow_dissector", "enqueue_to_backlog",
    "process_backlog_packet",
    "process_backlog_splice",
    "rps_ipi_send",
    "tcp_gro_receive", "gro_complete", "tcp_v4_rcv", "tcp_rcv_established", "tcp_recvmsg",
    "copy_to_user_kb", "kfree_skb", "kfree_skb_frag", "udp4_gro_lookup",
    "udp_sendmsg", "ip_output", "dev_queue_xmit", "qdisc_dequeue", "igb_xmit_frame",
    "igb_tx_doorbell", "igb_clean_tx_packet", "sock_wfree", "net_tx_action", "ip_forward",
    "udp_gso_segment", "cacheline_transfer", "udp_rxq_hold", "qdisc_lock_hold",
    "tcp_ack", "tcp_data_ready", "tcp_sendmsg", "tcp_send_ack", "ice_write_itr",
)
LINK_KEYS = ("pcie", "interconnect", "pcie_read")
DEFAULT_PROFILE = "xeon-e5-1650v4"


class ProfileError(ValueError):
    pass


def available_profiles() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("softnet.cpus.profiles").iterdir()
                  if p.name.endswith(".toml"))


def load_profile(name: str) -> dict:
    """A shipped profile by name, checked (`check_profile`)."""
    path = resources.files("softnet.cpus.profiles") / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"cost profile {name!r} not found; available: "
                           f"{', '.join(available_profiles())}")
    return check_profile(tomllib.loads(path.read_text()), name)


def check_profile(raw: dict, name: str) -> dict:
    """The profile as a plain dict {costs: {step: ns}, links: {link: ns}, ...}, checked:
    every step present, a whole number of ns ≥ 0, and a source that the file lists. A
    user's profile file is held to the same."""
    unknown = sorted(set(raw) - {"name", "description", "clock_ghz", "sources", "costs",
                                 "links"})
    if unknown:
        raise ProfileError(f"profile {name}: {unknown[0]} is not part of a profile (it has "
                           "name, description, clock_ghz, [sources], [costs], [links])")
    sources = raw.get("sources", {})
    if not isinstance(sources, dict) or not sources or \
            not all(isinstance(v, str) for v in sources.values()):
        raise ProfileError(f"profile {name}: needs a [sources] table naming, as text, what "
                           "each figure comes from")
    if not isinstance(raw.get("name", name), str):
        raise ProfileError(f"profile {name}: name must be a string")
    out = {"name": raw.get("name", name), "costs": {}, "links": {}}
    for section, keys in (("costs", COST_KEYS), ("links", LINK_KEYS)):
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ProfileError(f"profile {name}: [{section}] must be a table")
        unknown = sorted(set(table) - set(keys))
        if unknown:
            raise ProfileError(f"profile {name}: [{section}] {unknown[0]} is not a step "
                               f"softnet costs; the steps: {', '.join(keys)}")
        for k in keys:
            entry = table.get(k)
            if not isinstance(entry, dict) or type(entry.get("ns")) is not int \
                    or entry["ns"] < 0:
                raise ProfileError(f"profile {name}: [{section}] {k} needs "
                                   f"{{ ns = <integer ≥ 0>, source = … }}")
            if entry.get("source") not in sources:
                raise ProfileError(f"profile {name}: [{section}] {k} cites "
                                   f"{entry.get('source')!r}, not listed in [sources]")
            out[section][k] = entry["ns"]
    return out


class Costs:
    """Attribute access to a profile's step costs (hot path)."""

    __slots__ = COST_KEYS

    def __init__(self, costs: dict) -> None:
        for k in COST_KEYS:
            setattr(self, k, costs[k])
