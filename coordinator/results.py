"""Gathering the LPs' counters into what the kernel would report, checking the books, and
writing the run directory.

Summing follows the kernel: per-CPU files (softnet_stat, softirqs, interrupts) keep one
column or line per CPU; MIB counters (/proc/net/snmp) and netdev stats are sums over CPUs;
the NIC's hardware counters combine the nic process's MAC counters with the per-queue
counters of the queue halves that ran on the CPUs.
"""

from __future__ import annotations

import ipaddress

from softnet.cpus.kernel import KERNELS
from softnet.engine.histogram import merge, percentiles

from . import probe, procfs
from .ftrace import ftrace_files
from .series import series_files
from .trace import trace_files

# drop stage -> the counter that records it
DROP_COUNTERS = {
    "nic_ntuple_drop": "ethtool fdir_sb_match.nic (an ntuple rule with action -1)",
    "nic_rx_queue_drop": "ethtool rx_queue_N_drops (RQDPC), /proc/net/dev fifo",
    "nic_rx_missed": "ethtool rx_missed_errors (MPC), /proc/net/dev drop",
    "ip_in_addr_errors": "/proc/net/snmp Ip InAddrErrors",
    "nf_raw_drop": "iptables -t raw -nvL PREROUTING: the DROP rule's pkts "
                   "(host.iptables_drop; one per skb: a GRO packet once, its segments here)",
    "nf_filter_drop": "iptables -nvL INPUT: the DROP rule's pkts (host.iptables_drop; one "
                      "per skb: a GRO packet once, its segments here)",
    "udp_no_ports": "/proc/net/snmp Udp NoPorts",
    "udp_rcvbuf_errors": "/proc/net/snmp Udp RcvbufErrors (and InErrors, sk_drops)",
    "udp_rcvqueues_full": "/proc/net/snmp Udp InErrors without RcvbufErrors (3.10/3.13: "
                          "the charge was above sk_rcvbuf; sk_drops)",
    "backlog": "softnet_stat dropped (target CPU), /proc/net/dev drop",
    "flow_limit": "softnet_stat flow_limit_count (enqueuing CPU) and dropped (target CPU), "
                  "/proc/net/dev drop",
    "tcp_no_socket": "/proc/net/snmp Tcp InSegs counts it; no drop counter of its own (the "
                     "kernel answers with a RST, which softnet does not send)",
    "tcp_rcvq_drop": "TcpExt TCPRcvQDrop (/proc/net/netstat)",
    "tcp_old_data": "TcpExt DelayedACKLost (/proc/net/netstat): a TCP_RR request sent again "
                    "that the server already had (its response was lost); answered with an ACK",
    "qdisc_drop": "tc -s qdisc dropped (a forwarded packet the egress qdisc had no room for)",
    "neigh_unres_drop": "/proc/net/stat/arp_cache unres_discards (the neighbour's queue "
                        "exceeded unres_qlen_bytes while it was being resolved)",
    "fq_codel_drop": "tc -s qdisc dropped and drop_overlimit (fq_codel over its limit dropped "
                     "from the fattest flow)",
    "codel_drop": "tc -s qdisc dropped (CoDel: sojourn above target for an interval)",
}
# TX drop stage -> the counter that records it
TX_DROP_COUNTERS = {
    "sndbuf_eagain": "/proc/net/snmp Udp SndbufErrors (sendmsg returned EAGAIN: the send "
                     "buffer was full on a non-blocking socket)",
    "qdisc_drop": "tc -s qdisc dropped; /proc/net/snmp Udp SndbufErrors and Ip OutDiscards "
                  "(a fragment's drop: also Ip FragFails)",
    "sndbuf_enobufs": "/proc/net/snmp Udp SndbufErrors (sendmsg returned ENOBUFS: the "
                      "fragments of a datagram above the MTU would exceed twice sk_sndbuf)",
    "fq_codel_drop": "tc -s qdisc dropped and drop_overlimit (fq_codel over its limit dropped "
                     "from the fattest flow; the sender saw success or NET_XMIT_CN, both "
                     "counted in Udp OutDatagrams)",
    "codel_drop": "tc -s qdisc dropped (CoDel dropped at dequeue; the sender counted it in "
                  "Udp OutDatagrams)",
    "neigh_unres_drop": "/proc/net/stat/arp_cache unres_discards (the neighbour's queue "
                        "exceeded unres_qlen_bytes while it was being resolved; the kernel "
                        "frees the oldest)",
}


class Unbalanced(RuntimeError):
    pass


def _local_q(r, q):
    """A queue's number on its own device (queues are numbered across ports internally);
    a negative number (an ntuple drop) stays as it is."""
    return q % r["nic"]["combined"] if q is not None and q >= 0 and \
        r["nic"].get("ports", 1) > 1 else q


def _txq_label(r, q):
    """`tx-N`, or `ethP/tx-N` on a device with several ports (its sysfs directory)."""
    if r["nic"].get("ports", 1) > 1:
        return f"{r['nic']['port_names'][q // r['nic']['combined']]}/tx-{_local_q(r, q)}"
    return f"tx-{q}"

