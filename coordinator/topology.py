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

from softnet.cpus.arfs import cpu_rmap
from softnet.cpus.backlog import get_rps_cpu
from softnet.cpus.rfs import roundup_pow_of_two
from softnet.cpus.gro import NORMAL as GRO_NORMAL, TCP as GRO_TCP, UDP_GRO as GRO_UDP
from softnet.cpus.kernel import KERNELS
from softnet.cpus.tx import pick_tx
from softnet.engine.records import check_link
from softnet.nic.device import default_reta, vector_layout
from softnet.nic.rss import flow_hash_and_queue, flow_type
from softnet.nic.tcp_timers import handshake_rtt_us
from softnet.nic.toeplitz import parse_hkey

from .config import FRAME_OVERHEAD, L4_HDR, arfs_refused_types, route_port

NETDEV_RSS_KEY_LEN = 52
FIRST_IRQ = 65          # IRQ numbers as on the seed's host (eth0 = 65, queues follow)


@dataclass
class Plan:
    lps: list[dict] = field(default_factory=list)      # specs: name, index, factory, args, links
    vectors: list[dict] = field(default_factory=list)  # every vector with its CPU and IRQ
    flow_queue: list[int] = field(default_factory=list)
    flow_hash: list[int] = field(default_factory=list)   # the NIC's RSS hash
    flow_sock: list[int | None] = field(default_factory=list)
    servers: dict = field(default_factory=dict)   # udp_rr server app -> rr_servers' entry
    rr_txq: dict = field(default_factory=dict)    # udp_rr flow -> its responses' TX queue
    rr_hash: dict = field(default_factory=dict)   # … and their skb hash
    flow_cpu: list[int] = field(default_factory=list)
    rss_key: bytes = b""
    reta: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: dict = field(default_factory=dict)
    arfs: bool = False                  # set_rps_cpu may program NIC filters (aRFS)
    atr: bool = False                   # ixgbe's TX path programs NIC filters (ATR)
    fdir_hash: bool = False             # ixgbe's Flow Director in hash mode (ATR on)
    senders: list = field(default_factory=list)   # per sending app: hash, TX queue, owner
    flow_txq: dict = field(default_factory=dict)  # forwarded flow -> its TX queue
    neigh: list = field(default_factory=list)     # next hops resolved by ARP
    neigh_cpus: dict = field(default_factory=dict)


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
    ip_proto = b"\x06" if flow.get("proto") == "tcp" else b"\x11"   # IPPROTO_TCP / _UDP
    data = lo[0] + hi[0] + lo[1].to_bytes(2, "big") + hi[1].to_bytes(2, "big") + ip_proto
    key = seed.to_bytes(8, "little") + b"flowhash"
    h = int.from_bytes(hashlib.blake2b(data, digest_size=4, key=key).digest(), "little")
    return h or 1


def mask_cpus(mask: str) -> list[int]:
    m = int(mask.replace(",", ""), 16)
    return [c for c in range(m.bit_length()) if m >> c & 1]


def q_vector_cpus(r: dict) -> bool:
    """ixgbe_alloc_q_vector gives each q_vector a CPU (cpumask_local_spread of its index),
    and ixgbe_configure_tx_ring its TX ring that XPS map, when there is more than one RSS
    queue and an ATR sample rate: MSI-X and `ethtool -L` above 1 (§2.1)."""
    nic = r["nic"]
    return bool(nic["_model"].get("atr_sample_rate")) and nic["int_mode"] == "msix" and \
        nic["combined"] > 1


def driver_xps(r: dict, q: int) -> int | None:
    """The CPU a driver puts in TX queue q's XPS map at open (its q_vector's affinity
    mask), None for none: ice's is CPU q while that CPU is online (ice_vsi_alloc_q_vector,
    ice_cfg_xps_tx_ring); ixgbe's cpumask_local_spread(q) when its q_vectors have CPUs
    (q_vector_cpus, ixgbe_configure_tx_ring)."""
    kind = r["nic"]["_model"].get("xps_default")
    ncpus = r["cpus"]
    if kind == "q_vector":
        return q if q < ncpus else None
    if kind == "q_vector_atr" and q_vector_cpus(r):
        return q % ncpus
    return None


def atr_enabled(r: dict) -> bool:
    """ixgbe's ATR (Flow Director hash mode, IXGBE_FLAG_FDIR_HASH_CAPABLE): as above,
    unless `ethtool -K ntuple on` chose perfect filters; only then is each IRQ's affinity
    hint its q_vector's CPU (ixgbe_request_msix_irqs)."""
    return q_vector_cpus(r) and not r["nic"]["ntuple"]


