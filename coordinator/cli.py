"""The `softnet` command line.

  softnet run [FILE] [--set KEY=VALUE]… [--out DIR] [--mode process|inline] [--seed N]
              [--duration 50ms] [--force]
  softnet validate FILE [--set KEY=VALUE]…
  softnet show RUN_DIR [summary|softnet_stat|interrupts|softirqs|snmp|dev|udp|ethtool]

Exit codes: 0 success; 2 refused input; 3 a process failed; 4 the books did not balance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from softnet.engine.units import fmt_ns

from .config import ConfigError, apply_sets, load_file, validate
from .launch import LPFailed, run_inline_mode, run_process_mode
from .results import Unbalanced, assemble
from .rundir import write_run_dir
from .topology import plan

EXIT_INPUT, EXIT_PROCESS, EXIT_BOOKS = 2, 3, 4

SHOW = {"summary": "summary.json", "softnet_stat": "proc/net/softnet_stat",
        "interrupts": "proc/interrupts", "softirqs": "proc/softirqs", "snmp": "proc/net/snmp",
        "dev": "proc/net/dev", "udp": "proc/net/udp", "ethtool": "ethtool_S.txt",
        "qdisc": "tc_qdisc.txt"}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="softnet", description="Simulate the Linux kernel's "
                                 "network packet path on a multi-core host.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run an experiment (the built-in default without FILE)")
    run.add_argument("file", nargs="?")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--out", metavar="DIR")
    run.add_argument("--mode", choices=("process", "inline"), default="process")
    run.add_argument("--seed", type=int)
    run.add_argument("--duration")
    run.add_argument("--quantum", metavar="Q",
                     help="relaxed synchronisation: cross-CPU deliveries rounded up to a "
                          "multiple of Q (e.g. 1us); default exact")
    run.add_argument("--force", action="store_true", help="replace an existing --out DIR")
    run.add_argument("--quiet", action="store_true", help="no progress or summary on screen")
    run.add_argument("--fault", action="append", default=[], metavar="LP@TIME",
                     help=argparse.SUPPRESS)   # test hook: make an LP fail at a sim time
    val = sub.add_parser("validate", help="check an experiment file without running it")
    val.add_argument("file")
    val.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    show = sub.add_parser("show", help="print a file of a run directory")
    show.add_argument("run_dir")
    show.add_argument("what", nargs="?", default="summary", choices=sorted(SHOW))
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "show":
        return _show(args)
    try:
        raw = load_file(args.file)
        sets = list(args.set)
        if getattr(args, "seed", None) is not None:
            sets.append(f"seed={args.seed}")
        if getattr(args, "duration", None) is not None:
            sets.append(f'duration="{args.duration}"')
        if getattr(args, "quantum", None) is not None:
            sets.append(f'quantum="{args.quantum}"')
        r = validate(apply_sets(raw, sets))
        p = plan(r)
    except ConfigError as e:
        print(f"softnet: config error: {e}", file=sys.stderr)
        return EXIT_INPUT
    if args.cmd == "validate":
        print(f"{args.file}: ok ({r['cpus']} CPUs, {r['nic']['model']} with "
              f"{r['nic']['combined']} queues, {len(r['flows'])} flows, {len(r['apps'])} apps)")
        for n in p.notes:
            print(f"note: {n}")
        return 0
    return _run(args, r, p)


def _run(args, r: dict, p) -> int:
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    if args.file is None:
        say("softnet: no experiment file given: running the built-in default experiment "
            "(4 CPUs, I350 with 4 queues, 4 UDP flows, one server on CPU 0)")
    for n in p.notes:
        say(f"note: {n}")
    if r["quantum_ns"]:
        say(f"note: relaxed synchronisation: cross-CPU deliveries rounded up to multiples of "
            f"{r['quantum_ns']} ns (timing error up to that much per hop)")
    out = args.out or os.path.join("runs", time.strftime("run-%Y%m%d-%H%M%S"))
    if os.path.exists(out) and os.listdir(out) and not args.force:
        print(f"softnet: --out {out} exists and is not empty; choose another or pass --force",
              file=sys.stderr)
        return EXIT_INPUT
    fault = {}
    for item in args.fault:
        name, _, t = item.partition("@")
        fault[name] = int(t)
    end = r["duration_ns"]
    progress = _Progress(end, say)
    t0 = time.perf_counter()
    try:
        if args.mode == "process":
            def started(info):
                pl = info["placement"]
                pinned = any(v is not None for v in pl.values())
                desc = ", ".join(f"{n} pid {info['pids'][n]}"
                                 + (f" → core {pl[n]}" if pl.get(n) is not None else "")
                                 for n in info["pids"])
                say(f"placement: {desc}" + ("" if pinned else
                    f" (not pinned: {len(pl)} processes on {len(os.sched_getaffinity(0))} "
                    "cores)"))
            results, info = run_process_mode(p.lps, end, progress.update, started, fault)
        else:
            results, info = run_inline_mode(p.lps, end, progress.update)
    except LPFailed as e:
        progress.done()
        print(f"softnet: {e.name} process {e.why}", file=sys.stderr)
        return EXIT_PROCESS
    wall = time.perf_counter() - t0
    progress.done()
    try:
        assembled = assemble(r, p, results)
    except Unbalanced as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_BOOKS
    engine = {"mode": args.mode, "quantum_ns": r["quantum_ns"], "wall_s": round(wall, 3), **info,
              "processes": {n: res.get("engine", {}) for n, res in results.items()}}
    write_run_dir(out, r, assembled, engine, force=args.force)
    if not args.quiet:
        print(screen_summary(assembled["summary"], out, wall))
    return 0


class _Progress:
    """Simulated time, events/s and drops so far, for runs longer than ~2 s."""

    def __init__(self, end: int, say) -> None:
        self.end = end
        self.say = say
        self.t0 = time.perf_counter()
        self.shown = False
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, prog: dict) -> None:
        now = time.perf_counter()
        if now - self.t0 < 2 or now - self.last < (0.5 if self.tty else 5):
            return
        self.last = now
        t = min((v.get("t", 0) for v in prog.values()), default=0)
        delivered = sum(v.get("delivered", 0) for v in prog.values())
        dropped = sum(v.get("dropped", 0) for v in prog.values())
        offered = sum(v.get("offered", 0) for v in prog.values())
        rate = delivered / (now - self.t0)
        line = (f"t={fmt_ns(t)}/{fmt_ns(self.end)} ({100 * t / self.end:.0f}%)  "
                f"offered {offered}  delivered {delivered} ({rate:,.0f}/s wall)  "
                f"dropped {dropped}")
        if self.tty:
            print(f"\r{line}", end="", file=sys.stderr)
        else:
            self.say(line)
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            print(file=sys.stderr)


def screen_summary(s: dict, out: str, wall: float) -> str:
    lines = [f"softnet: {fmt_ns(s['duration_ns'])} simulated on {s['cpus']} CPUs "
             f"({s['nic']}, kernel {s['kernel']}) in {wall:.1f} s → {out}",
             f"  offered {s['offered']} ({s['offered_pps']:,.0f} pps)  delivered "
             f"{s['delivered']}" + (f"  forwarded {s['forwarded']}" if "forwarded" in s else "")
             + f"  dropped {sum(s['drops'].values())}  in flight "
             f"{s['in_flight']}  — books balance"]
    for stage, n in s["drops"].items():
        lines.append(f"    drop {stage}: {n}   [{s['drop_counters'][stage]}]")
    if s.get("senders"):
        lines.append(f"  sent {s['sent']}  on wire {s['on_wire']}  TX dropped "
                     f"{sum(s['tx_drops'].values())}  TX in flight {s['tx_in_flight']}"
                     "  — TX books balance")
        for stage, n in s["tx_drops"].items():
            lines.append(f"    TX drop {stage}: {n}   [{s['tx_drop_counters'][stage]}]")
    g = s.get("gro", {})
    if g.get("merged"):
        lines.append(f"  GRO: {g['wire_packets']} wire packets → {g['skbs_to_stack']} skbs to "
                     f"the stack ({g['merged']} merged into {g['super_skbs']} super-packets)")
    lines.append("  CPU   busy  hardirq  softirq  ksoftirqd   task   processed  squeezed")
    for cpu, t in s["cpu_time_ns"].items():
        sn = s["softnet"][cpu]
        d = s["duration_ns"]
        lines.append(f"  {cpu:<5} {100 * s['cpu_busy_share'][cpu]:4.0f}%  "
                     f"{100 * t['hardirq'] / d:6.1f}%  {100 * t['softirq'] / d:6.1f}%  "
                     f"{100 * t['ksoftirqd'] / d:8.1f}%  {100 * t['task'] / d:5.1f}%  "
                     f"{sn['processed']:9d}  {sn['time_squeeze']:8d}")
    if "arfs" in s:                     # which flows aRFS moved, and where
        moved = [f"{f['name']} rx-{f['rx_queue']}→rx-{f['arfs']['rx_queue']}"
                 for f in s["flows"] if f["arfs"]["queue_changes"]]
        lines.append(f"  aRFS: {s['arfs']['filters_added']} filters added, "
                     f"{s['arfs']['filters_updated']} re-aimed; moved: "
                     f"{', '.join(moved) or 'none'}")
    lat = s["latency_ns"].get("wire_to_app", {})
    if lat.get("count"):
        lines.append(f"  latency wire→app: p50 {fmt_ns(int(lat['p50']))}  p99 "
                     f"{fmt_ns(int(lat['p99']))}  max {fmt_ns(int(lat['max']))}")
    lines.append(f"  see: softnet show {out} [softnet_stat|interrupts|softirqs|snmp|dev|udp|"
                 "ethtool|qdisc]")
    return "\n".join(lines)


def _show(args) -> int:
    path = os.path.join(args.run_dir, SHOW[args.what])
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        print(f"softnet: {path}: not found (is {args.run_dir} a run directory?)",
              file=sys.stderr)
        return EXIT_INPUT
    if args.what == "summary":
        s = json.loads(text)
        print(screen_summary(s, args.run_dir, 0.0))
    else:
        sys.stdout.write(text)
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
