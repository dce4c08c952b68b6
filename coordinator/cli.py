"""The `softnet` command line.

  softnet run [FILE] [--set KEY=VALUE]… [--out DIR] [--force] [--mode process|inline]
              [--seed N] [--duration 50ms] [--quantum Q] [--interval TIME|auto] [--pcap wire,host]
              [--trace] [--ftrace] [--quiet]
  softnet validate FILE [--set KEY=VALUE]…
  softnet show RUN_DIR [summary|softnet_stat|interrupts|softirqs|snmp|netstat|dev|udp|stat|
                        uptime|ethtool|qdisc]
  softnet sweep [FILE] --vary KEY=V1,V2,… [--vary …] [--set KEY=VALUE]… [--jobs N]
                [--out DIR] [--force] [--mode inline|process] [--scheduler ADDRESS]
  softnet plot DIR [cpu|drops|irq|latency|timeline|sweep]… [--out DIR] [--format png|svg]
               [--x KEY] [--y FIGURE]
  softnet diff RUN_A RUN_B [--all] [--json]

Exit codes: 0 success; 1 `diff` found a difference; 2 refused input (a bad key or value, an --out that cannot be used, a
damaged run directory); 3 a process failed; 4 the books did not balance; 128 + N when
stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from importlib import metadata

from softnet.engine.units import UnitError, fmt_ns, parse_duration

from .compare import as_json, compare, differs, render
from .config import ConfigError, apply_sets, load_file, validate
from .entry import Interrupted, entry, say_last
from .launch import (DEFAULT_TRANSPORT, TRANSPORTS, LPFailed, run_inline_mode,
                     run_process_mode)
from .plot import OPTIONAL_PLOTS, RUN_PLOTS, PlotError, draw
from .progress import Progress
from .results import Unbalanced, assemble
from .rundir import OutBusy, OutError, RunDir
from .runfiles import Damaged, run_json, run_text
from .sweep import SweepError, check_points, grid, parse_vary, run_sweep
from .topology import plan

EXIT_DIFFERS, EXIT_INPUT, EXIT_PROCESS, EXIT_BOOKS = 1, 2, 3, 4

SHOW = {"summary": "summary.json", "softnet_stat": "proc/net/softnet_stat",
        "interrupts": "proc/interrupts", "softirqs": "proc/softirqs", "snmp": "proc/net/snmp",
        "netstat": "proc/net/netstat", "dev": "proc/net/dev", "udp": "proc/net/udp",
        "stat": "proc/stat", "uptime": "proc/uptime", "ethtool": "ethtool_S.txt",
        "qdisc": "tc_qdisc.txt"}


def _version() -> str:
    try:
        return metadata.version("softnet")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _ascii_int(text: str) -> int:
    """An integer as the kernel's and the tools' parsers read one: ASCII digits only."""
    if not re.fullmatch(r"[0-9]{1,19}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: an integer of ASCII digits")
    return int(text)


# the flags that stand for a --set: (argument, key); a switch sets its key to true
SHORTCUTS = (("seed", "seed"), ("duration", "duration"), ("quantum", "quantum"),
             ("interval", "observe.interval"), ("pcap", "observe.pcap"),
             ("trace", "observe.trace"), ("ftrace", "observe.ftrace"))


def _sets(args) -> list[str]:
    """--set items, then the shortcuts a command has and was given."""
    sets = list(args.set)
    for attr, key in SHORTCUTS:
        v = getattr(args, attr, None)
        if v is not None and v is not False:
            sets.append(f"{key}={json.dumps(v)}")
    return sets


def _plot_name(text: str) -> str:
    allowed = (*RUN_PLOTS, *OPTIONAL_PLOTS, "sweep")
    if text not in allowed:
        raise argparse.ArgumentTypeError(f"{text!r}: one of {', '.join(allowed)}")
    return text


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="softnet", description="Simulate the Linux kernel's network packet path on a "
        "multi-core host: one OS process per simulated CPU, deterministic simulated time.",
        epilog="Exit codes: 0 ok, 2 refused input, 3 a process failed, 4 books unbalanced, "
        "128+N stopped by signal N. `softnet COMMAND -h` for a command's options.")
    ap.add_argument("--version", action="version", version=f"softnet {_version()}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    run = sub.add_parser("run", help="run an experiment (the built-in default without FILE)",
                         description="Run an experiment and write its run directory.")
    run.add_argument("file", nargs="?", metavar="FILE",
                     help="experiment file (TOML); without it, the built-in default")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a key: nic.rx_ring=512, flows.0.rate=1Mpps, "
                          "net.core.netdev_budget=600 (repeatable)")
    run.add_argument("--out", metavar="DIR",
                     help="run directory to write (default runs/run-DATE-TIME)")
    run.add_argument("--force", action="store_true",
                     help="replace DIR if it is a softnet run directory (only once the new "
                          "one is complete)")
    run.add_argument("--mode", choices=("process", "inline"), default="process",
                     help="process: one OS process per simulated CPU and the NIC (default); "
                          "inline: all in this process (same results)")
    run.add_argument("--transport", choices=TRANSPORTS, default=DEFAULT_TRANSPORT,
                     help="process mode's links between LPs on this host: pair (a socketpair "
                          "per link that spins briefly before blocking; default), shm (a "
                          "shared-memory ring per link, its socketpair as a doorbell) or zmq "
                          "(ZeroMQ PUSH/PULL over ipc://); results are identical")
    run.add_argument("--seed", type=_ascii_int, metavar="N", help="shortcut for --set seed=N")
    run.add_argument("--duration", metavar="TIME",
                     help="shortcut for --set duration=TIME, e.g. 200ms")
    run.add_argument("--quantum", metavar="Q",
                     help="relaxed synchronisation: cross-CPU deliveries rounded up to a "
                          "multiple of Q (e.g. 1us); default exact")
    run.add_argument("--interval", metavar="TIME",
                     help="write per-interval time series (CSV, under timeseries/) every "
                          "TIME of simulated time, e.g. 1ms, or auto (about 100 per run); "
                          "shortcut for --set observe.interval=TIME")
    run.add_argument("--pcap", metavar="TAPS",
                     help="write packet captures (pcap/, nanosecond pcap) at these taps, "
                          "comma-separated: wire (each port's wire both ways, as a mirror "
                          "port sees it), host (what tcpdump on the host sees: after GRO, "
                          "before TSO); shortcut for --set observe.pcap=TAPS")
    run.add_argument("--trace", action="store_true",
                     help="write trace.json, every CPU's timeline for ui.perfetto.dev; "
                          "shortcut for --set observe.trace=true")
    run.add_argument("--ftrace", action="store_true",
                     help="write ftrace.txt, the kernel functions each CPU ran in ftrace's "
                          "function_graph format; shortcut for --set observe.ftrace=true")
    run.add_argument("--quiet", action="store_true", help="no progress or summary on screen")
    run.add_argument("--fault", action="append", default=[], metavar="LP@TIME",
                     help=argparse.SUPPRESS)   # test hook: make an LP fail at a sim time
    val = sub.add_parser("validate", help="check an experiment file without running it",
                         description="Check an experiment file (and --set overrides) "
                                     "without running it.")
    val.add_argument("file", metavar="FILE", help="experiment file (TOML)")
    val.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a key, as for run (repeatable)")
    show = sub.add_parser("show", help="print a file of a run directory",
                          description="Print a file of a run directory.")
    show.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by softnet run")
    show.add_argument("what", nargs="?", default="summary", choices=sorted(SHOW),
                      metavar="WHAT", help=f"one of: {', '.join(sorted(SHOW))} "
                      "(default summary)")
    sw = sub.add_parser("sweep", help="run a grid of experiments varying some keys",
                        description="Run every combination of the --vary values, each an "
                        "ordinary run (its run directory under points/), and write one table "
                        "(sweep.csv) of the knob values and each point's headline figures. "
                        "Exit 0 when every point ran, 3 when some failed (they are in the "
                        "table), 2 for refused input.")
    sw.add_argument("file", nargs="?", metavar="FILE",
                    help="experiment file (TOML); without it, the built-in default")
    sw.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2,…",
                    help="a key and its values, e.g. flows.0.rate=100kpps,400kpps "
                         "(repeatable: the grid is every combination)")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key in every point, as for run (repeatable)")
    sw.add_argument("--duration", metavar="TIME", help="shortcut for --set duration=TIME")
    sw.add_argument("--out", metavar="DIR",
                    help="sweep directory to write (default sweeps/sweep-DATE-TIME)")
    sw.add_argument("--force", action="store_true",
                    help="replace DIR if it is a softnet sweep or run directory")
    sw.add_argument("--jobs", type=_ascii_int, metavar="N",
                    help="points run at once (default: the cores this process may use)")
    sw.add_argument("--mode", choices=("process", "inline"), default="inline",
                    help="each point's mode (default inline: the points themselves run in "
                         "parallel)")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the points on a Dask cluster (tcp://HOST:8786; softnet installed "
                         "on its workers; pip install 'softnet[cluster]')")
    sw.add_argument("--plot", metavar="FIGURE", default="delivered",
                    help="the figure of sweep.csv that sweep.png draws against the first "
                         "swept key (default delivered; needs matplotlib)")
    sw.add_argument("--quiet", action="store_true", help="no line per point on screen")
    pl = sub.add_parser("plot", help="draw a run's (or a sweep's) figures",
                        description="Draw figures of a run directory (cpu, drops, irq: from "
                        "its time series, run with --interval; latency: from summary.json) "
                        "or of a sweep directory (sweep: --y against --x). Needs "
                        "matplotlib: pip install 'softnet[plot]'.")
    pl.add_argument("target", metavar="DIR", help="a run or sweep directory")
    pl.add_argument("what", nargs="*", type=_plot_name, metavar="WHAT",
                    help=f"any of: {', '.join(RUN_PLOTS)} (a run; default all), "
                         f"{', '.join(OPTIONAL_PLOTS)} (a run with --trace), sweep (a sweep)")
    pl.add_argument("--out", metavar="DIR", help="where to write (default DIR/plots)")
    pl.add_argument("--format", choices=("png", "svg"), default="png")
    pl.add_argument("--x", metavar="KEY", help="sweep: the swept key along x (default the "
                    "first)")
    pl.add_argument("--y", metavar="FIGURE", help="sweep: the figure of sweep.csv to draw "
                    "(default delivered)")
    dif = sub.add_parser("diff", help="what changed between two run directories",
                         description="Compare two run directories: the experiment's keys, "
                         "then the figures of summary.json and the counters (ethtool -S, "
                         "/proc/net/snmp, netstat, softnet_stat) side by side with deltas. "
                         "Exit 0 when nothing differs, 1 when something does, 2 when a "
                         "directory cannot be read.")
    dif.add_argument("run_a", metavar="RUN_A", help="a directory written by softnet run")
    dif.add_argument("run_b", metavar="RUN_B", help="another one")
    dif.add_argument("--all", action="store_true", help="list equal keys too")
    dif.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.cmd is None:
        ap.print_help(sys.stderr)
        return EXIT_INPUT
    if args.cmd == "show":
        return _show(args)
    if args.cmd == "diff":
        return _diff(args)
    if args.cmd == "sweep":
        return _sweep(args)
    if args.cmd == "plot":
        return _plot(args)
    try:
        raw = load_file(args.file)
        sets = _sets(args)
        r = validate(apply_sets(raw, sets), _base_dir(args.file))
        p = plan(r)
        fault = _faults(args, p) if args.cmd == "run" else {}
    except ConfigError as e:
        print(f"softnet: config error: {e}", file=sys.stderr)
        return EXIT_INPUT
    if args.cmd == "validate":
        print(f"{args.file}: ok ({_n(r['cpus'], 'CPU')}, {r['nic']['model']} with "
              f"{_n(r['nic']['combined'], 'queue')}, {_n(len(r['flows']), 'flow')}, "
              f"{_n(len(r['apps']), 'app')})")
        for n in p.notes:
            print(f"note: {n}")
        return 0
    return _run(args, r, p, fault)


def _n(k: int, what: str) -> str:
    return f"{k} {what}" if k == 1 else f"{k} {what}s"


def _faults(args, p) -> dict[str, int]:
    """--fault LP@TIME (a test hook): that LP fails when it reaches TIME."""
    names = [s["name"] for s in p.lps]
    fault = {}
    for item in args.fault:
        name, at, t = item.partition("@")
        if not at or name not in names:
            raise ConfigError(f"--fault {item!r}: LP@TIME with LP one of {', '.join(names)}")
        try:
            fault[name] = parse_duration(int(t) if t.isascii() and t.isdigit() else t,
                                         "--fault")
        except UnitError:
            raise ConfigError(f"--fault {item!r}: TIME is a simulated time in ns or a "
                              "duration such as 1ms") from None
    if fault and args.mode != "process":
        raise ConfigError("--fault: only with --mode process (it makes an LP process fail)")
    return fault


def _claim(out: str | None, force: bool, kind: str = "run") -> RunDir:
    """Claim --out, or the next free runs/run-DATE-TIME[-N] (sweeps/sweep-…) when none
    was given."""
    if out is not None:
        return RunDir(out, force).claim()
    base = os.path.join(f"{kind}s", time.strftime(f"{kind}-%Y%m%d-%H%M%S"))
    for k in range(1, 1000):
        name = base if k == 1 else f"{base}-{k}"
        if os.path.lexists(name):
            continue
        try:
            return RunDir(name, False).claim()
        except OutBusy:
            continue                        # a run started in the same second has it
    raise OutError(f"--out: no free name like {base}-N; give --out")


def _run(args, r: dict, p, fault: dict[str, int]) -> int:
    def say(*a) -> None:
        if not args.quiet:
            print(*a, file=sys.stderr)
    progress = Progress(r["duration_ns"], receives=bool(r["flows"]),
                        sends=any(a.get("sender") for a in r["apps"]), enabled=not args.quiet)
    try:
        rundir = _claim(args.out, args.force)
    except OutError as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    try:
        with rundir:                     # from here on the lock is released on any way out
            out = args.out or os.path.relpath(rundir.out)
            if args.file is None:
                say(f"softnet: no experiment file given: running the built-in default "
                    f"experiment ({r['cpus']} CPUs, {r['nic']['model']} with "
                    f"{_n(r['nic']['combined'], 'queue')}, {_n(len(r['flows']), 'UDP flow')}, "
                    f"one server on CPU 0)")
            for n in p.notes:
                say(f"note: {n}")
            if r["quantum_ns"]:
                say(f"note: relaxed synchronisation: cross-CPU deliveries rounded up to "
                    f"multiples of {r['quantum_ns']} ns (timing error up to that much per hop)")
            return _simulate(args, r, p, fault, rundir, progress, say, out)
    except Interrupted as e:
        out = args.out or os.path.relpath(rundir.out)
        wrote = (f"the run directory {out} is complete" if rundir.committed else
                 f"nothing was written to {out}")
        _end(progress, f"softnet: stopped by {e.signame}: every LP process ended; {wrote}")
        return e.exit_code


def _end(progress: Progress, line: str) -> None:
    """Close the progress line and say one last thing; the terminal may have gone (EIO)."""
    try:
        progress.done()
    except OSError:
        pass
    say_last(line)


def _simulate(args, r: dict, p, fault, rundir: RunDir, progress: Progress, say,
              out: str) -> int:
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
                    f" (not pinned: {len(pl)} processes take turns on "
                    f"{len(os.sched_getaffinity(0))} cores; each hand-over between them waits "
                    "for a wake-up and none spins; --mode inline may be faster)"))
            results, info = run_process_mode(p.lps, r["duration_ns"], progress.update,
                                             started, fault, (rundir.lock_path,),
                                             args.transport)
        else:
            results, info = run_inline_mode(p.lps, r["duration_ns"], progress.update)
    except LPFailed as e:
        _end(progress, f"softnet: {e.name} process {e.why}")
        return EXIT_PROCESS
    wall = time.perf_counter() - t0
    try:
        progress.done()
    except OSError:
        pass
    try:
        assembled = assemble(r, p, results)
    except Unbalanced as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_BOOKS
    engine = {"mode": args.mode, "quantum_ns": r["quantum_ns"], "wall_s": round(wall, 3),
              **({"transport": args.transport} if args.mode == "process" else {}), **info,
              "processes": {n: res.get("engine", {}) for n, res in results.items()}}
    try:
        rundir.commit(r, assembled, engine)
    except OutError as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as e:
        print(f"softnet: --out {rundir.out}: could not write the results: {e}; nothing was "
              "left half-written", file=sys.stderr)
        return EXIT_INPUT
    if not args.quiet:
        print(screen_summary(assembled["summary"], out, wall))
    return 0


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
    lines.append(f"  see: softnet show {out} [softnet_stat|interrupts|softirqs|snmp|netstat|"
                 "dev|udp|stat|uptime|ethtool|qdisc]")
    return "\n".join(lines)


def _show(args) -> int:
    rel = SHOW[args.what]
    path = os.path.join(args.run_dir, rel)
    try:
        if args.what == "summary":
            text = _summary_text(path, args.run_dir)
        else:
            text = run_text(args.run_dir, rel)
    except Damaged as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    sys.stdout.write(text)
    return 0


def _base_dir(file: str | None) -> str | None:
    """The experiment file's directory: a profile file it names is relative to it."""
    return os.path.dirname(os.path.abspath(file)) if file else None


