"""What a cpuK LP reports at the end of a run (its `result()`): its books and what is still
in flight where, softnet_stat, softirq and IRQ counts, CPU time by context, SNMP, GRO,
per-queue and per-socket figures, the transmit side's queues and senders. The coordinator
(`coordinator/results.py`) puts the CPUs' reports together.

May import: the standard library and this package's modules.
"""

from __future__ import annotations

from .cpu import ACCT_TASK, SOFTIRQ_NAMES
from .gro import GroList


def cpu_report(lp) -> dict:
    """Everything the coordinator needs from one CPU once the run has ended."""
    end = lp.end
    gro = [qv.napi.gro for qv in lp.qvectors if qv.napi.gro is not None]
    gro_held = sum(g.held_segs for g in gro)
    in_flight = {"cpu_stack": lp.stack.held - gro_held, "gro_held": gro_held}
    for ring in lp.rings.values():
        for k, v in ring.in_flight(end).items():
            in_flight[k] = in_flight.get(k, 0) + v
    link = sum(e[5][1].nsegs for e in lp.ev._heap
               if e[4] in (lp._sock_arrive, lp._backlog_arrive))
    # a moving socket's queue, on the way or waited for
    link += sum(1 + len(w[12] or ()) for e in lp.ev._heap if e[4] == lp._mig_arrive
                for w in e[5][2]["queue"])
    link += sum(skb.nsegs for lst in lp.pending.values() for skb, _ in lst)
    in_flight["interconnect_link"] = link
    # the transmit side: packets in qdiscs, not yet rung rings, or on their way to the
    # queue's owner; a sender's count as TX in flight, a forwarded one's as RX
    tx_if = {"qdisc": 0, "tx_ring": 0, "interconnect_link": 0, "xmit": 0, "neigh": 0}
    def place(skb, where):
        if skb.sock == -2:                     # the kernel's own ARP request
            return
        if skb.sock >= 0:
            if not skb.more and not skb.lost and \
                    (skb.sock, skb.id - skb.frag) not in lp.tx.lost_sends:
                # a send counts where its last piece is, unless it lost one already
                tx_if[where] += 1
        else:
            in_flight[where] = in_flight.get(where, 0) + skb.nsegs
    for txq in lp.txqs.values():
        for skb in txq.qdisc.skbs():
            place(skb, "qdisc")
        for skb in txq.ring.unsent:
            place(skb, "tx_ring")
    for n in lp.tx.neigh.values():            # waiting for a neighbour's answer
        for skb, _, _, _ in n.queue:
            place(skb, "neigh")
    for skb, _, _, _ in lp.tx.neigh_flush:
        place(skb, "neigh")
    for skb in lp.tx.in_hand.values():        # in sendmsg, or being handed over
        place(skb, "xmit")
    for e in lp.ev._heap:
        if e[4] == lp._xq_arrive:
            place(e[5][1], "interconnect_link")
    in_flight["backlog"] = lp.backlog.queued()
    in_flight["socket_queue"] = sum(s.queued() for s in lp.sockets.values())
    sd = lp.sd
    # /proc/stat: a reader's cost_per_read is user time (each of its steps is one
    # read); the rest of an application's time (recvmsg, sendmsg, switches) is system
    cpu = lp.cpu
    cpr = {a["name"]: a["cost_per_read_ns"] for a in lp.app_args.values()}
    senders = {id(t) for t in lp.sender_tasks}
    user = {t: t.steps * cpr[t.name] for t in lp.tasks
            if id(t) not in senders and t.name in cpr}
    last = cpu.sched.prev          # the task whose step ran last (if one did)
    if cpu.now > end and cpu.last_kind == ACCT_TASK and cpu.switch_end != cpu.now \
            and last in user:      # the step cut at the end: its user part comes last
        user[last] -= min(cpu.now - end, cpr[last.name])
    return {
        "kind": "cpu",
        "cpu": lp.cpu_id,
        "books": lp.books.export(),
        "in_flight": in_flight,
        "softnet": {"processed": sd.processed, "dropped": sd.dropped,
                    "time_squeeze": sd.time_squeeze, "received_rps": sd.received_rps,
                    "input_qlen": len(lp.backlog.input_pkt_queue),
                    "process_qlen": len(lp.backlog.process_queue)},
        # flow-limit drops, by the enqueuing CPU whose softnet_stat counts them
        "rfs": {"migrations": lp.stack.rfs.migrations if lp.stack.rfs else 0,
                "deferred": lp.stack.rfs.deferred if lp.stack.rfs else 0,
                # lookups whose socket-table line a reader on another CPU had written
                "table_line_fetches": lp.stack.rfs.fetched if lp.stack.rfs else 0,
                "table_writes": lp.rfs_writer.writes if lp.rfs_writer else 0,
                **({"arfs_steer_calls": lp.stack.rfs.arfs.calls}
                   if lp.stack.rfs is not None and lp.stack.rfs.arfs else {})},
        "flow_limit_by_cpu": {str(c): fl.count for c, fl in lp.backlog.fl.items()},
        "softirqs": dict(zip(SOFTIRQ_NAMES, lp.cpu.kstat_softirqs)),
        "irqs": lp.cpu.irq_counts,
        "time": lp.cpu.time_by_context(end),
        "snmp": {"Ip": lp.snmp.ip, "Udp": lp.snmp.udp, "TcpExt": lp.snmp.tcpext,
                 "Tcp": {**lp.snmp.tcp, "CurrEstab": sum(
                     1 for sk in lp.sockets.values()
                     if sk.is_tcp and sk.rem_ip is not None)}},   # accepted only
        "gro": {k: sum(g.export()[k] for g in gro) for k in GroList().export()},
        "core_rx_dropped": sum(lp.stack.rx_dropped_core.values()),
        "core_rx_dropped_by_flow": {str(f): n for f, n in
                                    sorted(lp.stack.rx_dropped_core.items())},
        "queues": {str(r.index): {"rqdpc": r.rqdpc, "mpc": r.mpc,
                                  "mpc_bytes": r.mpc_bytes, "rnbc": r.rnbc,
                                  "gprc": r.gprc, "gorc": r.gorc, "received": r.received}
                   for r in lp.rings.values()},
        "ring_stats": {str(qv.rx_ring.index): {"packets": qv.ring_packets,
                                               "bytes": qv.ring_bytes}
                       for qv in lp.qvectors if qv.rx_ring is not None},
        "vectors": {v.name: {"itr_val": qv.itr_val, "interval_ns": v.interval,
                             "polls": qv.napi.polls,
                             # adaptive-rx/-tx: where net_dim ended, what it decided
                             **_dim("dim", qv.dim, qv.dim_itr),
                             **_dim("tx_dim", qv.tx_dim, qv.tx_dim_itr)}
                    for v, qv in zip(lp.vectors, lp.qvectors)},
        "sockets": {str(s.index): {"rcvbuf": s.rcvbuf, "rmem_alloc": s.rmem_alloc,
                                   "rx_queue": s.rx_queue_bytes(), "drops": s.drops,
                                   "queued": s.queued(), "enqueued": s.enqueued,
                                   "incoming_cpu": s.incoming_cpu,
                                   # a UDP receive queue's lock and line, as CPUs shared them
                                   **({} if s.is_tcp else {"lock": s.lines.report()}),
                                   "processed_by_cpu": {str(c): n for c, n in
                                                        sorted(s.by_cpu.items())}}
                    for s in lp.sockets.values()},
        "context_switches": {t.name: t.switches for t in lp.tasks},
        "sched": {"nr_switches": cpu.nr_switches, "nr_running": len(cpu.sched.rq),
                  "user_ns": sum(user.values())},
        "tx_in_flight": tx_if,
        "neigh": {str(k): {"state": ("none", "incomplete", "reachable")[n.state],
                           "requests": n.requests, "replies": n.replies,
                           "unres_discards": n.unres_discards}
                  for k, n in lp.tx.neigh.items()},
        "tx": {"queues": {str(q): _txq_result(lp, q, txq)
                          for q, txq in lp.txqs.items()},
               "senders": {str(i): {"sendmsg_built": t.sent, "eagain": t.eagain,
                                    "blocked": t.blocked, "wmem_alloc": t.wmem_alloc,
                                    "sndbuf": t.sndbuf, "tx_queue": t.tx_queue}
                           for i, t in lp.tx_socks.items()}},
    }


