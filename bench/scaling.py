"""Scaling benchmark: one fixed experiment (bench/experiments.py: rss_scaling) run inline
and in process mode with 1, 2 and 4 CPUs; prints simulated packets per wall-clock second,
the ratios (process vs inline, N CPUs vs 1), each process's share of wall time spent
waiting on its links, and its peak memory. Then the RPS experiment (rps_cross, cross-CPU
traffic on every packet) against the no-RPS figure, RPS with socket hand-offs in exact and
relaxed (--quantum) synchronisation, a router (ip_forward, every packet received and
sent back out), a two-port router with each CPU cleaning the ring it forwards onto and
with TX cleanup on the other CPU, and one 1,000,000-packet run in process
mode with 2 CPUs for the throughput and memory targets.

    python bench/scaling.py [--packets 300000] [--cpus 1,2,4] [--big 1000000]

Speed is only ever compared within one run of this script, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from experiments import router, router2, rps_cross, rps_handoff, rss_scaling  # noqa: E402
from runner import run_softnet  # noqa: E402

PER_CPU_PPS = 300_000       # 4 CPUs × 300 kpps stays under the 1 Gb/s line rate (1.488 Mpps)


def run(cfg: dict, mode: str, workdir: str, tag: str, extra: tuple = ()) -> dict:
    s, e, wall, _ = run_softnet(cfg, mode, workdir, tag, extra)
    procs = e["processes"]
    run_wall = max((p.get("wall_s", 0) for p in procs.values()), default=0) or wall
    return {"offered": s["offered"], "wall": wall, "run_wall": run_wall,
            "pps_wall": s["offered"] / wall, "pps_run": s["offered"] / run_wall,
            "wait": {n: p.get("wait_s", 0) / p["wall_s"] if p.get("wall_s") else 0.0
                     for n, p in procs.items()},
            "rss_mb": {n: p.get("max_rss_kb", 0) / 1024 for n, p in procs.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=300_000)
    ap.add_argument("--cpus", default="1,2,4")
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--no-handoff", dest="handoff", action="store_false",
                    help="skip the slow socket hand-off case")
    args = ap.parse_args()
    cpus = [int(c) for c in args.cpus.split(",")]
    work = tempfile.mkdtemp(prefix="softnet-bench-")
    print(f"rss_scaling: {PER_CPU_PPS // 1000} kpps of 64-byte UDP per CPU, one queue and "
          f"one reader per CPU, ~{args.packets} packets per run; host has "
          f"{len(os.sched_getaffinity(0))} cores\n")
    res = {}
    for n in cpus:
        dur_ms = max(1, round(args.packets / (PER_CPU_PPS * n) * 1000))
        cfg = rss_scaling(n, PER_CPU_PPS * n, f"{dur_ms}ms")
        for mode in ("inline", "process"):
            res[(n, mode)] = r = run(cfg, mode, work, f"{mode}{n}")
            print(f"{mode:8s} {n} CPU: {r['offered']:8d} pkts in {r['wall']:6.2f} s "
                  f"→ {r['pps_wall']:9,.0f} pkt/s wall ({r['pps_run']:9,.0f} pkt/s excluding "
                  f"start-up)")
            if mode == "process":
                print("          waiting on links: " + ", ".join(
                    f"{k} {100 * v:.0f}%" for k, v in sorted(r["wait"].items())))
    print("\nratios (packets per wall-second):")
    base = res.get((cpus[0], "inline"))
    for n in cpus:
        i, p = res[(n, "inline")], res[(n, "process")]
        line = f"  {n} CPU: process/inline {p['pps_wall'] / i['pps_wall']:.2f}"
        if base and n != cpus[0]:
            line += (f"   inline {n}/{cpus[0]} CPU {i['pps_wall'] / base['pps_wall']:.2f}"
                     f"   process {n}/{cpus[0]} CPU "
                     f"{p['pps_wall'] / res[(cpus[0], 'process')]['pps_wall']:.2f}")
        print(line)
    print("\nRPS (rps_cross: one RX queue on CPU 0 steered by RPS to the other CPUs, flows "
          "landing on their reader's CPU; every packet crosses CPUs):")
    for n in [c for c in cpus if c >= 2]:
        dur_ms = max(1, round(args.packets / (PER_CPU_PPS * n) * 1000))
        line = f"  {n} CPU:"
        for mode in ("inline", "process"):
            r = run(rps_cross(n, PER_CPU_PPS * n, f"{dur_ms}ms"), mode, work, f"rps{mode}{n}")
            line += f"  {mode} {r['pps_wall']:9,.0f} pkt/s"
            if mode == "process":
                line += (f"  (process RPS / process no-RPS "
                         f"{r['pps_wall'] / res[(n, 'process')]['pps_wall']:.2f}; waiting: "
                         + ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(r["wait"].items()))
                         + ")")
        print(line)
    print("\nRouter (router: ip_forward = 1, one queue per CPU, every packet received, "
          "routed and sent back out; the nic process takes doorbells and returns "
          "completions):")
    for n in cpus:
        dur_ms = max(1, round(args.packets / (PER_CPU_PPS * n) * 1000))
        line = f"  {n} CPU:"
        rr = {}
        for mode in ("inline", "process"):
            rr[mode] = r = run(router(n, PER_CPU_PPS * n, f"{dur_ms}ms"), mode, work,
                               f"router{mode}{n}")
            line += f"  {mode} {r['pps_wall']:9,.0f} pkt/s"
        line += (f"  (process/inline {rr['process']['pps_wall'] / rr['inline']['pps_wall']:.2f}"
                 "; waiting: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                                           sorted(rr["process"]["wait"].items())) + ")")
        print(line)
    # Two ports on 2 CPUs. Unpaired, every forwarded packet crosses to the other CPU's TX
    # queue (42 ns links, near lock-step): a hundredth of the packets for that case.
    print("\nTwo-port router (router2: in eth0 out eth1 and back, 600 kpps, 2 CPUs):")
    for paired, pk in ((True, args.packets // 10), (False, args.packets // 100)):
        dur_ms = max(1, round(pk / 600_000 * 1000))
        rr = {}
        line = "  " + ("RX vector paired with the other port's TX  " if paired
                       else "each port on a CPU of its own (TX cleanup on the other CPU)")
        line += f" ~{pk} packets:"
        for mode in ("inline", "process"):
            rr[mode] = r = run(router2(600_000, f"{dur_ms}ms", paired), mode, work,
                               f"router2{mode}{int(paired)}")
            line += f"  {mode} {r['pps_wall']:9,.0f} pkt/s"
        line += f"  (process/inline {rr['process']['pps_wall'] / rr['inline']['pps_wall']:.2f})"
        print(line)
    n = max(cpus)
    if n >= 3 and args.handoff:
        # A tenth of the packets: this is the slow case, measured to track it.
        pk = args.packets // 10
        dur_ms = max(1, round(pk / (PER_CPU_PPS * n) * 1000))
        print(f"\nRPS with socket hand-offs between the RPS CPUs (rps_handoff, {n} CPUs, "
              f"~{pk} packets): cycles of 42 ns links")
        for mode, extra in (("inline", ()), ("process", ()),
                            ("process", ("--quantum", "1us"))):
            r = run(rps_handoff(n, PER_CPU_PPS * n, f"{dur_ms}ms"), mode, work,
                    f"handoff{mode}{len(extra)}", extra)
            label = mode + (" --quantum 1us" if extra else " exact")
            print(f"  {label:22s} {r['pps_wall']:9,.0f} pkt/s   waiting: " + ", ".join(
                f"{k} {100 * v:.0f}%" for k, v in sorted(r["wait"].items())))
    if args.big:
        dur_ms = round(args.big / 1_000_000 * 1000)
        r = run(rss_scaling(2, 1_000_000, f"{dur_ms}ms"), "process", work, "big")
        print(f"\n{r['offered']} packets, process mode, 2 CPUs: {r['pps_wall']:,.0f} pkt/s "
              f"wall ({r['pps_run']:,.0f} excluding start-up); peak RSS per process: "
              + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(r["rss_mb"].items())))


if __name__ == "__main__":
    main()