def _sum_dicts(ds: list[dict]) -> dict:
    out: dict = {}
    for d in ds:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def assemble(r: dict, plan, results: dict) -> dict:
    """Everything the run directory holds, as data and texts."""
    ncpus = r["cpus"]
    kern = KERNELS[r["kernel"]]
    nic = results["nic"]
    cpus = [results[f"cpu{c}"] for c in range(ncpus)]
    softnet = [dict(c["softnet"], flow_limit_count=0) for c in cpus]
    for c in cpus:                      # flow-limit drops count on the enqueuing CPU
        for src, n in c["flow_limit_by_cpu"].items():
            softnet[int(src)]["flow_limit_count"] += n
    books = [c["books"] for c in cpus]

    offered = nic["offered"]
    delivered = sum(b["delivered"] for b in books)
    drops = _sum_dicts([b["drops"] for b in books])
    nt_dropped = nic.get("ntuple_dropped_by_flow", [])
    if sum(nt_dropped):
        drops["nic_ntuple_drop"] = sum(nt_dropped)
    in_flight = _sum_dicts([c["in_flight"] for c in cpus])
    ntx = nic.get("tx") or {}
    if ntx.get("in_flight_forwarded"):
        in_flight["nic_tx"] = ntx["in_flight_forwarded"]
    in_flight = {k: v for k, v in sorted(in_flight.items())}
    fwd_by_flow = ntx.get("forwarded_by_flow", [0] * len(r["flows"]))
    forwarded = sum(fwd_by_flow)
    consumed = sum(sum(b.get("flow_consumed", ())) for b in books)   # TCP pure ACKs
    total = delivered + forwarded + consumed + sum(drops.values()) + sum(in_flight.values())
    balanced = total == offered

    flows = []
    queue_cpu = {q: v["cpu"] for v in plan.vectors for q in v["rx_queues"]}
    arfs = nic.get("arfs")
    atr = nic.get("atr")
    for i, f in enumerate(r["flows"]):
        q = plan.flow_queue[i]
        flows.append({
            "name": f["name"], "offered": nic["offered_by_flow"][i],
            "delivered": sum(b["flow_delivered"][i] for b in books),
            "dropped": sum(b["flow_dropped"][i] for b in books)
            + (nt_dropped[i] if nt_dropped else 0),
            "reordered": sum(b["flow_reordered"][i] for b in books),
            **({"consumed": n} if (n := sum(b["flow_consumed"][i] for b in books)) else {}),
            "rss_hash": f"{nic['flow_hash'][i]:08x}", "rx_queue": _local_q(r, q),
            "irq_cpu": queue_cpu.get(q), "cpu": plan.flow_cpu[i],
            "socket": None if plan.flow_sock[i] is None else r["apps"][plan.flow_sock[i]]["name"],
            "proto": f["proto"],
            **({"forwarded": fwd_by_flow[i], "tx_queue": _local_q(r, plan.flow_txq[i])}
               if i in plan.flow_txq else {}),
            **({"port": r["nic"]["port_names"][f.get("port", 0)],
                **({"egress": r["nic"]["port_names"][plan.flow_txq[i]
                                                    // r["nic"]["combined"]]}
                   if i in plan.flow_txq else {})}
               if r["nic"].get("ports", 1) > 1 else {}),
        })
        if arfs is not None:
            # the queue an aRFS filter moved the flow to, and when each filter went live
            # -1: the filter expired, the flow is back on the queue RSS or a rule chose
            changes = [(t, q if nq < 0 else nq) for t, nq in arfs["queue_changes"][i]]
            flows[-1]["arfs"] = {"rx_queue": changes[-1][1] if changes else q,
                                 "queue_changes": [{"t_ns": t, "rx_queue": nq}
                                                   for t, nq in changes]}
        if atr is not None and atr["queue_changes"][i]:
            # the queue ixgbe's ATR filter steers the flow to, from when
            changes = atr["queue_changes"][i]
            flows[-1]["atr"] = {"rx_queue": _local_q(r, changes[-1][1]),
                                "queue_changes": [{"t_ns": t, "rx_queue": _local_q(r, nq)}
                                                  for t, nq in changes]}

    latency = {}
    for stage in books[0]["latency"] if books else []:
        latency[stage] = percentiles(merge([b["latency"][stage] for b in books]))

    time_by_cpu = {f"cpu{c}": cpus[c]["time"] for c in range(ncpus)}
    stat_times = [_stat_times(c["time"], c["sched"]["user_ns"]) for c in cpus]
    duration = r["duration_ns"]
    snmp_ip = _sum_dicts([c["snmp"]["Ip"] for c in cpus])
    snmp_udp = _sum_dicts([c["snmp"]["Udp"] for c in cpus])
    snmp_tcp = _sum_dicts([c["snmp"]["Tcp"] for c in cpus])
    tcpext = _sum_dicts([c["snmp"]["TcpExt"] for c in cpus])
    gro = _sum_dicts([c["gro"] for c in cpus])
    queues = {}
    for c in cpus:
        queues.update({int(q): v for q, v in c["queues"].items()})
    ring = {}
    for c in cpus:
        ring.update({int(q): v for q, v in c["ring_stats"].items()})
    sockets = {}
    for c in cpus:
        sockets.update({int(i): v for i, v in c["sockets"].items()})

    nq = r["nic"]["combined"]
    nports = r["nic"].get("ports", 1)
    core_dropped = sum(c["core_rx_dropped"] for c in cpus)
    txqs = _tx_queues(cpus)
    ntx = nic.get("tx") or {}
    ports = []            # per port: its queues renumbered from 0, and its device counters
    for pt in range(nports):
        lo = pt * nq
        pq = {q - lo: queues[q] for q in range(lo, lo + nq) if q in queues}
        pr = {q - lo: ring[q] for q in range(lo, lo + nq) if q in ring}
        pt_tx = {q - lo: txqs[q] for q in range(lo, lo + nq) if q in txqs}
        rqdpc = sum(v.get("rqdpc", 0) for v in pq.values())
        mpc = sum(v.get("mpc", 0) for v in pq.values())
        mine = [i for i, f in enumerate(r["flows"]) if f.get("port", 0) == pt]
        pnic = dict(nic)
        if atr is not None:   # ixgbe_update_stats: this port's FDIRMATCH, FDIRMISS
            pnic["fdir_match"] = atr["fdir_match"][pt]
            pnic["fdir_miss"] = atr["fdir_miss"][pt]
        elif plan.fdir_hash:  # no filter can be written: every frame misses
            pnic["fdir_miss"] = sum(nic["offered_by_flow"][i] for i in mine)
        if nports > 1:        # this port's MAC: the frames that arrived on its wire
            pnic["gprc"] = sum(nic["offered_by_flow"][i] for i in mine)
            pnic["gorc"] = sum(nic["offered_by_flow"][i] * r["flows"][i]["size"] for i in mine)
            pnic["tx"] = dict(ntx, frames=ntx.get("frames_by_port", [0] * nports)[pt],
                              bytes=ntx.get("bytes_by_port", [0] * nports)[pt]) if ntx else {}
        e = {"rx_bytes": sum(v["bytes"] for v in pr.values()),
             "rx_packets": sum(v["packets"] for v in pr.values()),
             # the backlog's drops count on the device the skb came from (skb->dev)
             "rx_dropped": core_dropped if nports == 1 else sum(
                 n for c in cpus for f, n in c["core_rx_dropped_by_flow"].items()
                 if int(f) in mine or (pt == 0 and not 0 <= int(f) < len(r["flows"]))),
             "rx_missed_errors": mpc, "rx_fifo_errors": rqdpc,
             "tx_packets": sum(v["packets"] for v in pt_tx.values()),   # tx_ring stats
             "tx_bytes": sum(v["bytes"] for v in pt_tx.values())}
        ports.append({"name": r["nic"].get("port_names", [r["nic"]["ifname"]])[pt],
                      "queues": pq, "ring": pr, "txqs": pt_tx, "nic": pnic, "eth": e,
                      "rnbc": sum(v.get("rnbc", 0) for v in pq.values()),
                      "mpc_bytes": sum(v.get("mpc_bytes", 0) for v in pq.values())})
    tx = _tx_books(r, plan, nic, cpus, books)

    summary = {
        "seed": r["seed"], "duration_ns": duration, "cpus": ncpus, "kernel": r["kernel"],
        # the profile's own name (a file's `name`): the same when config.toml reruns it
        "profile": r["_profile"]["name"], "nic": r["nic"]["model"],
        # the probe chain the run performed at start-up, step by step (coordinator/probe.py)
        "probe": probe.probe(r, plan.vectors),
        # 0: exact conservative synchronisation; else cross-CPU deliveries were rounded
        # up to this many ns (design §3, relaxed mode)
        "quantum_ns": r["quantum_ns"],
        "offered": offered, "delivered": delivered,
        **({"forwarded": forwarded} if plan.flow_txq else {}),
        # packets the kernel used up itself: TCP pure ACKs (tcp_ack, then __kfree_skb)
        **({"consumed_by_tcp": consumed} if consumed else {}),
        "in_flight": sum(in_flight.values()), "in_flight_by_place": in_flight,
        "drops": dict(sorted(drops.items())),
        "drop_counters": {k: DROP_COUNTERS[k] for k in sorted(drops)},
        "balanced": balanced,
        "offered_pps": round(offered * 1e9 / duration, 1),
        "delivered_pps": round(delivered * 1e9 / duration, 1),
        "not_offered": nic["not_offered"],
        "wire_utilisation": round(nic["wire_busy_ns"] / duration, 4),   # eth0's receive wire
        **({"wire_utilisation_by_port": {pp["name"]: round(b / duration, 4) for pp, b in zip(
            ports, nic["wire_busy_ns_by_port"])}} if nports > 1 else {}),
        "flows": flows,
        "cpu_time_ns": time_by_cpu,
        "cpu_busy_share": {k: round(1 - v["idle"] / duration, 4) for k, v in time_by_cpu.items()},
        # the same time as /proc/stat splits it (ns; its file shows USER_HZ ticks)
        "proc_stat_ns": {f"cpu{c}": t for c, t in enumerate(stat_times)},
        "context_switches": sum(c["sched"]["nr_switches"] for c in cpus),
        "latency_ns": latency,
        **({"rr": rr_summary(r, nic["rr"], snmp_tcp, tcpext)} if "rr" in nic else {}),
        "softnet": {f"cpu{c}": softnet[c] for c in range(ncpus)},
        "vectors": {v["name"]: {"irq": v["irq"], "cpu": v["cpu"],
                                **_vector_detail(cpus[v["cpu"]], v["name"])}
                    for v in plan.vectors},
        # incoming_cpu is SO_INCOMING_CPU (-1 until a connected socket receives)
        # cpu: where the socket's reader ended the run; timeline: [[ns, cpu], …] if it moved
        "sockets": {a["name"]: {"cpu": a["timeline"][-1][1], "bind": a["socket"]["bind"],
                                **({"timeline": [list(x) for x in a["timeline"]]}
                                   if len(a["timeline"]) > 1 else {}),
                                "connect": a["socket"].get("connect"),
                                "proto": a["socket"]["proto"],
                                "reuseport": bool(a["socket"].get("reuseport")),
                                "udp_gro": bool(a["socket"].get("udp_gro")),
                                **sockets.get(i, {})} for i, a in enumerate(r["apps"])},
        "rfs": {f"cpu{c['cpu']}": c["rfs"] for c in cpus
                if c["rfs"]["migrations"] or c["rfs"]["table_writes"]
                or c["rfs"]["table_line_fetches"]},
        # GRO over every NAPI: wire packets in, merged into held packets, completed
        # super-packets, skbs handed to the stack, wire packets still held at the end
        "gro": {"enabled": r["nic"]["gro"], **gro},
        "notes": plan.notes,
    }
    if tx is not None:
        summary.update(tx)
    if plan.neigh:
        # neighbours resolved by ARP during the run (host.neigh lists the static ones)
        neigh = {}
        for k, ip in enumerate(plan.neigh):
            views = [c["neigh"][str(k)] for c in cpus if str(k) in c.get("neigh", {})]
            neigh[ip] = {"cpus": plan.neigh_cpus[ip],
                         "state": ("reachable" if any(v["state"] == "reachable" for v in views)
                                   else "incomplete" if views else "none"),
                         "requests": sum(v["requests"] for v in views),
                         "replies": sum(v["replies"] for v in views),
                         "unres_discards": sum(v["unres_discards"] for v in views)}
        summary["neigh"] = neigh
        summary["arp_requests_on_wire"] = (nic.get("tx") or {}).get("arp_requests", 0)
        kd = _sum_dicts([b.get("kernel_drops", {}) for b in books])
        if kd:
            summary["arp_request_drops"] = kd
    if r["nic"]["_model"].get("ntuple", {}).get("arfs"):
        summary["ntuple"] = {"enabled": r["nic"]["ntuple"], "rules": len(r["nic"]["rules"]),
                             "fdir_sb_match": nic.get("fdir_sb_match", 0)}
    if atr is not None:
        summary["atr"] = {"filters_written": atr["filters_written"],
                          "fdir_match": sum(atr["fdir_match"]),
                          "fdir_miss": sum(atr["fdir_miss"])}
    if arfs is not None:
        summary["arfs"] = {k: arfs[k] for k in ("steer_requests", "filters_added",
                                                "filters_updated", "filters_expired",
                                                "filters_active")}
        summary["arfs"]["steer_calls_by_cpu"] = {
            f"cpu{c['cpu']}": c["rfs"]["arfs_steer_calls"] for c in cpus
            if "arfs_steer_calls" in c["rfs"]}
    if tx is not None and not tx["tx_balanced"]:
        raise Unbalanced(
            f"TX books do not balance: sent {tx['sent']} ≠ on wire {tx['on_wire']} + TX drops "
            f"{sum(tx['tx_drops'].values())} {tx['tx_drops']} + TX in flight "
            f"{tx['tx_in_flight']} {tx['tx_in_flight_by_place']}")
    if not balanced:
        raise Unbalanced(
            f"books do not balance: offered {offered} ≠ delivered {delivered} + forwarded "
            f"{forwarded} + consumed by TCP {consumed} + drops "
            f"{sum(drops.values())} {drops} + in flight {sum(in_flight.values())} {in_flight}")

    irq_counts = [dict(c["irqs"]) for c in cpus]
    files = {
        "proc/net/softnet_stat": procfs.softnet_stat(softnet, kern.softnet_columns),
        "proc/softirqs": procfs.softirqs([c["softirqs"] for c in cpus],
                                         kern.softirq_block_iopoll),
        "proc/interrupts": procfs.interrupts(ncpus, plan.vectors, irq_counts, kern.name),
        "dmesg.txt": probe.dmesg(r, plan.vectors),
        "proc/net/snmp": procfs.snmp(snmp_ip, snmp_udp, snmp_tcp,
                                     r["sysctl"]["net.ipv4.ip_forward"] == 1, kern.name),
        "proc/net/dev": procfs.net_dev([("lo", {})] + [(pp["name"], pp["eth"])
                                                       for pp in ports]),
        "proc/net/udp": procfs.net_udp([
            _udp_line(i, a, sockets.get(i, {}), tx, r["host"]["addresses"])
            for i, a in enumerate(r["apps"]) if a["socket"]["proto"] == "udp"], kern.name),
        "proc/net/netstat": procfs.netstat(
            # tcp_data_queue's drops for want of receive buffer, per skb (sk_drops)
            {"TCPRcvQDrop": sum(sockets.get(i, {}).get("drops", 0)
                                for i, a in enumerate(r["apps"])
                                if a["socket"]["proto"] == "tcp"), **tcpext},
            # IpExt from the Ip MIB where the stack counts them (InOctets, OutOctets,
            # InNoECTPkts, …: same names), else 0
            snmp_ip, kern.mptcp, kern.name),
        "proc/stat": procfs.stat(
            stat_times, plan.vectors, irq_counts, [c["softirqs"] for c in cpus],
            ctxt=sum(c["sched"]["nr_switches"] for c in cpus),
            # total_forks: the tasks the model has, ksoftirqd/N and one per application
            processes=ncpus + len(r["apps"]),
            procs_running=sum(c["sched"]["nr_running"] for c in cpus),
            procs_blocked=0,   # nr_iowait: nothing waits for block I/O
            btime=0),          # a simulated boot has no wall-clock time: the epoch
        # uptime = the simulated duration; idle summed over CPUs
        "proc/uptime": procfs.uptime(duration, sum(t["idle"] for t in stat_times)),
    }
    for pt, pp in enumerate(ports):
        # the first port's files keep their names; the others' carry the port's
        sfx = "" if pt == 0 else f"_{pp['name']}"
        files[f"tc_qdisc{sfx}.txt"] = procfs.tc_qdisc(
            [pp["txqs"].get(q, {}).get("qdisc") for q in range(nq)],
            r["sysctl"]["net.core.default_qdisc"], r["nic"].get("_fq_codel"))
        driver = r["nic"]["_model"]["driver"]
        files[f"ethtool_S{sfx}.txt"] = procfs.ethtool_s(
            ice_ethtool_stats(nq, pp["nic"], pp["queues"], pp["ring"], pp["eth"])
            if driver == "ice" else
            e1000e_ethtool_stats(pp["nic"], pp["eth"], pp["rnbc"], pp["mpc_bytes"],
                                 pp["txqs"])
            if driver == "e1000e" else
            ixgbe_ethtool_stats(nq, pp["nic"], pp["queues"], pp["ring"], pp["eth"],
                                pp["rnbc"], pp["mpc_bytes"], pp["txqs"])
            if driver == "ixgbe" else
            igb_ethtool_stats(nq, pp["nic"], pp["queues"], pp["ring"], pp["eth"], pp["rnbc"],
                              pp["mpc_bytes"], pp["txqs"]))
    files.update(series_files(r, results))
    if r["observe"]["pcap"]:
        from .pcap import pcap_files        # dpkt loads (30 ms) only for a capture
        files.update(pcap_files(r, results, plan.neigh))
    files.update(trace_files(r, results))
    files.update(ftrace_files(r, results))
    return {"summary": summary, "files": files}


def _stat_times(t: dict, user_ns: int) -> dict:
    """A CPU's time by /proc/stat's fields (ns). Hard IRQs are `irq`; softirqs are
    `softirq`, ksoftirqd's time included (kernel/sched/cputime.c with
    CONFIG_IRQ_TIME_ACCOUNTING: irqtime_account_process_tick charges ksoftirqd's ticks to
    CPUTIME_SOFTIRQ); an application's time is `user` for its own work per read
    (cost_per_read) and `system` for the rest (recvmsg, sendmsg, context switches)."""
    return {"user": user_ns, "system": t["task"] - user_ns, "idle": t["idle"],
            "irq": t["hardirq"], "softirq": t["softirq"] + t["ksoftirqd"]}


def _route_src(addresses: list[str]) -> str:
    """The source address connect() takes for a socket bound to the wildcard address
    (ip4_datagram_connect → ip_route_connect: the route's preferred source,
    inet_select_addr). softnet's host addresses belong to no device and carry no prefix,
    so every route selects the primary one: host.addresses[0], as a sender's source."""
    return addresses[0]


def _udp_line(i: int, a: dict, sock: dict, tx: dict | None, addresses: list[str]) -> dict:
    """A /proc/net/udp line: a reader's socket, or a sender's (autobound to its port on
    the wildcard address unless bound or connected; tx_queue is its sk_wmem_alloc). A
    connected socket bound to the wildcard shows the source its route chose."""
    if not a.get("sender"):
        bind_ip = a["bind_ip"]
        if a.get("rem_ip") and ipaddress.ip_address(bind_ip).is_unspecified:
            bind_ip = _route_src(addresses)
        return {"port": a["port"], "bind_ip": bind_ip, "inode": 20000 + i,
                "rx_queue": sock.get("rx_queue", 0), "drops": sock.get("drops", 0),
                "rem_ip": a.get("rem_ip"), "rem_port": a.get("rem_port")}
    st = (tx or {}).get("senders", {}).get(a["name"], {})
    if a["connected"]:
        bind_ip = a["src_ip"]              # the bound address, else the route's source
    elif a["socket"].get("bind"):
        bind_ip = a["socket"]["bind"].rsplit(":", 1)[0].strip("[]")
    else:
        bind_ip = "0.0.0.0"
    return {"port": a["sport"], "bind_ip": bind_ip,
            "inode": 20000 + i, "rx_queue": 0, "drops": 0,
            "tx_queue": st.get("wmem_alloc", 0),
            "rem_ip": a["dst_ip"] if a["connected"] else None,
            "rem_port": a["dport"] if a["connected"] else None}


def _tx_books(r: dict, plan, nic: dict, cpus: list, books: list) -> dict | None:
    """sent = on_wire + TX drops + TX in flight, over every sending application."""
    if not plan.senders and not plan.flow_txq and not plan.servers:
        return None
    napps = len(r["apps"])
    sent = [sum(b["tx_sent"][i] for b in books) for i in range(napps)]
    dropped = [sum(b["tx_dropped"][i] for b in books) for i in range(napps)]
    drops = _sum_dicts([b["tx_drops"] for b in books])
    ntx = nic.get("tx") or {}
    # the books count sends (sendmsg calls): a fragmented datagram or a UDP GSO send is on
    # the wire when its last frame has left; frames are counted apart
    on_wire = ntx.get("on_wire_by_sender", [0] * napps)
    frames = ntx.get("frames_by_sender", [0] * napps)
    where = _sum_dicts([c["tx_in_flight"] for c in cpus])
    where["nic"] = ntx.get("in_flight", 0)
    where = {k: v for k, v in sorted(where.items())}
    senders = {}
    per_cpu = {}
    for c in cpus:
        per_cpu.update({int(i): v for i, v in c["tx"]["senders"].items()})
    sending = []                          # (app, src, dst, tx_queue shown, a queue)
    for sd in plan.senders:
        a = r["apps"][sd["app"]]
        sending.append((sd["app"], f"{a['src_ip']}:{a['sport']}",
                        f"{a['dst_ip']}:{a['dport']}", _local_q(r, sd["queue"]), sd["queue"]))
    # a udp_rr server sends to each client, by the request's flow
    sending += [(i, r["apps"][i]["socket"]["bind"],
                 sorted({r["flows"][k]["src_ip"] for k in srv["responses"]}),
                 sorted({_local_q(r, plan.rr_txq[k]) for k in srv["responses"]}),
                 min((plan.rr_txq[k] for k in srv["responses"]), default=0))
                for i, srv in plan.servers.items()]
    for i, src, dst, txq, q in sending:
        a = r["apps"][i]
        st = per_cpu.get(i, {})
        senders[a["name"]] = {"cpu": a["cpu"], "src": src, "dst": dst,
                              "tx_queue": txq,
                              **({"egress": r["nic"]["port_names"][q // r["nic"]["combined"]]}
                                 if r["nic"].get("ports", 1) > 1 else {}),
                              "sent": sent[i], "on_wire": on_wire[i],
                              "on_wire_frames": frames[i], "dropped": dropped[i],
                              "eagain": st.get("eagain", 0), "blocked": st.get("blocked", 0),
                              "sndbuf": st.get("sndbuf", 0),
                              "wmem_alloc": st.get("wmem_alloc", 0)}
    total_sent, total_wire = sum(sent), sum(on_wire)
    queues = {}
    for q, v in sorted(_tx_queues(cpus).items()):
        if "qdisc" in v and "packets" in v:
            # /sys/class/net/eth0/queues/tx-N/byte_queue_limits/{limit,inflight,…}
            queues[(q, _txq_label(r, q))] = {"cpu": v["cpu"], "packets": v["packets"],
                                 "bytes": v["bytes"], "restart": v["restart"],
                                 "stopped": v["stopped"], "qdisc": v["qdisc"],
                                 "byte_queue_limits": {"limit": v["bql_limit"],
                                                       "inflight": v["bql_inflight"],
                                                       "limit_min": 0,
                                                       "limit_max": 1879048192,
                                                       "hold_time": 1000},
                                 # its line and enqueue lock, as the senders shared them
                                 "lock": v["lock"]}
    return {"sent": total_sent, "on_wire": total_wire, "on_wire_frames": sum(frames),
            "tx_queues": {label: v for (_, label), v in sorted(queues.items())},
            "tx_drops": dict(sorted(drops.items())),
            "tx_drop_counters": {k: TX_DROP_COUNTERS[k] for k in sorted(drops)},
            "tx_in_flight": sum(where.values()), "tx_in_flight_by_place": where,
            "tx_balanced": total_sent == total_wire + sum(drops.values()) + sum(where.values()),
            "senders": senders}


def rr_summary(r: dict, rr: dict, snmp_tcp: dict, tcpext: dict) -> dict:
    """Per udp_rr or tcp_rr flow and in total, as netperf reports them: transactions
    completed, their rate over the flow's active time, the RTT's percentiles (µs), receive
    timeouts (netperf -e), and retransmissions (none for UDP_RR; for TCP_RR the clients'
    requests sent again, and under `tcp_server` the host's side: responses sent again by
    the loss probe or the retransmission timer, delayed and duplicate ACKs)."""
    groups = {}
    for f in r["flows"]:
        if "rr" in f:
            groups.setdefault(f["rr"]["group"], f)
    out, hists = {}, []
    total_tps = 0.0
    for name, f in groups.items():
        st = rr[name]
        stop = r["duration_ns"] if f["stop_ns"] is None else min(f["stop_ns"],
                                                                   r["duration_ns"])
        secs = max(1, stop - f["start_ns"]) / 1e9
        tps = st["transactions"] / secs
        total_tps += tps
        hists.append(st["rtt_ns"])
        out[name] = _rr_figures(st["transactions"], tps, st["rtt_ns"], st["timeouts"],
                                f["rr"]["instances"], st["outstanding"], st.get("client_tcp"))
        # each instance as its own netperf reports it
        out[name]["per_instance"] = {
            r["flows"][k]["name"]: {"transactions": n, "tps": round(n / secs, 1),
                                    "rtt_us": {q: round(v / 1000, 3) for q, v in
                                               percentiles(h, (50, 99)).items()
                                               if q in ("p50", "p99", "max")}}
            for k, n, h in st["instances"]}
    out["total"] = _rr_figures(sum(v["transactions"] for v in rr.values()), total_tps,
                               merge(hists), sum(v["timeouts"] for v in rr.values()),
                               sum(f["rr"]["instances"] for f in groups.values()),
                               sum(v["outstanding"] for v in rr.values()),
                               _sum_dicts([v["client_tcp"] for v in rr.values()
                                           if "client_tcp" in v]) or None)
    if any(f["rr"]["proto"] == "tcp_rr" for f in groups.values()):
        out["tcp_server"] = {"retransmits": snmp_tcp.get("RetransSegs", 0),
                             "loss_probes": tcpext["TCPLossProbes"],
                             "timeouts": tcpext["TCPTimeouts"],
                             "delayed_acks": tcpext["DelayedACKs"],
                             "duplicate_requests": tcpext["DelayedACKLost"],
                             "pure_acks_in": tcpext["TCPPureAcks"]}
    return out


def _rr_figures(n: int, tps: float, rtt: dict, timeouts: int, instances: int,
                outstanding: int, tcp: dict | None = None) -> dict:
    p = percentiles(rtt, (50, 90, 99))
    return {"instances": instances, "transactions": n, "tps": round(tps, 1),
            "rtt_us": {k: round(p[k] / 1000, 3) for k in ("p50", "p90", "p99", "mean",
                                                          "max") if k in p},
            "timeouts": timeouts, "retransmits": tcp["retrans_segs"] if tcp else 0,
            "outstanding": outstanding,
            # a TCP_RR client's recovery: loss probes and RTOs (each one request sent
            # again), delayed ACKs and duplicate ACKs it sent
            **({"client_tcp": tcp} if tcp else {})}


def _vector_detail(cpu_result: dict, name: str) -> dict:
    d = cpu_result["vectors"].get(name)
    out = {"interrupts": cpu_result["irqs"].get(name, 0)}
    if d:
        out.update(d)
    return out


def mac_counts(nic: dict, eth: dict, mpc_bytes: int) -> tuple[int, int, int, int]:
    """The MAC's good-frame counters of the e1000 family (GPRC, GORC, GPTC, GOTC): what it
    received, less what the MPC register counts (8254x manual's wording), and sent."""
    ntx = nic.get("tx") or {}
    return (nic["gprc"] - eth["rx_missed_errors"], nic["gorc"] - mpc_bytes,
            ntx.get("frames", 0), ntx.get("bytes", 0))


def igb_ethtool_stats(nq: int, nic: dict, queues: dict, ring: dict, eth: dict,
                      rnbc: int, mpc_bytes: int, txqs: dict | None = None
                      ) -> list[tuple[str, int]]:
    """`ethtool -S` for igb in its own order (kernel-spec §3.8), the MAC's counters from
    `mac_counts`."""
    rx_pk, gorc, tx_pk, tx_by = mac_counts(nic, eth, mpc_bytes)
    mac = {"rx_packets": rx_pk, "rx_bytes": gorc, "tx_packets": tx_pk, "tx_bytes": tx_by,
           "rx_no_buffer_count": rnbc, "rx_missed_errors": eth["rx_missed_errors"]}
    names = ("rx_packets tx_packets rx_bytes tx_bytes rx_broadcast tx_broadcast rx_multicast "
             "tx_multicast multicast collisions rx_crc_errors rx_no_buffer_count "
             "rx_missed_errors tx_aborted_errors tx_carrier_errors tx_window_errors "
             "tx_abort_late_coll tx_deferred_ok tx_single_coll_ok tx_multi_coll_ok "
             "tx_timeout_count rx_long_length_errors rx_short_length_errors rx_align_errors "
             "tx_tcp_seg_good tx_tcp_seg_failed rx_flow_control_xon rx_flow_control_xoff "
             "tx_flow_control_xon tx_flow_control_xoff rx_long_byte_count tx_dma_out_of_sync "
             "tx_smbus rx_smbus dropped_smbus os2bmc_rx_by_bmc os2bmc_tx_by_bmc "
             "os2bmc_tx_by_host os2bmc_rx_by_host tx_hwtstamp_timeouts tx_hwtstamp_skipped "
             "rx_hwtstamp_cleared").split()
    out = [(n, mac.get(n, 0)) for n in names]
    out[names.index("rx_long_byte_count")] = ("rx_long_byte_count", gorc)
    netdev = {"rx_fifo_errors": eth["rx_fifo_errors"]}
    for n in ("rx_errors tx_errors tx_dropped rx_length_errors rx_over_errors "
              "rx_frame_errors rx_fifo_errors tx_fifo_errors tx_heartbeat_errors").split():
        out.append((n, netdev.get(n, 0)))
    txqs = txqs or {}
    for q in range(nq):
        t = txqs.get(q, {})
        out += [(f"tx_queue_{q}_packets", t.get("packets", 0)),
                (f"tx_queue_{q}_bytes", t.get("bytes", 0)),
                (f"tx_queue_{q}_restart", t.get("restart", 0))]
    for q in range(nq):
        rs, hw = ring.get(q, {}), queues.get(q, {})
        out += [(f"rx_queue_{q}_packets", rs.get("packets", 0)),
                (f"rx_queue_{q}_bytes", rs.get("bytes", 0)),
                (f"rx_queue_{q}_drops", hw.get("rqdpc", 0)),
                (f"rx_queue_{q}_csum_err", 0), (f"rx_queue_{q}_alloc_failed", 0)]
    return out


def e1000e_ethtool_stats(nic: dict, eth: dict, rnbc: int, mpc_bytes: int,
                         txqs: dict) -> list[tuple[str, int]]:
    """`ethtool -S` for e1000e in its own order (devices-probe-kernels.md §1.5, 6.6's 53
    names; no per-queue statistics): the MAC's counters as igb's, tx_restart_queue from
    the one TX ring."""
    rx_pk, rx_by, tx_pk, tx_by = mac_counts(nic, eth, mpc_bytes)
    vals = {"rx_packets": rx_pk, "rx_bytes": rx_by, "tx_packets": tx_pk, "tx_bytes": tx_by,
            "rx_no_buffer_count": rnbc, "rx_missed_errors": eth["rx_missed_errors"],
            "rx_fifo_errors": eth["rx_fifo_errors"],
            "tx_restart_queue": sum(t.get("restart", 0) for t in txqs.values())}
    names = ("rx_packets tx_packets rx_bytes tx_bytes rx_broadcast tx_broadcast rx_multicast "
             "tx_multicast rx_errors tx_errors tx_dropped multicast collisions "
             "rx_length_errors rx_over_errors rx_crc_errors rx_frame_errors "
             "rx_no_buffer_count rx_missed_errors tx_aborted_errors tx_carrier_errors "
             "tx_fifo_errors tx_heartbeat_errors tx_window_errors tx_abort_late_coll "
             "tx_deferred_ok tx_single_coll_ok tx_multi_coll_ok tx_timeout_count "
             "tx_restart_queue rx_long_length_errors rx_short_length_errors rx_align_errors "
             "tx_tcp_seg_good tx_tcp_seg_failed rx_flow_control_xon rx_flow_control_xoff "
             "tx_flow_control_xon tx_flow_control_xoff rx_csum_offload_good "
             "rx_csum_offload_errors rx_header_split alloc_rx_buff_failed tx_smbus rx_smbus "
             "dropped_smbus rx_dma_failed tx_dma_failed rx_hwtstamp_cleared uncorr_ecc_errors "
             "corr_ecc_errors tx_hwtstamp_timeouts tx_hwtstamp_skipped").split()
    return [(n, vals.get(n, 0)) for n in names]


def ixgbe_ethtool_stats(nq: int, nic: dict, queues: dict, ring: dict, eth: dict,
                        rnbc: int, mpc_bytes: int, txqs: dict) -> list[tuple[str, int]]:
    """`ethtool -S` for ixgbe in its order (devices-probe-kernels.md §2.4, 6.6 without
    FCoE): the netdev's and the MAC's counters, then tx and rx per-queue packets and bytes
    for all 64 allocated queues (not only those in use), then the 8 packet buffers' PFC
    counters. rx_no_dma_resources counts the queues' descriptor drops (QPRDC)."""
    rdpc = sum(queues.get(q, {}).get("rqdpc", 0) for q in range(nq))
    rx_pk = sum(ring.get(q, {}).get("packets", 0) for q in range(nq))
    rx_by = sum(ring.get(q, {}).get("bytes", 0) for q in range(nq))
    tx_pk = sum(t.get("packets", 0) for t in txqs.values())
    tx_by = sum(t.get("bytes", 0) for t in txqs.values())
    nic_rx_pk, nic_rx_by, nic_tx_pk, nic_tx_by = mac_counts(nic, eth, mpc_bytes)
    vals = {"rx_packets": rx_pk, "tx_packets": tx_pk, "rx_bytes": rx_by, "tx_bytes": tx_by,
            "rx_pkts_nic": nic_rx_pk, "tx_pkts_nic": nic_tx_pk,
            "rx_bytes_nic": nic_rx_by, "tx_bytes_nic": nic_tx_by,
            # ixgbe_update_stats reads RNBC on the 82598 only
            "rx_no_buffer_count": 0, "rx_missed_errors": eth["rx_missed_errors"],
            "tx_restart_queue": sum(t.get("restart", 0) for t in txqs.values()),
            "rx_no_dma_resources": rdpc,
            # Flow Director's lookups with ATR on (0 without: no table is searched)
            "fdir_match": nic.get("fdir_match", 0), "fdir_miss": nic.get("fdir_miss", 0)}
    names = ("rx_packets tx_packets rx_bytes tx_bytes rx_pkts_nic tx_pkts_nic rx_bytes_nic "
             "tx_bytes_nic lsc_int tx_busy non_eop_descs rx_errors tx_errors rx_dropped "
             "tx_dropped multicast broadcast rx_no_buffer_count collisions rx_over_errors "
             "rx_crc_errors rx_frame_errors hw_rsc_aggregated hw_rsc_flushed fdir_match "
             "fdir_miss fdir_overflow rx_fifo_errors rx_missed_errors tx_aborted_errors "
             "tx_carrier_errors tx_fifo_errors tx_heartbeat_errors tx_timeout_count "
             "tx_restart_queue rx_length_errors rx_long_length_errors rx_short_length_errors "
             "tx_flow_control_xon rx_flow_control_xon tx_flow_control_xoff "
             "rx_flow_control_xoff rx_csum_offload_errors alloc_rx_page alloc_rx_page_failed "
             "alloc_rx_buff_failed rx_no_dma_resources os2bmc_rx_by_bmc os2bmc_tx_by_bmc "
             "os2bmc_tx_by_host os2bmc_rx_by_host tx_hwtstamp_timeouts tx_hwtstamp_skipped "
             "rx_hwtstamp_cleared tx_ipsec rx_ipsec").split()
    out = [(n, vals.get(n, 0)) for n in names]
    for q in range(64):                       # netdev->num_tx_queues, allocated
        t = txqs.get(q, {})
        out += [(f"tx_queue_{q}_packets", t.get("packets", 0)),
                (f"tx_queue_{q}_bytes", t.get("bytes", 0))]
    for q in range(64):
        rs = ring.get(q, {})
        out += [(f"rx_queue_{q}_packets", rs.get("packets", 0)),
                (f"rx_queue_{q}_bytes", rs.get("bytes", 0))]
    for d in ("tx", "rx"):
        for j in range(8):                    # IXGBE_MAX_PACKET_BUFFERS
            out += [(f"{d}_pb_{j}_pxon", 0), (f"{d}_pb_{j}_pxoff", 0)]
    return out


def ice_ethtool_stats(nq: int, nic: dict, queues: dict, ring: dict,
                      eth: dict) -> list[tuple[str, int]]:
    """`ethtool -S` for ice in its order (L6.6 ice_ethtool.c): the VSI stats
    (ice_gstrings_vsi_stats, all of them), tx then rx per-queue packets/bytes, then of the
    PF's ".nic" stats only those softnet models (ice lists ~60 more, 0 here, left out).
    rx_dropped counts frames a queue dropped for lack of descriptors (rx_discards);
    fdir_sb_match.nic the frames an ethtool (sideband) filter matched. Every frame is
    unicast here."""
    rdpc = sum(queues.get(q, {}).get("rqdpc", 0) for q in range(nq))
    # the VSI counts what its queues took (written to a descriptor) and what they dropped
    vsi = {"rx_unicast": sum(queues.get(q, {}).get("gprc", 0) for q in range(nq)) + rdpc,
           "rx_bytes": sum(queues.get(q, {}).get("gorc", 0) for q in range(nq)),
           "rx_dropped": rdpc}
    names = ("rx_unicast tx_unicast rx_multicast tx_multicast rx_broadcast tx_broadcast "
             "rx_bytes tx_bytes rx_dropped rx_unknown_protocol rx_alloc_fail "
             "rx_pg_alloc_fail tx_errors tx_linearize tx_busy tx_restart").split()
    out = [(n, vsi.get(n, 0)) for n in names]
    for q in range(nq):
        out += [(f"tx_queue_{q}_packets", 0), (f"tx_queue_{q}_bytes", 0)]
    for q in range(nq):
        rs = ring.get(q, {})
        out += [(f"rx_queue_{q}_packets", rs.get("packets", 0)),
                (f"rx_queue_{q}_bytes", rs.get("bytes", 0))]
    out += [("rx_bytes.nic", nic["gorc"]), ("rx_unicast.nic", nic["gprc"]),
            ("rx_dropped.nic", rdpc), ("fdir_sb_match.nic", nic.get("fdir_sb_match", 0)),
            ("fdir_sb_status.nic", 0)]
    return out



def _tx_queues(cpus: list[dict]) -> dict[int, dict]:
    """Each TX queue's figures, its cleaning CPU's half (ring counts, the CPU) and its
    producing CPU's (qdisc, restarts, BQL, state) put together."""
    out: dict[int, dict] = {}
    for c in cpus:
        for q, v in c["tx"]["queues"].items():
            out.setdefault(int(q), {}).update(v)
    return out