def _txq_result(lp, q: int, txq) -> dict:
    """A TX queue's figures from the halves held here: the ring's counts and the CPU
    from the cleaning half, the qdisc, restarts, BQL and state from the producing one
    (the coordinator puts the halves together)."""
    out = {}
    if q in lp.txq_cleaned:
        out.update(cpu=lp.cpu_id, packets=txq.ring.packets, bytes=txq.ring.bytes)
    if q in lp.tx.queues:
        out.update(qdisc=txq.qdisc.stats(),
                   restart=txq.ring.restart_queue + txq.ring.restart_queue2,
                   bql_limit=txq.dql.limit, bql_inflight=txq.dql.inflight(),
                   stopped=txq.stopped(),
                   # the queue's line and enqueue lock, as the CPUs sending on it shared them
                   lock=txq.lines.report())
    return out


def _dim(key: str, dim, itrs) -> dict:
    """A container's net_dim in the summary: {} when its ITR is static."""
    if dim is None:
        return {}
    return {key: {"profile_ix": dim.profile_ix, "itr_us": itrs[dim.profile_ix],
                  "decisions": dim.decisions, "profile_changes": dim.changes,
                  # a change waits for the kworker that writes it (the ITR until then
                  # is the previous profile's)
                  "applied": dim.applied,
                  "apply_wait_us": {"mean": round(dim.wait_total / max(1, dim.applied) / 1e3, 3),
                                    "max": round(dim.wait_max / 1e3, 3)}}}
