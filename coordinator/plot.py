"""`softnet plot RUN [what]`: the figures users draw by hand from a run directory (its
time series and summary) or a sweep directory (its table), as PNG or SVG, with
matplotlib (the optional extra `pip install softnet[plot]`).

  cpu      per-CPU time stacked by context over time        (timeseries/cpu.csv)
  drops    drops by stage over time                          (timeseries/drops.csv)
  irq      interrupt rate against packet rate, per RX queue  (timeseries/queue.csv)
  latency  latency percentiles per stage                     (summary.json)
  timeline each CPU's tracks and the kernel functions on them (trace.json; --trace)
  sweep    a figure of sweep.csv against a swept key         (--x KEY --y FIGURE)

May import: the standard library, matplotlib (only when drawing) and this package's
modules.
"""

from __future__ import annotations

import csv
import os

from .runfiles import Damaged, run_json, run_text

RUN_PLOTS = ("cpu", "drops", "irq", "latency")
OPTIONAL_PLOTS = ("timeline",)             # drawn only when asked for: needs --trace
CONTEXTS = ("hardirq", "softirq", "ksoftirqd", "task")
STAGES = ("wire_to_dma", "dma_to_poll", "poll_to_protocol", "protocol_to_socket",
          "socket_to_app", "wire_to_app")
QUANTILES = ("p50", "p90", "p99", "p99.9", "max")


class PlotError(ValueError):
    """Nothing to draw from what was given; the message says why and what to do."""


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError("plots need matplotlib: pip install 'softnet[plot]' (or pip "
                        "install matplotlib)") from None
    matplotlib.use("Agg")               # files only: no display needed
    import matplotlib.pyplot as plt
    return plt


def _table(run: str, rel: str, hint: str, empty_ok: bool = False) -> list[dict]:
    path = os.path.join(run, rel)
    if not os.path.lexists(path):
        raise PlotError(f"{path}: not found ({hint})")
    text = run_text(run, rel)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows and not empty_ok:
        raise PlotError(f"{path}: no rows to draw")
    return rows


def _series(run: str, name: str, empty_ok: bool = False) -> list[dict]:
    return _table(run, f"timeseries/{name}.csv",
                  "the run has no time series: run it again with --interval, e.g. "
                  "--interval auto", empty_ok)


def _number(v) -> float | None:
    """A cell as a number; None for an empty cell (a figure a point does not have)."""
    return None if v == "" else float(v)


def _ms(rows, key="t_ns") -> list[float]:
    return [int(r[key]) / 1e6 for r in rows]


def _label(fig, ax, title: str, x: str, y: str):
    ax.set_title(title)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize="small")
    return fig


def plot_cpu(plt, run: str):
    rows = _series(run, "cpu")
    cpus = sorted({int(r["cpu"]) for r in rows})
    fig, axes = plt.subplots(len(cpus), 1, sharex=True, squeeze=False,
                             figsize=(8, 1.6 + 1.4 * len(cpus)))
    for ax, c in zip(axes[:, 0], cpus):
        mine = [r for r in rows if int(r["cpu"]) == c]
        t = _ms(mine) + [int(mine[-1]["t_end_ns"]) / 1e6]    # the last step to the end
        span = [int(r["t_end_ns"]) - int(r["t_ns"]) for r in mine]
        shares = [[int(r[f"{k}_ns"]) / s for r, s in zip(mine, span)] for k in CONTEXTS]
        ax.stackplot(t, [sh + sh[-1:] for sh in shares], labels=CONTEXTS, step="post")
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"cpu{c}")
    axes[0, 0].set_title("CPU time by context (share of each interval)")
    axes[0, 0].legend(loc="upper right", fontsize="small", ncol=len(CONTEXTS))
    axes[-1, 0].set_xlabel("simulated time (ms)")
    return fig


