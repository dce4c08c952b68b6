"""From a resolved experiment to the LPs and links of a run.

Decides which CPU serves each MSI-X vector (x86's vector allocator picks, within the
affinity mask, the CPU with the fewest vectors so far; with no mask set that spreads the
vectors over all CPUs), which queue each flow lands on (the same RSS the nic process runs),
and which links exist: nic→cpu where a CPU serves an RX queue, cpu→cpu where datagrams
processed on one CPU are bound for a socket owned by another. Links that cannot carry
anything are not created, so no LP waits on them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

import numpy as np

from cpus.backlog import get_rps_cpu
from cpus.costs import load_profile
from nic.device import default_reta, vector_layout
from nic.rss import flow_hash_and_queue
from nic.toeplitz import parse_hkey

NETDEV_RSS_KEY_LEN = 52
FIRST_IRQ = 65          # IRQ numbers as on the seed's host (eth0 = 65, queues follow)


@dataclass
class Plan:
    lps: list[dict] = field(default_factory=list)      # specs: name, index, factory, args, links
    vectors: list[dict] = field(default_factory=list)  # every vector with its CPU and IRQ
    flow_queue: list[int] = field(default_factory=list)
    flow_sock: list[int | None] = field(default_factory=list)
    flow_cpu: list[int] = field(default_factory=list)
    rss_key: bytes = b""
    reta: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: dict = field(default_factory=dict)


def rss_key_for(r: dict) -> bytes:
    """netdev_rss_key: random once per boot (here: from the seed); igb uses 40 bytes."""
    model = r["nic"]["_model"]
    if r["nic"]["hkey"]:
        return parse_hkey(r["nic"]["hkey"])
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([r["seed"], 0x525353])))
    key = rng.integers(0, 256, NETDEV_RSS_KEY_LEN, dtype=np.uint8).tobytes()
    return key[: model["rss_key_bytes"]]


def sw_flow_hash(flow: dict, seed: int) -> int:
    """skb_get_hash for a flow igb hands up with an L3 hash (kernel-spec §7.2): the flow
    dissector's keys put in a direction-independent order, hashed with a key random per
    boot (siphash in the kernel; keyed BLAKE2 here, from the seed); 0 becomes 1."""
    a = (ipaddress.ip_address(flow["src_ip"]).packed, flow["sport"])
    b = (ipaddress.ip_address(flow["dst_ip"]).packed, flow["dport"])
    lo, hi = sorted((a, b))
    data = lo[0] + hi[0] + lo[1].to_bytes(2, "big") + hi[1].to_bytes(2, "big") + b"\x11"
    key = seed.to_bytes(8, "little") + b"flowhash"
    h = int.from_bytes(hashlib.blake2b(data, digest_size=4, key=key).digest(), "little")
    return h or 1


def mask_cpus(mask: str) -> list[int]:
    m = int(mask.replace(",", ""), 16)
    return [c for c in range(m.bit_length()) if m >> c & 1]


def assign_vectors(r: dict) -> list[dict]:
    nic = r["nic"]
    ncpus = r["cpus"]
    load = [0] * ncpus
    out = []
    for v in vector_layout(nic["_model"], nic["ifname"], nic["combined"]):
        mask = r["irq"]["smp_affinity"].get(v.name)
        allowed = range(ncpus) if mask is None else \
            [c for c in range(ncpus) if int(mask.replace(",", ""), 16) >> c & 1]
        cpu = min(allowed, key=lambda c: (load[c], c))
        load[cpu] += 1
        out.append({"entry": v.entry, "name": v.name, "irq": FIRST_IRQ + v.entry,
                    "hwirq": (nic["_model"]["pci_requester_id"] << 11) | v.entry,
                    "rx_queues": list(v.rx_queues), "tx_queues": list(v.tx_queues),
                    "cpu": cpu, "mask": mask})
    return out


def socket_for(flow: dict, apps: list[dict]) -> int | None:
    """__udp4_lib_lookup for a flow's destination: an exact local address beats a wildcard."""
    best, score = None, -1
    for i, a in enumerate(apps):
        if a["port"] != flow["dport"]:
            continue
        if a["bind_ip"] == flow["dst_ip"]:
            s = 2
        elif ipaddress.ip_address(a["bind_ip"]).is_unspecified and \
                ipaddress.ip_address(a["bind_ip"]).version == \
                ipaddress.ip_address(flow["dst_ip"]).version:
            s = 1
        else:
            continue
        if s > score:
            best, score = i, s
    return best


def plan(r: dict) -> Plan:
    p = Plan()
    nic = r["nic"]
    model = nic["_model"]
    p.notes = list(nic.get("_notes", []))
    p.profile = prof = load_profile(r["profile"])
    p.vectors = vecs = assign_vectors(r)
    p.rss_key = rss_key_for(r)
    p.reta = nic["reta"] or default_reta(model, nic["combined"])
    rss = {"key": p.rss_key, "rx_flow_hash": nic["rx_flow_hash"], "reta": p.reta}
    p.flow_queue = [flow_hash_and_queue(f, rss)[1] for f in r["flows"]]
    p.flow_sock = [socket_for(f, r["apps"]) for f in r["flows"]]
    local = set(r["host"]["addresses"])

    ncpus = r["cpus"]
    names = ["nic"] + [f"cpu{c}" for c in range(ncpus)]
    lp_index = {n: i for i, n in enumerate(names)}
    queue_cpu = {}
    for v in vecs:
        for q in v["rx_queues"]:
            queue_cpu[q] = v["cpu"]
    sock_cpu = {i: a["cpu"] for i, a in enumerate(r["apps"])}
    rps_maps = {int(q[3:]): mask_cpus(m) for q, m in nic["rps_cpus"].items()}
    sw_hash = [sw_flow_hash(f, r["seed"]) for f in r["flows"]]
    p.flow_cpu = []                     # where each flow's protocol processing runs
    for i, q in enumerate(p.flow_queue):
        t = get_rps_cpu(rps_maps.get(q), sw_hash[i])
        p.flow_cpu.append(queue_cpu[q] if t < 0 else t)

    links: list[dict] = []
    for c in sorted(set(queue_cpu.values())):
        links.append({"src": "nic", "dst": f"cpu{c}", "latency": prof["links"]["pcie"],
                      "kind": "pcie", "carries": ["rx"]})
    carries: dict[tuple[int, int], set[str]] = {}
    for q, m in rps_maps.items():                  # backlog enqueues and their IPIs
        for t in m:
            if t != queue_cpu[q]:
                carries.setdefault((queue_cpu[q], t), set()).update(("bl", "ipi"))
    for f, c, s in zip(r["flows"], p.flow_cpu, p.flow_sock):
        if s is not None and f["dst_ip"] in local and c != sock_cpu[s]:
            carries.setdefault((c, sock_cpu[s]), set()).add("sk")
    for (a, b), kinds in sorted(carries.items()):
        links.append({"src": f"cpu{a}", "dst": f"cpu{b}",
                      "latency": prof["links"]["interconnect"], "kind": "interconnect",
                      "carries": sorted(kinds), "quantum": r["quantum_ns"]})

    drop_en = (not nic["rx_pause"]) and nic["combined"] > 1    # igb_setup_srrctl
    sysctl = r["sysctl"]
    flows_cpu = [{"len": f["size"] - 4, "local": f["dst_ip"] in local, "sock": s, "sw_hash": h}
                 for f, s, h in zip(r["flows"], p.flow_sock, sw_hash)]
    sockets = [{"index": i, "bind_ip": a["bind_ip"], "port": a["port"],
                "rcvbuf": a["sk_rcvbuf"], "owner": a["cpu"], "owner_lp": f"cpu{a['cpu']}",
                "inode": 20000 + i}
               for i, a in enumerate(r["apps"])]
    itr = nic["rx_usecs"] if nic["rx_usecs"] <= 3 else nic["rx_usecs"] << 2

    common = {"duration_ns": r["duration_ns"], "seed": r["seed"]}
    p.lps.append({"name": "nic", "index": 0, "factory": "nic.lp:build",
                  "args": {**common, "pcie_latency_ns": prof["links"]["pcie"],
                           "flows": [_flow_args(f) for f in r["flows"]],
                           "queue_cpu": [f"cpu{queue_cpu[q]}" for q in range(nic["combined"])],
                           "line_rate_bps": model["line_rate_bps"],
                           "rss": rss}})
    for c in range(ncpus):
        my_vecs = [{"entry": v["entry"], "name": v["name"], "irq": v["irq"],
                    "rx_queues": v["rx_queues"], "rx_ring": nic["rx_ring"],
                    "drop_en": drop_en,
                    "packet_buffer": nic["rx_packet_buffer"] // max(1, nic["combined"]),
                    "itr_setting": itr}
                   for v in vecs if v["cpu"] == c and v["rx_queues"]]
        p.lps.append({"name": f"cpu{c}", "index": c + 1, "factory": "cpus.lp:build",
                      "args": {**common, "cpu": c, "ncpus": ncpus, "hz": r["hz"],
                               "lp_index": lp_index, "costs": prof["costs"],
                               "sysctl": {"netdev_budget": sysctl["net.core.netdev_budget"],
                                          "netdev_budget_usecs":
                                              sysctl["net.core.netdev_budget_usecs"],
                                          "dev_weight": sysctl["net.core.dev_weight"],
                                          "gro_normal_batch":
                                              sysctl["net.core.gro_normal_batch"],
                                          "netdev_max_backlog":
                                              sysctl["net.core.netdev_max_backlog"],
                                          "flow_limit_cpus": mask_cpus(
                                              sysctl["net.core.flow_limit_cpu_bitmap"]),
                                          "flow_limit_table_len":
                                              sysctl["net.core.flow_limit_table_len"]},
                               "rps_maps": {str(q): m for q, m in rps_maps.items()},
                               "cpu_lp": {str(k): f"cpu{k}" for k in range(ncpus)},
                               "device": {"rx_buffer_write": model["rx_buffer_write"],
                                          "start_itr": model["start_itr"],
                                          "napi_weight": model["napi_weight"],
                                          "truesize": model["rx_truesize"],
                                          "gigabit": model["line_rate_bps"] == 10**9},
                               "vectors": my_vecs, "flows": flows_cpu, "sockets": sockets,
                               "apps": [{"name": a["name"], "sock": i,
                                         "cost_per_read_ns": a["cost_per_read_ns"]}
                                        for i, a in enumerate(r["apps"]) if a["cpu"] == c]}})
    for spec in p.lps:
        spec["out_links"] = [l for l in links if l["src"] == spec["name"]]
        spec["in_links"] = [l for l in links if l["dst"] == spec["name"]]
    return p


def _flow_args(f: dict) -> dict:
    return {k: f.get(k) for k in ("name", "proto", "src_ip", "sport", "dst_ip", "dport",
                                  "pps", "size", "arrival", "on_ns", "off_ns", "count",
                                  "start_ns", "stop_ns")}
