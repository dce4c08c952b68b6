"""The time series files of a run (`[observe] interval`, `--interval`): the CPUs' and the
nic's per-interval samples put together into CSV tables that `pandas.read_csv` takes as
they are, one row per interval and per CPU, queue, flow, drop stage or socket.

Every table starts with `t_ns,t_end_ns`: the interval [t_ns, t_end_ns) of simulated time
(the last one ends at the run's end). In `drops.csv`, `books` says which books a stage is
in: `rx` (summary.json's `drops`: received and forwarded packets) or `tx` (`tx_drops`:
the senders' datagrams). Counts are what happened inside the interval;
`ring_backlog`, `backlog_len`, `queued`, `rmem_alloc`, the qdisc's and BQL's are what
was there at its end.

May import: the standard library, `engine.histogram` and this package's modules.
"""

from __future__ import annotations

import csv
import io

from softnet.engine.histogram import merge, percentiles

CPU_COLS = ("t_ns", "t_end_ns", "cpu", "hardirq_ns", "softirq_ns", "ksoftirqd_ns", "task_ns",
            "idle_ns", "busy", "interrupts", "net_rx_softirqs", "net_tx_softirqs",
            "processed", "time_squeeze", "backlog_dropped", "backlog_len")
QUEUE_COLS = ("t_ns", "t_end_ns", "port", "queue", "cpu", "packets", "drops", "interrupts",
              "ring_backlog", "itr_interval_ns")
FLOW_COLS = ("t_ns", "t_end_ns", "flow", "offered", "delivered", "forwarded", "dropped",
             "latency_mean_ns", "latency_p50_ns", "latency_p99_ns", "latency_max_ns")
DROP_COLS = ("t_ns", "t_end_ns", "books", "stage", "packets")
SOCKET_COLS = ("t_ns", "t_end_ns", "socket", "cpu", "queued", "rmem_alloc", "rcvbuf")
TXQ_COLS = ("t_ns", "t_end_ns", "port", "queue", "cpu", "packets", "bytes", "qdisc_qlen",
            "qdisc_backlog", "bql_limit", "bql_inflight", "stopped")
SENDER_COLS = ("t_ns", "t_end_ns", "sender", "sent", "on_wire")


def _csv(cols: tuple, rows: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(rows)
    return buf.getvalue()


def series_files(r: dict, results: dict) -> dict[str, str]:
    """{path in the run directory: CSV text}; empty when no interval was asked for."""
    step = r["observe"]["interval_ns"]
    if not step:
        return {}
    end = r["duration_ns"]
    n = -(-end // step)

    def span(k: int) -> list[int]:
        return [k * step, min((k + 1) * step, end)]

    cpus = [results[f"cpu{c}"]["series"] for c in range(r["cpus"])]
    cpu_rows = []
    for s in cpus:
        for k, cpu, hi, si, ks, task, idle, *rest in s["cpu"]:
            t0, t1 = span(k)
            busy = round((hi + si + ks + task) / (t1 - t0), 4)
            cpu_rows.append([t0, t1, cpu, hi, si, ks, task, idle, busy, *rest])
    # a queue by its port and its number there, as ethtool -S names it (rx_queue_N)
    nq = r["nic"]["combined"]
    ports = r["nic"].get("port_names", [r["nic"]["ifname"]])
    queue_rows = [[*span(k), ports[q // nq], q % nq, *rest]
                  for s in cpus for k, q, *rest in s["queue"]]

    names = [f["name"] for f in r["flows"]]
    offered = {(k, f): c for k, f, c in results["nic"].get("series_offered", [])}
    # by the time the last frame left the wire, as the summary counts them
    forwarded = {(k, f): c for k, f, c in results["nic"].get("series_forwarded", [])}
    dropped: dict = {}
    drops: dict = {}
    for k, f, c in results["nic"].get("series_ntuple_dropped", []):
        dropped[(k, f)] = dropped.get((k, f), 0) + c
        drops[(k, "rx", "nic_ntuple_drop")] = drops.get((k, "rx", "nic_ntuple_drop"), 0) + c
    parts: dict = {}                    # (interval, flow) -> each CPU's histogram of reads
    for s in cpus:
        for k, f, c in s["flow_dropped"]:
            dropped[(k, f)] = dropped.get((k, f), 0) + c
        for k, f, cnt, total, mx, bins in s["flow_reads"]:
            parts.setdefault((k, f), []).append({"n": cnt, "sum": total, "max": mx,
                                                 "bins": bins})
    reads = {kf: merge(p) for kf, p in parts.items()}
    flow_rows = []
    for k in range(n):
        for f, name in enumerate(names):
            h = reads.get((k, f))
            lat = ["", "", "", ""]
            if h is not None:
                p = percentiles(h, (50, 99))
                lat = [p["mean"], p["p50"], p["p99"], p["max"]]
            flow_rows.append([*span(k), name, offered.get((k, f), 0),
                              0 if h is None else h["n"], forwarded.get((k, f), 0),
                              dropped.get((k, f), 0), *lat])

    for s in cpus:
        for k, side, stage, c in s["drops"]:
            drops[(k, side, stage)] = drops.get((k, side, stage), 0) + c
    stages = sorted({(side, stage) for _, side, stage in drops})
    drop_rows = [[*span(k), side, stage, drops.get((k, side, stage), 0)]
                 for k in range(n) for side, stage in stages]

    apps = {i: a["name"] for i, a in enumerate(r["apps"])}
    sock_rows = sorted([[*span(k), apps.get(i, str(i)), cpu, *rest]
                        for s in cpus for k, i, cpu, *rest in s["socket"]],
                       key=lambda row: (row[0], row[2]))
    # a TX queue's two halves may be on two CPUs: the ring's counts from the one that
    # cleans it, the qdisc and BQL from the one that transmits on it
    txq: dict = {}
    for c, s in enumerate(cpus):
        for k, q, cleans, pk, by, produces, qlen, backlog, limit, inflight, stopped in s["txq"]:
            row = txq.setdefault((k, q), [*span(k), ports[q // nq], q % nq, "", 0, 0,
                                          0, 0, 0, 0, 0])
            if cleans:
                row[4:7] = [c, pk, by]
            if produces:
                row[7:12] = [qlen, backlog, limit, inflight, int(stopped)]
    sent: dict = {}
    for s in cpus:
        for k, a, n_ in s["sent"]:
            sent[(k, a)] = sent.get((k, a), 0) + n_
    on_wire = {(k, a): n_ for k, a, n_ in results["nic"].get("series_on_wire", [])}
    senders = [i for i, a in enumerate(r["apps"]) if a.get("sender")]
    sender_rows = [[*span(k), apps[i], sent.get((k, i), 0), on_wire.get((k, i), 0)]
                   for k in range(n) for i in senders]
    return {"timeseries/txq.csv": _csv(TXQ_COLS, [txq[key] for key in sorted(txq)]),
            "timeseries/sender.csv": _csv(SENDER_COLS, sender_rows),
            "timeseries/cpu.csv": _csv(CPU_COLS, sorted(cpu_rows, key=lambda x: x[:3])),
            "timeseries/queue.csv": _csv(QUEUE_COLS,
                                         sorted(queue_rows, key=lambda x: x[:4])),
            "timeseries/flow.csv": _csv(FLOW_COLS, flow_rows),
            "timeseries/drops.csv": _csv(DROP_COLS, drop_rows),
            "timeseries/socket.csv": _csv(SOCKET_COLS, sock_rows)}