def plot_drops(plt, run: str):
    rows = _series(run, "drops", empty_ok=True)      # a run without drops has none
    fig, ax = plt.subplots(figsize=(8, 3.5))
    stages = sorted({(r["books"], r["stage"]) for r in rows})
    for books, st in stages:
        mine = [r for r in rows if (r["books"], r["stage"]) == (books, st)]
        ax.step(_ms(mine), [int(r["packets"]) for r in mine], where="post",
                label=st if books == "rx" else f"{st} (senders)")
    if stages:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no drops", ha="center", transform=ax.transAxes)
    ax.set_title("drops by stage per interval")
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("packets")
    return fig


def plot_irq(plt, run: str):
    rows = _series(run, "queue")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for port, q in sorted({(r["port"], int(r["queue"])) for r in rows}):
        mine = [r for r in rows if (r["port"], int(r["queue"])) == (port, q)]
        secs = [(int(r["t_end_ns"]) - int(r["t_ns"])) / 1e9 for r in mine]
        pps = [int(r["packets"]) / s for r, s in zip(mine, secs)]
        ips = [int(r["interrupts"]) / s for r, s in zip(mine, secs)]
        ax.scatter(pps, ips, s=12, label=f"{port} rx-{q}")
    return _label(fig, ax, "interrupt rate against packet rate, per RX queue",
                  "packets/s taken by the driver", "interrupts/s")


def plot_latency(plt, run: str):
    s = run_json(run, "summary.json")
    lat = s.get("latency_ns", {})
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for st in STAGES:
        p = lat.get(st, {})
        if not p.get("count"):
            continue
        xs = [p[q] / 1e3 for q in QUANTILES if q in p]
        ys = [float(q[1:]) / 100 if q != "max" else 1.0 for q in QUANTILES if q in p]
        ax.plot(xs, ys, marker="o", label=st)
        drawn = True
    if not drawn:
        raise PlotError(f"{run}: no packet was delivered, so there is no latency to draw")
    ax.set_xscale("log")
    return _label(fig, ax, "latency by stage (percentiles p50, p90, p99, p99.9, max)",
                  "latency (µs)", "fraction of packets at or below")


def plot_timeline(plt, run: str):
    """Each CPU's tracks with their slices, the outermost coloured by function, the
    nested ones drawn thinner inside them (what Perfetto shows, as a still picture)."""
    path = os.path.join(run, "trace.json")
    if not os.path.lexists(path):
        raise PlotError(f"{path}: not found (run it again with --trace, e.g. with "
                        "--set 'observe.trace_window=[\"1ms\", \"1200us\"]' for a short "
                        "stretch)")
    ev = run_json(run, "trace.json", list)
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e.get("ph") == "M" and e.get("name") == "process_name" and e["pid"]}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
               if e.get("ph") == "M" and e.get("name") == "thread_name"}
    xs = [e for e in ev if e.get("ph") == "X"]
    if not xs:
        raise PlotError(f"{path}: no slices in the trace's window")
    rows = sorted({(e["pid"], e["tid"]) for e in xs})
    y = {r: i for i, r in enumerate(rows)}
    names = sorted({e["name"] for e in xs if e["args"]["depth"] == 0})
    cmap = plt.get_cmap("tab20")
    colour = {n: cmap(i % 20) for i, n in enumerate(names)}
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * len(rows)))
    for e in xs:
        d = e["args"]["depth"]
        h = 0.8 * 0.75 ** d
        if d == 0:
            ax.broken_barh([(e["ts"], e["dur"])], (y[(e["pid"], e["tid"])] - h / 2, h),
                           color=colour[e["name"]], label=e["name"])
        else:
            ax.broken_barh([(e["ts"], e["dur"])], (y[(e["pid"], e["tid"])] - h / 2, h),
                           facecolor="none", edgecolor="black", linewidth=0.3)
    ax.set_yticks(range(len(rows)),
                  [f"{procs.get(p, p)} {threads.get((p, t), t)}" for p, t in rows])
    ax.invert_yaxis()
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), fontsize="x-small", loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel("simulated time (µs)")
    ax.set_title("timeline: outermost function per context (nested calls outlined)")
    return fig


