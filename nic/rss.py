"""RSS classification of one flow: which fields are hashed, the Toeplitz hash, the RETA.

All frames of a flow share their hashed fields, so the hash and queue are computed once per
flow; per-frame work is an array lookup.
"""

from __future__ import annotations

import ipaddress

from .toeplitz import rss_input, toeplitz


def flow_type(flow: dict) -> str:
    """ethtool's flow-type name for a flow: udp4, tcp4, udp6, tcp6."""
    v = ipaddress.ip_address(flow["src_ip"]).version
    return f"{flow['proto']}{v}"


def flow_hash_and_queue(flow: dict, rss: dict) -> tuple[int, int]:
    fields = rss["rx_flow_hash"][flow_type(flow)]
    with_ports = "f" in fields and "n" in fields
    data = rss_input(flow["src_ip"], flow["dst_ip"],
                     flow["sport"] if with_ports else None,
                     flow["dport"] if with_ports else None)
    h = toeplitz(bytes(rss["key"]), data)
    reta = rss["reta"]
    q = reta[h & (len(reta) - 1)]
    # Receive queue assignment: a matching filter wins over RSS (I210 datasheet §7.1.2,
    # the igb family's order); among ether-type filters the last match decides.
    for rule in rss.get("rules", ()):
        if rule_matches(rule, flow):
            q = rule["action"]
    return h, q


ETHERTYPE = {4: 0x0800, 6: 0x86DD}


def rule_matches(rule: dict, flow: dict) -> bool:
    """An `ethtool -U` rule against a flow's frames (only the fields rules may name)."""
    if rule["flow_type"] == "ether":
        return rule["proto"] == ETHERTYPE[ipaddress.ip_address(flow["src_ip"]).version]
    if rule["flow_type"] != flow_type(flow):
        return False
    for k, fk in (("dst_port", "dport"), ("src_port", "sport"), ("dst_ip", "dst_ip"),
                  ("src_ip", "src_ip")):
        if rule.get(k) is not None and rule[k] != flow[fk]:
            return False
    return True