def _sweep(args) -> int:
    def say(*a) -> None:
        if not args.quiet:
            print(*a, file=sys.stderr)
    try:
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs: at least 1")
        vary = parse_vary(args.vary)
        raw = load_file(args.file)
        sets = _sets(args)
        base = validate(apply_sets(raw, sets), _base_dir(args.file))
        pts = grid(vary)
        check_points(raw, sets, pts, _base_dir(args.file))
        if args.scheduler is not None and base["_profile_path"] and \
                any(k == "profile" for k, _ in vary):
            raise SweepError("--vary profile with a profile file runs here only: a "
                             "cluster's workers get the experiment and one profile file")
    except (ConfigError, SweepError) as e:
        print(f"softnet: config error: {e}", file=sys.stderr)
        return EXIT_INPUT
    runner = None
    if args.scheduler is not None:
        from .cluster import ClusterError, ClusterRunner     # only for a Dask cluster
        try:
            runner = ClusterRunner(args.scheduler, args.file, base["_profile_bytes"])
        except ClusterError as e:
            print(f"softnet: {e}", file=sys.stderr)
            return EXIT_INPUT
    jobs = args.jobs or (runner.threads() if runner else len(os.sched_getaffinity(0)))
    try:
        rundir = _claim(args.out, args.force, "sweep")
    except OutError as e:
        if runner is not None:
            runner.stop()
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    with rundir:
        npts = len(pts)
        where = f"on {args.scheduler}" if runner else "here"
        say(f"softnet: sweep of {npts} points, {min(jobs, npts)} at a time {where} "
            f"({args.mode} mode)")
        failed = run_sweep(args.file, sets, vary, pts, rundir, jobs, args.mode, say,
                           args.plot, runner)
    out = args.out or os.path.relpath(rundir.out)
    if failed:
        print(f"softnet: {failed} of {npts} points failed (see {out}/sweep.csv)",
              file=sys.stderr)
        return EXIT_PROCESS
    say(f"softnet: the table is {out}/sweep.csv")
    return 0


def _plot(args) -> int:
    try:
        paths = draw(args.target, args.what, args.out, args.format, args.x, args.y)
    except (PlotError, Damaged) as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    for p in paths:
        print(p)
    return 0


def _diff(args) -> int:
    try:
        result = compare(args.run_a, args.run_b)
    except Damaged as e:
        print(f"softnet: {e}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        sys.stdout.write(json.dumps(as_json(result, args.all), indent=1) + "\n")
    else:
        sys.stdout.write(render(result, args.run_a, args.run_b, args.all))
    return EXIT_DIFFERS if differs(result) else 0


def _summary_text(path: str, run_dir: str) -> str:
    s = run_json(run_dir, SHOW["summary"])
    try:
        return screen_summary(s, run_dir, 0.0) + "\n"
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as e:
        what = f"lacks {e}" if isinstance(e, KeyError) else f"has a value of the wrong kind ({e})"
        raise Damaged(f"{path}: damaged or from another softnet version: it {what}") from None


if __name__ == "__main__":
    entry()