def plot_sweep(plt, sweep_dir: str, x: str | None, y: str | None):
    rows = _table(sweep_dir, "sweep.csv", "not a sweep directory: give one written by "
                  "softnet sweep")
    cols = list(rows[0])
    keys = cols[cols.index("dir") + 1:cols.index("status")]
    figures = cols[cols.index("status") + 1:]
    x = x or keys[0]
    y = y or "delivered"
    if x not in keys:
        raise PlotError(f"--x {x}: not a swept key; swept: {', '.join(keys)}")
    if y not in figures:
        raise PlotError(f"--y {y}: not a figure of sweep.csv; figures: {', '.join(figures)}")
    ok = [r for r in rows if r["status"] == "ok"]
    others = [k for k in keys if k != x]
    fig, ax = plt.subplots(figsize=(7, 4))
    groups: dict[tuple, list] = {}
    for r in ok:
        groups.setdefault(tuple(r[k] for k in others), []).append(r)
    order = {v: i for i, v in enumerate(dict.fromkeys(r[x] for r in rows))}
    drawn = False
    for g, rs in groups.items():
        rs = sorted((r for r in rs if _number(r[y]) is not None), key=lambda r: order[r[x]])
        label = ", ".join(f"{k}={v}" for k, v in zip(others, g)) or None
        ax.plot([order[r[x]] for r in rs], [_number(r[y]) for r in rs], marker="o",
                label=label)
        drawn = drawn or bool(rs)
    if not drawn:
        raise PlotError(f"--y {y}: no point has that figure (no packet was read, say)")
    ax.set_xticks(list(order.values()), list(order))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} against {x}")
    if others:
        ax.legend(fontsize="small")
    return fig


def draw(target: str, what: list[str], out_dir: str | None, fmt: str,
         x: str | None = None, y: str | None = None) -> list[str]:
    """Draw each of `what` into out_dir (default TARGET/plots); the paths written."""
    if not os.path.isdir(target):
        raise Damaged(f"{target}: not a directory (give a run or sweep directory)")
    is_sweep = os.path.lexists(os.path.join(target, "sweep.csv"))
    if not what:
        what = ["sweep"] if is_sweep else list(RUN_PLOTS)
    for w in what:
        if w == "sweep" and not is_sweep:
            raise PlotError(f"{target}: not a sweep directory (it has no sweep.csv)")
        if w != "sweep" and is_sweep:
            raise PlotError(f"{target}: a sweep directory; plot one of its points "
                            f"({target}/points/N) or draw `sweep`")
    plt = pyplot()
    out_dir = out_dir or os.path.join(target, "plots")
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise PlotError(f"--out {out_dir}: exists and is not a directory")
    figs = []
    for w in what:
        try:
            if w == "sweep":
                figs.append((w, plot_sweep(plt, target, x, y)))
            else:
                figs.append((w, {"cpu": plot_cpu, "drops": plot_drops, "irq": plot_irq,
                                 "latency": plot_latency,
                                 "timeline": plot_timeline}[w](plt, target)))
        except PlotError:
            raise                               # what the figure itself says is missing
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
            # a file softnet did not write, or wrote in another version
            what_ = f"lacks {e}" if isinstance(e, KeyError) else f"has a bad value ({e})"
            raise Damaged(f"{target}: cannot draw {w}: a file it reads {what_}") from None
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise PlotError(f"--out {out_dir}: cannot be created: {e.strerror}") from None
    paths = []
    for w, fig in figs:
        path = os.path.join(out_dir, f"{w}.{fmt}")
        fig.tight_layout()
        # no timestamps in the file: the same run draws the same bytes
        fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else
                    {"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths
