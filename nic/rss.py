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
    return h, reta[h & (len(reta) - 1)]