def assign_vectors(r: dict) -> list[dict]:
    """Every port's vectors (each port is its own PCI function and netdev): queue numbers
    are global across ports (port × combined + q), entries and IRQs follow one another."""
    nic = r["nic"]
    ncpus = r["cpus"]
    nq = nic["combined"]
    load = [0] * ncpus
    out = []
    names = nic.get("port_names", [nic["ifname"]])
    for p, ifname in enumerate(names):
        for v in vector_layout(nic["_model"], ifname, nq, nic["int_mode"]):
            mask = r["irq"]["smp_affinity"].get(v.name)
            allowed = range(ncpus) if mask is None else \
                [c for c in range(ncpus) if int(mask.replace(",", ""), 16) >> c & 1]
            hint = nic["_model"].get("affinity_hint")
            if mask is None and v.rx_queues and (hint == "local_spread" or (
                    hint == "local_spread_atr" and atr_enabled(r))):
                # ice_vsi_req_irq_msix, ixgbe_request_msix_irqs with ATR:
                # irq_update_affinity_hint(cpumask_local_spread(v_idx))
                allowed = [v.rx_queues[0] % ncpus]
            cpu = min(allowed, key=lambda c: (load[c], c))
            load[cpu] += 1
            g = len(out)
            # 6.6's per-device MSI domains: the chip is named after the PCI function, and
            # hwirq is the MSI-X table index (devices-probe-kernels.md §3.3)
            fn = pci_function(nic["_model"]["pci_requester_id"] + p)
            mode = nic["int_mode"]
            if mode == "msix":
                irq, chip, hwirq, flow = FIRST_IRQ + g, f"IR-PCI-MSIX-{fn}", v.entry, "edge"
            elif mode == "msi":           # one message, hwirq 0 in the device's domain
                irq, chip, hwirq, flow = FIRST_IRQ + g, f"IR-PCI-MSI-{fn}", 0, "edge"
            else:       # INTx: the IO-APIC pin its line is routed to, level (fasteoi)
                gsi = nic["_model"]["intx_gsi"]
                irq, chip, hwirq, flow = gsi, "IR-IO-APIC", gsi, "fasteoi"
            if not KERNELS[r["kernel"]].irq_domain_names:
                # 3.x: one "PCI-MSI" chip for MSI and MSI-X, the remapping's " IR-"
                # prefix printed by ir_print_prefix, and no hwirq column (§3.3)
                chip, hwirq = ("IR-IO-APIC" if mode == "legacy" else "IR-PCI-MSI"), None
            out.append({"entry": g, "name": v.name, "irq": irq, "port": p,
                        "chip": chip, "hwirq": hwirq, "flow": flow,
                        "rx_queues": [p * nq + q for q in v.rx_queues],
                        "tx_queues": [p * nq + q for q in v.tx_queues],
                        "cpu": cpu, "mask": mask, "affinity": list(allowed)})
    return out


def pci_function(requester_id: int) -> str:
    """pci_name: domain:bus:device.function of a requester ID (bus << 8 | devfn)."""
    bus, devfn = requester_id >> 8, requester_id & 0xFF
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


def tx_hash(a: dict, index: int, seed: int) -> int:
    """skb_get_hash of a sender's datagrams: a connected socket stamps its random
    sk_txhash as an L4 hash (spec §7.2; random per socket, from the seed here); an
    unconnected one's skb is hashed by the flow dissector like a received packet."""
    if a["connected"]:
        key = seed.to_bytes(8, "little") + b"sktxhash"
        h = int.from_bytes(hashlib.blake2b(index.to_bytes(4, "little"), digest_size=4,
                                           key=key).digest(), "little")
        return h or 1
    return sw_flow_hash({"src_ip": a["src_ip"], "sport": a["sport"], "dst_ip": a["dst_ip"],
                         "dport": a["dport"], "proto": "udp"}, seed)


def rr_servers(r: dict, flow_sock: list) -> dict[int, dict]:
    """The udp_rr servers (apps with serve = "rr"): the address their responses leave
    from, and the response payload of each request flow they answer."""
    out: dict[int, dict] = {}
    for i, a in enumerate(r["apps"]):
        if a.get("serve") == "rr":
            src = a["bind_ip"] if a["bind_ip"] != "0.0.0.0" else r["host"]["addresses"][0]
            out[i] = {"src_ip": src,
                      "responses": {k: f["rr"]["response"] for k, f in enumerate(r["flows"])
                                    if flow_sock[k] == i and "rr" in f}}
    return out


def reuseport_hash(flow: dict, seed: int) -> int:
    """udp_ehashfn: jhash of the 4-tuple with a secret random per boot (keyed BLAKE2 from
    the seed here, as for the flow hash, but a different key)."""
    data = (ipaddress.ip_address(flow["dst_ip"]).packed + flow["dport"].to_bytes(2, "big")
            + ipaddress.ip_address(flow["src_ip"]).packed + flow["sport"].to_bytes(2, "big"))
    key = seed.to_bytes(8, "little") + b"udpehash"
    return int.from_bytes(hashlib.blake2b(data, digest_size=4, key=key).digest(), "little")


def socket_for(flow: dict, apps: list[dict], seed: int = 1) -> int | None:
    """__udp4_lib_lookup (L6.6 udp.c): sockets bound to the exact destination address are
    searched first, then wildcard-bound ones. compute_score: 2, +4 for a connected peer
    address, +4 for a connected peer port (a connected socket whose peer differs does not
    match). The best score wins; a connected (TCP_ESTABLISHED) socket is taken as is; an
    unconnected one in an SO_REUSEPORT group hands the choice to the group: the socket at
    reciprocal_scale(udp_ehashfn, n) among the group's unconnected sockets, in bind order.
    (The +1 for sk_incoming_cpu == this CPU only separates sockets that tie otherwise,
    which needs two sockets connected to the same peer: not modelled.)"""
    dst = ipaddress.ip_address(flow["dst_ip"])
    for exact in (True, False):
        best, score = None, 0
        for i, a in enumerate(apps):
            if a["port"] != flow["dport"] or a["socket"]["proto"] != "udp":
                continue
            bip = ipaddress.ip_address(a["bind_ip"])
            if exact and bip != dst:
                continue
            if not exact and not (bip.is_unspecified and bip.version == dst.version):
                continue
            sc = 2
            if a.get("rem_ip") is not None:
                if a["rem_ip"] != flow["src_ip"] or a["rem_port"] != flow["sport"]:
                    continue
                sc += 8
            if sc > score:
                best, score = i, sc
        if best is None:
            continue
        a = apps[best]
        if a.get("rem_ip") is None and a["socket"].get("reuseport"):
            group = [i for i, b in enumerate(apps)
                     if b["socket"].get("reuseport") and b.get("rem_ip") is None
                     and b["port"] == a["port"] and b["bind_ip"] == a["bind_ip"]]
            best = group[(reuseport_hash(flow, seed) * len(group)) >> 32]
        return best
    return None


def tcp_connections(flows: list[dict], apps: list[dict], local: set) -> list[int | None]:
    """Each TCP flow is one established connection; its reader is the first TCP app on
    the flow's destination port (bound to that address or to the wildcard) that has not
    taken a connection yet — accept() hands connections out in order. A TCP flow to a
    port without such an app has no socket (tcp_v4_rcv answers with a RST)."""
    taken: set[int] = set()
    out: list[int | None] = []
    for f in flows:
        if f["proto"] != "tcp" or f["dst_ip"] not in local:
            out.append(None)
            continue
        dst = ipaddress.ip_address(f["dst_ip"])
        pick = None
        rr = "rr" in f                 # a TCP_RR connection goes to a netserver process
        for i, a in enumerate(apps):
            if i in taken or a["socket"]["proto"] != "tcp" or a["port"] != f["dport"] \
                    or a.get("sender") or (a.get("serve") == "rr") != rr:
                continue
            bip = ipaddress.ip_address(a["bind_ip"])
            if bip == dst or bip.is_unspecified:
                pick = i
                break
        if pick is not None:
            taken.add(pick)
        out.append(pick)
    return out


def plan(r: dict) -> Plan:
    p = Plan()
    nic = r["nic"]
    model = nic["_model"]
    p.notes = list(nic.get("_notes", []))
    p.profile = prof = r["_profile"]
    p.vectors = vecs = assign_vectors(r)
    p.rss_key = rss_key_for(r)
    p.reta = nic["reta"] or default_reta(model, nic["combined"])
    handshake_us = handshake_rtt_us(nic["line_rate_bps"], prof["links"]["pcie"])
    rss = {"key": p.rss_key, "rx_flow_hash": nic["rx_flow_hash"], "reta": p.reta,
           "rules": nic["rules"]}
    hq = [flow_hash_and_queue(f, rss) for f in r["flows"]]
    p.flow_hash = [h for h, _ in hq]
    nq = nic["combined"]
    nports = nic.get("ports", 1)
    # queues are numbered across ports: port × combined + the port's own queue
    p.flow_queue = [q if q < 0 else f.get("port", 0) * nq + q
                    for f, (_, q) in zip(r["flows"], hq)]
    local = set(r["host"]["addresses"])
    tcp = tcp_connections(r["flows"], r["apps"], local)
    p.flow_sock = [tcp[i] if f["proto"] == "tcp" else socket_for(f, r["apps"], r["seed"])
                   for i, f in enumerate(r["flows"])]
    peer: dict[int, dict] = {tcp[i]: f for i, f in enumerate(r["flows"]) if tcp[i] is not None}
    peer_k = {tcp[i]: i for i in range(len(r["flows"])) if tcp[i] is not None}
    for i, f in enumerate(r["flows"]):
        if f["proto"] == "tcp" and f["dst_ip"] in local and tcp[i] is None:
            p.notes.append(f"flow {f['name']}: no TCP app left on port {f['dport']} to read "
                           "this connection (each TCP app reads one); its segments are "
                           "dropped as tcp_no_socket")
    for i, a in enumerate(r["apps"]):
        if a["socket"]["proto"] == "tcp" and not a.get("sender") and i not in peer:
            p.notes.append(f"app {a['name']}: no TCP connection left on port {a['port']} "
                           "(each flow is one connection, accepted by the first free app); "
                           "it waits in accept() and reads nothing")

    ncpus = r["cpus"]
    names = ["nic"] + [f"cpu{c}" for c in range(ncpus)]
    lp_index = {n: i for i, n in enumerate(names)}
    queue_cpu = {}
    for v in vecs:
        for q in v["rx_queues"]:
            queue_cpu[q] = v["cpu"]
    # every CPU a socket is owned on during the run (its reader's, which `migrate` moves)
    sock_cpus = {i: sorted({c for _, c in a["timeline"]}) for i, a in enumerate(r["apps"])}
    # /sys/class/net/ethN/queues/rx-K/… : the same setting on every port
    rps_maps = {pt * nq + int(q[3:]): mask_cpus(m) for q, m in nic["rps_cpus"].items()
                for pt in range(nports)}
    # skb->hash: a driver that reports an L4 hash (ice) hands up the NIC's Toeplitz value;
    # igb's is L3-typed, so the flow dissector computes a software hash (spec §7.2)
    sw_hash = [h if model.get("l4_rxhash") else sw_flow_hash(f, r["seed"])
               for f, (h, _) in zip(r["flows"], hq)]
    p.flow_cpu = []                     # where each flow's protocol processing runs
    for i, q in enumerate(p.flow_queue):
        if q < 0:                       # an ntuple drop rule: never reaches a CPU
            p.flow_cpu.append(-1)
            continue
        t = get_rps_cpu(rps_maps.get(q), sw_hash[i])
        p.flow_cpu.append(queue_cpu[q] if t < 0 else t)

    links: list[dict] = []
    for c in sorted(set(queue_cpu.values())):
        links.append({"src": "nic", "dst": f"cpu{c}", "latency": prof["links"]["pcie"],
                      "kind": "pcie", "carries": ["rx"]})
    # RFS (spec §7.3): queues with an rps_flow_table, once rps_sock_flow_entries > 0. A
    # flow there may be processed where RPS puts it or on the CPU of any connected
    # socket's reader (the CPUs that write the socket flow table).
    entries = r["sysctl"]["net.core.rps_sock_flow_entries"]
    rfs_queues = {pt * nq + int(q[3:]): n for q, n in nic["rps_flow_cnt"].items()
                  for pt in range(nports)} if entries else {}
    sock_hash: dict[int, int] = {}          # connected socket -> its peer flow's hash
    for i, sidx in enumerate(p.flow_sock):
        if sidx is not None and (r["apps"][sidx]["rem_ip"] is not None or sidx in peer):
            sock_hash[sidx] = sw_hash[i]
    writers = sorted({c for s in sock_hash for c in sock_cpus[s]}) if rfs_queues else []
    if not writers:
        rfs_queues = {}
    rfs_rx = sorted({queue_cpu[q] for q in rfs_queues})
    slot_socks: dict[int, list[int]] = {}
    smask = (1 << (entries - 1).bit_length() if entries > 1 else 1) - 1
    for sidx, h in sock_hash.items():
        slot_socks.setdefault(h & smask, []).append(sidx)
    # a slot two sockets on different CPUs write; one moving reader writes from one CPU
    # at a time, and its new CPU forgets what it wrote there before
    shared = sorted(sl for sl, ss in slot_socks.items()
                    if len(ss) > 1 and len({c for x in ss for c in sock_cpus[x]}) > 1)

    # aRFS (set_rps_cpu with CONFIG_RFS_ACCEL): ntuple on, a driver with
    # ndo_rx_flow_steer, RFS in use. A flow may then move to any RFS queue the rmap names.
    arfs = None
    p.arfs = False
    if rfs_queues and nic["ntuple"] and model.get("ntuple", {}).get("arfs"):
        rmap = cpu_rmap(ncpus, [(v["rx_queues"][0], v["affinity"]) for v in vecs
                                if v["rx_queues"]])
        refused_types = set(arfs_refused_types(nic["rules"]))
        refused = [i for i, f in enumerate(r["flows"]) if flow_type(f) in refused_types]
        arfs = {"rmap": rmap, "refused_flows": refused,
                "flow_masks": {str(q): roundup_pow_of_two(n) - 1
                               for q, n in rfs_queues.items()}}
        steers = arfs_candidates(p.flow_queue, sw_hash, sock_hash, sock_cpus, smask,
                                 ncpus, rmap, rfs_queues, set(refused), queue_cpu)
        exp = model["arfs"]
        hz = r["hz"]
        nic_arfs = {"hz": hz, "expire_j": -(-exp["udp_expire_ms"] * hz // 1000),
                    "service_period_ns": exp["service_period_ms"] * 1_000_000}
        # once a filter can expire, set_rps_cpu may ask again for any flow at any time
        arfs["expiry"] = r["duration_ns"] > exp["udp_expire_ms"] * 1_000_000
        if arfs["expiry"]:
            steers = {c: dict(v, forever=True) for c, v in steers.items()}
        p.arfs = True
        p.notes.append("aRFS: ntuple is on, RFS is configured and ice has "
                       "ndo_rx_flow_steer; flows move to the RX queue of their reader's CPU "
                       f"(rx_cpu_rmap: {', '.join(f'cpu{c}->rx-{q}' for c, q in enumerate(rmap))})"
                       + (f"; not for {', '.join(sorted(refused_types))}: an ethtool rule of "
                          "that flow type does not name the whole 4-tuple" if refused_types
                          else ""))
        for c in rfs_rx:
            links.append({"src": f"cpu{c}", "dst": "nic", "latency": prof["links"]["pcie"],
                          "kind": "pcie", "carries": ["arfs"]})
    arfs_queues = set(rfs_queues) if arfs else set()

    carries: dict[tuple[int, int], set[str]] = {}
    steer_to = {q: set(m) for q, m in rps_maps.items()}
    for q in rfs_queues:
        steer_to.setdefault(q, set()).update(writers)
    for q, ts in steer_to.items():                 # backlog enqueues and their IPIs
        for t in ts:
            if t != queue_cpu[q]:
                carries.setdefault((queue_cpu[q], t), set()).update(("bl", "ipi"))
                if q in rfs_queues:                # and the target's progress, back
                    carries.setdefault((t, queue_cpu[q]), set()).add("qh")
    for w in writers:                              # socket flow table writes
        for c in rfs_rx:
            if c != w:
                carries.setdefault((w, c), set()).add("rfs")
    for i, (f, c, s) in enumerate(zip(r["flows"], p.flow_cpu, p.flow_sock)):
        if s is None or f["dst_ip"] not in local:
            continue
        if c < 0:
            continue
        where = {c} | (set(writers) if p.flow_queue[i] in rfs_queues else set())
        for q in arfs_queues if p.flow_queue[i] in rfs_queues else ():
            # a queue aRFS may move the flow to, and where that queue's packets go
            where |= {queue_cpu[q]} | set(rps_maps.get(q, ())) | set(writers)
        for c in where:
            for o in sock_cpus[s]:
                if c != o:
                    carries.setdefault((c, o), set()).add("sk")
                    # … and what the producer paid on the socket's lock and line, back
                    carries.setdefault((o, c), set()).add("stall")
    for a in r["apps"]:                            # a moving reader takes its socket along
        for (_, old), (_, new) in zip(a["timeline"], a["timeline"][1:]):
            carries.setdefault((old, new), set()).add("mig")
    # TX (spec §10): a TX queue's consumer half (igb_clean_tx_irq: next_to_clean,
    # dql_completed, the wake) lives with the CPU of the vector that cleans it; its
    # producer half (qdisc, next_to_use, dql_queued, the doorbell) with the CPU that
    # transmits on it, so a sender runs dev_queue_xmit on its own CPU as the kernel does.
    # A queue several CPUs transmit on keeps one producer (its cleaning CPU if that is
    # one of them, else the lowest): the others hand their packets over (xq). A sender's
    # queue is fixed (netdev_pick_tx is a function of its CPU and flow hash).
    txq_cpu = {}
    for v in vecs:
        for q in v["tx_queues"]:
            txq_cpu[q] = v["cpu"]
    xps = {int(q[3:]): mask_cpus(m) for q, m in nic["xps_cpus"].items()}
    for q in range(nq):                 # the driver's map, where `nic.xps_cpus` says nothing
        c = driver_xps(r, q)
        if c is not None:
            xps.setdefault(q, [c])
    # Flow Director's hash mode looks every frame up; the filters ATR writes need a table
    # at run time only when a TCP segment can be sampled (a TCP_RR response)
    p.fdir_hash = atr_enabled(r)
    p.atr = p.fdir_hash and any(f.get("rr", {}).get("proto") == "tcp_rr" for f in r["flows"])
    xps_by_cpu = {c: sorted(q for q, cs in xps.items() if c in cs) for c in range(ncpus)}
    p.senders = []
    for i, a in enumerate(r["apps"]):
        if not a.get("sender"):
            continue
        h = tx_hash(a, i, r["seed"])
        # the route decides the port; netdev_pick_tx the queue on it
        base = route_port(r["routes"], a["dst_ip"]) * nq
        q = base + pick_tx(nq, xps_by_cpu[a["cpu"]], h)
        p.senders.append({"app": i, "hash": h, "queue": q, "port_base": base,
                          "dst_ip": a["dst_ip"]})
    # forwarding (ip_forward = 1): a received packet for another host goes out again on
    # the TX queue of its recorded RX queue, or XPS's for the CPU that routed it
    forward = r["sysctl"]["net.ipv4.ip_forward"] == 1
    p.flow_txq = {}
    for i, f in enumerate(r["flows"]):
        if not forward or f["dst_ip"] in local or p.flow_queue[i] < 0 or \
                ":" in f["dst_ip"]:
            # net.ipv4.ip_forward forwards IPv4 only; IPv6's own switch
            # (net.ipv6.conf.all.forwarding) is off, as by default
            continue
        c = p.flow_cpu[i]
        q = route_port(r["routes"], f["dst_ip"]) * nq + pick_tx(
            nq, xps_by_cpu[c], sw_hash[i], p.flow_queue[i] % nq)
        p.flow_txq[i] = q
    # a udp_rr server's responses: unconnected, so each skb is hashed (its 4-tuple back to
    # the client) and routed on its own: a TX queue per request flow
    p.servers = rr_servers(r, p.flow_sock)
    p.rr_txq, p.rr_hash = {}, {}
    for i, srv in p.servers.items():
        cpu = r["apps"][i]["cpu"]
        for k in srv["responses"]:
            f = r["flows"][k]
            # (a TCP_RR server's socket is connected: its random sk_txhash)
            back = {"src_ip": srv["src_ip"], "sport": f["dport"], "dst_ip": f["src_ip"],
                    "dport": f["sport"],
                    "connected": r["apps"][i]["socket"]["proto"] == "tcp"}
            p.rr_hash[k] = h = tx_hash(back, i, r["seed"])
            p.rr_txq[k] = route_port(r["routes"], f["src_ip"]) * nq + pick_tx(
                nq, xps_by_cpu[cpu], h)
    rr_cpu = {k: r["apps"][p.flow_sock[k]]["cpu"] for k in p.rr_txq}   # its server's
    if p.atr:
        # ATR steers a TCP_RR connection's requests to the queue its responses leave from:
        # the CPUs of that queue (and its RPS map) hand them to the server's socket too
        for k, q in p.rr_txq.items():
            if r["flows"][k]["rr"]["proto"] != "tcp_rr" or \
                    q // nq != r["flows"][k].get("port", 0):
                continue           # (a ring of the other port writes its own port's table)
            s = p.flow_sock[k]
            for c in {queue_cpu[q]} | set(rps_maps.get(q, ())):
                for o in sock_cpus[s]:
                    if c != o:
                        carries.setdefault((c, o), set()).add("sk")
                        carries.setdefault((o, c), set()).add("stall")
    producers: dict[int, set] = {}
    for sd in p.senders:
        producers.setdefault(sd["queue"], set()).add(r["apps"][sd["app"]]["cpu"])
    for i, q in p.flow_txq.items():
        producers.setdefault(q, set()).add(p.flow_cpu[i])
    for k, q in p.rr_txq.items():
        producers.setdefault(q, set()).add(rr_cpu[k])
    txq_prod = {q: (txq_cpu[q] if txq_cpu[q] in cs else min(cs))
                for q, cs in producers.items()}
    sends = [(r["apps"][sd["app"]]["cpu"], sd["queue"]) for sd in p.senders]
    sends += [(rr_cpu[k], q) for k, q in p.rr_txq.items()]
    for c, q in sends:
        if txq_prod[q] != c:                      # handed over; a refused one freed there,
            carries.setdefault((c, txq_prod[q]), set()).add("xq")   # and what its
            carries.setdefault((txq_prod[q], c), set()).update(("wf", "stall"))  # xmit cost
        if txq_cpu[q] != c:                       # freed where its write-back is cleaned
            carries.setdefault((txq_cpu[q], c), set()).add("wf")
    for i, q in p.flow_txq.items():
        if txq_prod[q] != p.flow_cpu[i]:
            carries.setdefault((p.flow_cpu[i], txq_prod[q]), set()).add("xq")
            carries.setdefault((txq_prod[q], p.flow_cpu[i]), set()).add("stall")
    for q, c in txq_prod.items():                 # the clean seen by the producer half
        if txq_cpu[q] != c:
            carries.setdefault((txq_cpu[q], c), set()).add("tc")
    tx_owners = sorted(set(txq_prod.values()))    # they ring doorbells
    tx_cleaners = sorted({txq_cpu[q] for q in txq_prod})   # write-backs reach these
    # neighbours (spec §10.1): every next hop a sender or a forwarded flow uses; one not
    # in host.neigh starts unresolved and is resolved by ARP on first use. Each CPU that
    # sends to it keeps its view of the entry; the nic answers a request from the wire
    # side and tells each of them.
    hops: dict[str, set] = {}
    for sd in p.senders:
        hops.setdefault(sd["dst_ip"], set()).add(r["apps"][sd["app"]]["cpu"])
    for k in p.rr_txq:                            # a response's next hop: its client
        hops.setdefault(r["flows"][k]["src_ip"], set()).add(rr_cpu[k])
    for i in p.flow_txq:
        hops.setdefault(r["flows"][i]["dst_ip"], set()).add(p.flow_cpu[i])
    static = r["host"]["neigh"]
    p.neigh = sorted(ip for ip in hops if ip not in static)
    neigh_idx = {ip: k for k, ip in enumerate(p.neigh)}
    p.neigh_cpus = {ip: sorted(hops[ip]) for ip in p.neigh}
    for ip in p.neigh:                             # the nic tells each CPU of the reply
        for c in p.neigh_cpus[ip]:
            for l in links:
                if l["src"] == "nic" and l["dst"] == f"cpu{c}":
                    l["carries"] = sorted(set(l["carries"]) | {"arp"})
                    break
            else:
                links.append({"src": "nic", "dst": f"cpu{c}",
                              "latency": prof["links"]["pcie"], "kind": "pcie",
                              "carries": ["arp"]})
    for (a, b), kinds in sorted(carries.items()):
        links.append({"src": f"cpu{a}", "dst": f"cpu{b}",
                      "latency": prof["links"]["interconnect"], "kind": "interconnect",
                      "carries": sorted(kinds), "quantum": r["quantum_ns"]})

    for c in tx_owners:                            # doorbells out …
        for l in links:
            if l["src"] == f"cpu{c}" and l["dst"] == "nic":
                l["carries"] = sorted(set(l["carries"]) | {"db"})
                break
        else:
            links.append({"src": f"cpu{c}", "dst": "nic", "latency": prof["links"]["pcie"],
                          "kind": "pcie", "carries": ["db"]})
    for c in tx_cleaners:                          # … completions back
        for l in links:
            if l["src"] == "nic" and l["dst"] == f"cpu{c}":
                l["carries"] = sorted(set(l["carries"]) | {"txc"})
                break
        else:
            links.append({"src": "nic", "dst": f"cpu{c}", "latency": prof["links"]["pcie"],
                          "kind": "pcie", "carries": ["txc"]})

    drop_en = (not nic["rx_pause"]) and nic["combined"] > 1    # igb_setup_srrctl
    if model.get("rx_drop_en") == "always":
        drop_en = True
    sysctl = r["sysctl"]
    # GRO (spec §6): TCP segments merge; UDP merges only into a UDP_GRO socket, and once
    # any socket sets UDP_GRO (udp_encap_needed_key) every UDP packet's GRO looks up its
    # socket.
    udp_gro_any = any(a["socket"].get("udp_gro") for a in r["apps"])
    flows_cpu = []
    for i, (f, s, h) in enumerate(zip(r["flows"], p.flow_sock, sw_hash)):
        l4 = L4_HDR[f["proto"]]
        if f["proto"] == "tcp" and "rr" not in f:
            kind = GRO_TCP             # (a TCP_RR segment has PSH set: flushed at once)
        elif s is not None and r["apps"][s]["socket"].get("udp_gro"):
            kind = GRO_UDP
        else:
            kind = GRO_NORMAL
        flows_cpu.append({"len": f["size"] - 4, "local": f["dst_ip"] in local, "sock": s,
                          "forward": i in p.flow_txq,
                          # where host.iptables_drop's rule drops it (IPv4 only: iptables)
                          "nf_drop": (None if ":" in f["dst_ip"] else
                                      r["host"].get("iptables_drop")),
                          "sw_hash": h, "proto": f["proto"], "gro": kind,
                          "nic_hash": p.flow_hash[i], "l34_hdr": 20 + l4,
                          "payload": f["size"] - FRAME_OVERHEAD - l4,
                          "gro_lookup": f["proto"] == "udp" and udp_gro_any})
    sockets = []
    for i, a in enumerate(r["apps"]):
        f = peer.get(i)
        rem_ip, rem_port = (f["src_ip"], f["sport"]) if f else (a["rem_ip"], a["rem_port"])
        sockets.append({"index": i, "sender": bool(a.get("sender")),
                        "serve": bool(a.get("serve")),
                        "proto": a["socket"]["proto"], "bind_ip": a["bind_ip"],
                        "port": a["port"], "rcvbuf": a["sk_rcvbuf"], "owner": a["cpu"],
                        "owners": [[t, f"cpu{c}"] for t, c in a["timeline"]],
                        "inode": 20000 + i,
                        "rem_ip": rem_ip, "rem_port": rem_port,
                        "rfs_hash": sock_hash.get(i),
                        "udp_gro": bool(a["socket"].get("udp_gro")),
                        "payload": (f["size"] - FRAME_OVERHEAD - L4_HDR["tcp"]) if f else 0,
                        # a TCP_RR server's connection: its flow, response, skb hash
                        **({"rr": {"flow": peer_k[i], "response": f["rr"]["response"],
                                   "hash": p.rr_hash[peer_k[i]],
                                   "handshake_us": handshake_us,
                                   "rto_min_us": f["rr"]["rto_min_us"]}}
                           if f and "rr" in f and a.get("serve") == "rr" else {})})
    itr = nic["rx_usecs"] if nic["rx_usecs"] <= 3 else nic["rx_usecs"] << 2
    if model.get("itr") == "fixed":    # ice, adaptive-rx off: rx_usecs in 0.25 µs units
        itr = nic["rx_usecs"] << 2
    elif model.get("itr") == "ixgbe":  # q_vector->itr: usecs << 2; 1 adaptive, 0 off
        itr = nic["rx_usecs"] if nic["rx_usecs"] <= 1 else nic["rx_usecs"] << 2
    itr_rate = None
    if model.get("itr") == "e1000e":
        param = nic["interrupt_throttle_rate"]
        if param is not None and not nic["_rx_usecs_given"]:
            # InterruptThrottleRate: the mode, or interrupts/s
            itr_rate = param if param > 3 else None
            itr = param
        elif nic["rx_usecs"] > 3:
            # e1000_set_coalesce: interrupts/s
            itr = itr_rate = 1_000_000 // nic["rx_usecs"]
        if itr_rate is not None:
            # the register takes the whole rate; itr_setting (the mode test) loses the
            # low two bits, which are the mode bits
            itr &= ~3

    common = {"duration_ns": r["duration_ns"], "seed": r["seed"],
              "series_ns": r["observe"]["interval_ns"],   # 0: no time series
              "host_capture": _capture_args(r, "host"),
              "trace": ({"window": r["observe"]["trace_window_ns"],
                         "max": r["observe"]["trace_max"],
                         # packets are followed for the trace's arrows and for
                         # ftrace_packets
                         "sample": r["observe"]["trace_sample"] if r["observe"]["trace"]
                         or r["observe"]["ftrace_packets"] else 0, **_trace_filter(r)}
                        if r["observe"]["trace"] or r["observe"]["ftrace"] else None)}
    p.lps.append({"name": "nic", "index": 0, "factory": "softnet.nic.lp:build",
                  "args": {**common, "pcie_latency_ns": prof["links"]["pcie"],
                           "flows": [_flow_args(f) for f in r["flows"]],
                           "queue_cpu": [f"cpu{queue_cpu[q]}" for q in range(nq * nports)],
                           "flow_port": [f.get("port", 0) for f in r["flows"]],
                           # [observe] pcap = ["wire"]: frames to capture on the wire
                           "capture": _capture_args(r),
                           "ports": nports, "combined": nq,
                           "line_rate_bps": nic["line_rate_bps"],
                           "rss": rss, "lp_index": lp_index,
                           # udp_rr clients on the wire, and the servers that answer them
                           **({"rr": {"instances": [
                               {"flow": k, "group": f["rr"]["group"],
                                "start_ns": f["start_ns"], "stop_ns": f["stop_ns"],
                                "think_ns": f["rr"]["think_ns"],
                                "timeout_ns": f["rr"]["timeout_ns"],
                                "proto": f["rr"]["proto"],
                                "handshake_us": handshake_us,
                                "rto_min_us": f["rr"]["rto_min_us"]}
                               for k, f in enumerate(r["flows"]) if "rr" in f],
                               "servers": sorted(p.servers), "hz": r["hz"]}}
                              if any("rr" in f for f in r["flows"]) else {}),
                           **({"arfs": nic_arfs} if arfs else {}),
                           **({"atr": True} if p.atr else {}),
                           **({"tx": {"pcie_read_ns": prof["links"]["pcie_read"],
                                      "queue_cpu": {str(q): f"cpu{o}"
                                                    for q, o in txq_cpu.items()},
                                      "nsenders": len(r["apps"]),
                                      "arp": {"reply_delay_ns": r["host"]["arp_reply_delay_ns"],
                                              "notify": [[f"cpu{c}" for c in p.neigh_cpus[ip]]
                                                         for ip in p.neigh]}}}
                              if tx_owners else {})}})
    for c in range(ncpus):
        # vectors with an RX ring, and those cleaning a TX queue that carries traffic
        my_vecs = [{"entry": v["entry"], "name": v["name"], "irq": v["irq"],
                    "rx_queues": v["rx_queues"], "rx_ring": nic["rx_ring"],
                    "tx_queues": [q for q in v["tx_queues"] if c in tx_cleaners],
                    "drop_en": drop_en,
                    "packet_buffer": nic.get("rx_packet_buffer", 0) // max(1, nic["combined"]),
                    "itr_setting": itr,
                    **({"itr_rate": itr_rate} if itr_rate is not None else {})}
                   for v in vecs if v["cpu"] == c
                   and (v["rx_queues"] or (v["tx_queues"] and c in tx_cleaners))]
        my_senders = [dict(sd, **{k: r["apps"][sd["app"]][k] for k in (
            "name", "sk_sndbuf", "blocking", "connected", "payload", "gso_size", "size",
            "interval_ns",
            "count", "start_ns", "stop_ns")}) for sd in p.senders
            if r["apps"][sd["app"]]["cpu"] == c]
        # udp_rr servers here: the send side of their sockets (a response per request,
        # its payload and its skb's hash by the request's flow)
        my_servers = [{"app": i, "sk_sndbuf": r["apps"][i]["sk_sndbuf"],
                       "responses": {str(k): [n, p.rr_hash[k]]
                                     for k, n in srv["responses"].items()}}
                      for i, srv in p.servers.items() if r["apps"][i]["cpu"] == c]
        traced = r["observe"]["trace_cpus"] is None or c in r["observe"]["trace_cpus"]
        p.lps.append({"name": f"cpu{c}", "index": c + 1, "factory": "softnet.cpus.host:build",
                      "args": {**common, "cpu": c, "ncpus": ncpus, "hz": r["hz"],
                               "kernel": r["kernel"],
                               "trace": common["trace"] if traced else None,
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
                               "rfs": {"sock_flow_entries": entries if rfs_queues else 0,
                                       **({"arfs": dict(arfs, steers=steers[c])}
                                          if arfs and c in rfs_rx else {}),
                                       "flow_cnt": {str(q): n for q, n in rfs_queues.items()
                                                    if queue_cpu[q] == c},
                                       "replicas": rfs_rx, "shared_slots": shared,
                                       "heads": c in writers},
                               "cpu_lp": {str(k): f"cpu{k}" for k in range(ncpus)},
                               "device": {"driver": model["driver"],   # its ops tables
                                          # skb->hash from the NIC (no flow dissector)
                                          "l4_rxhash": bool(model.get("l4_rxhash")),
                                          "rx_buffer_write": model["rx_buffer_write"],
                                          "start_itr": model["start_itr"],
                                          # adaptive-rx: net_dim's profiles (ITR µs)
                                          # and adaptive-tx's, or ITR1's static
                                          # value (None: RX only)
                                          "dim": {"profile": model["dim_rx_profile"]
                                                  if nic["adaptive_rx"] else None,
                                                  "tx_profile": model["dim_tx_profile"]
                                                  if nic["adaptive_tx"] else None,
                                                  "tx_itr": model["tx_itr_default"],
                                                  "start": model["dim_default_profile"],
                                                  "intrl": model["dim_intrl"]}
                                          if "dim_rx_profile" in model else None,
                                          "napi_weight": nic["napi_weight"],
                                          "napi": nic["napi"],
                                          "atr": p.atr,
                                          "int_mode": nic["int_mode"],
                                          # igb_intr_msi / igb_intr read ICR: an MMIO
                                          # read across PCIe
                                          "icr_read_ns": prof["links"]["pcie_read"],
                                          "truesize": model["rx_truesize"],
                                          "gro": nic["gro"],
                                          "gigabit": nic["line_rate_bps"] == 10**9},
                               "vectors": my_vecs, "flows": flows_cpu, "sockets": sockets,
                               "apps": [{"name": a["name"], "sock": i,
                                         "timeline": a["timeline"],
                                         "cost_per_read_ns": a["cost_per_read_ns"],
                                         "read_size": a["read_size"],
                                         **({"serve": a["serve"]} if a.get("serve")
                                            else {})}
                                        for i, a in enumerate(r["apps"])
                                        if c in sock_cpus[i] and not a.get("sender")],
                               "senders": my_senders, "servers": my_servers,
                               "tx": {"ntxq": nic["combined"], "ring": nic["tx_ring"],
                                      "txqueuelen": nic["txqueuelen"],
                                      "gso_udp_l4": nic["tx_udp_segmentation"],
                                      "qdisc": sysctl["net.core.default_qdisc"],
                                      "fq_codel": nic.get("_fq_codel"),
                                      "dev_tx_weight": sysctl["net.core.dev_tx_weight"],
                                      "work_limit": model["tx_work_limit"],
                                      "xps": xps_by_cpu[c] or None,
                                      "queue_owner": {str(q): f"cpu{txq_prod.get(q, o)}"
                                                      for q, o in txq_cpu.items()},
                                      "busy_queues": sorted(txq_prod),
                                      "nsenders": len(r["apps"]),
                                      "unres_qlen_bytes":
                                          sysctl["net.ipv4.neigh.default.unres_qlen_bytes"],
                                      # neighbour index of each sender, forwarded
                                      # flow and udp_rr flow (its responses' client)
                                      "neigh_of_sender": {
                                          str(sd["app"]): neigh_idx.get(sd["dst_ip"], -1)
                                          for sd in p.senders},
                                      # the TX queue of each forwarded flow, and
                                      # of the responses to each udp_rr flow
                                      "fwd_txq": {str(i): q for i, q in
                                                  (p.flow_txq | p.rr_txq).items()},
                                      "neigh_of_flow": {
                                          str(i): neigh_idx.get(r["flows"][i]["dst_ip"], -1)
                                          for i in p.flow_txq} | {
                                          str(k): neigh_idx.get(r["flows"][k]["src_ip"], -1)
                                          for k in p.rr_txq},
                                      "neigh_hash": [sw_flow_hash(
                                          {"src_ip": ip, "sport": 0, "dst_ip": ip,
                                           "dport": 0}, r["seed"]) for ip in p.neigh]}}})
    for l in links:                  # every kind a link carries is declared for its ends
        check_link(l["src"], l["dst"], l.get("carries", ()))
    for spec in p.lps:
        spec["out_links"] = [l for l in links if l["src"] == spec["name"]]
        spec["in_links"] = [l for l in links if l["dst"] == spec["name"]]
    return p


def arfs_candidates(flow_queue, hashes, sock_hash, sock_cpus, smask, ncpus, rmap,
                    rfs_queues, refused, queue_cpu) -> dict[int, dict]:
    """Per CPU polling RFS queues: the (flow, queue) filters its set_rps_cpu can ask for.
    A flow's next_cpu is the CPU of a connected socket whose table entry it matches (same
    slot, same hash outside rps_cpu_mask); a flow that can match several asks again and
    again as they alternate ("forever") — so does the flow of a reader that moves between
    CPUs (`sock_cpus`: every CPU a socket is read on) — the others at most once per queue.
    Once a CPU has
    asked for all of its filters it sends nothing more to the nic, and says so."""
    cpu_mask = roundup_pow_of_two(ncpus) - 1
    out = {c: {"pairs": set(), "forever": False} for c in set(queue_cpu.values())}
    for i, (q0, h) in enumerate(zip(flow_queue, hashes)):
        if q0 not in rfs_queues or i in refused:
            continue
        nexts = {c for s, sh in sock_hash.items()
                 if (sh ^ h) & ~cpu_mask & 0xFFFFFFFF == 0 and sh & smask == h & smask
                 for c in sock_cpus[s]}
        targets = {rmap[n] for n in nexts} & set(rfs_queues)
        for q in {q0} | targets:          # queues the flow may arrive on
            c = out[queue_cpu[q]]
            for t in targets - {q}:
                c["pairs"].add((i, t))
            if len(targets - {q}) > 1:
                c["forever"] = True
    return {c: {"pairs": sorted(v["pairs"]), "forever": v["forever"]} for c, v in out.items()}


def _capture_args(r: dict, tap: str = "wire") -> dict | None:
    """What a tap captures. The nic's receive wire is also recorded for the host tap
    alone: a TCP segment's sequence number comes from its place in its flow."""
    o = r["observe"]
    if tap not in o["pcap"] and not (tap == "wire" and o["pcap"]):
        return None
    names = o["pcap_flows"]
    return {"flows": [i for i, f in enumerate(r["flows"]) if not names or f["name"] in names],
            "filtered": bool(names), "count": o["pcap_count"]}


def _trace_filter(r: dict) -> dict:
    """observe.trace_flows as indices: the flows, and the senders (by application), whose
    drops and packets a trace shows; None: every one."""
    sel = r["observe"]["trace_flows"]
    if sel is None:
        return {"flows": None, "senders": None}
    return {"flows": [i for i, f in enumerate(r["flows"]) if f["name"] in sel],
            "senders": [i for i, a in enumerate(r["apps"]) if a["name"] in sel]}


def _flow_args(f: dict) -> dict:
    return {k: f.get(k) for k in ("name", "proto", "src_ip", "sport", "dst_ip", "dport",
                                  "pps", "size", "arrival", "on_ns", "off_ns", "count",
                                  "start_ns", "stop_ns")}
