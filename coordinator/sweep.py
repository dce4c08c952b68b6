"""`softnet sweep [FILE] --vary KEY=v1,v2,… [--vary …] [--jobs N]`: the grid of every
combination of the varied keys, each point an ordinary `softnet run` (its own run
directory under `points/`), then one table of the knob values and each point's headline
figures (`sweep.csv`) and what was asked (`sweep.json`).

Every point is checked before anything runs, so a bad value is refused up front and
names its point. Points run as child `softnet run` processes, `--jobs` at a time; a point
that fails is recorded with its exit status and message and does not lose the others. The
sweep directory is staged beside --out and put in place whole once every point has
ended, as a run directory is; a stop signal ends every child and leaves nothing behind.

May import: the standard library and this package's modules.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor

from .config import ConfigError, apply_sets, validate
from .plot import PlotError, draw
from .rundir import MARKER
from .runfiles import Damaged, run_json

MAX_POINTS = 1000
STAGES_PREFIX = ("drop.", "tx_drop.")


# how a point ends when a signal stops it (SIGINT, SIGTERM: by the signal, or the
# shell's 128 + N from the run's own handler)
STOP_CODES = (-2, -15, 130, 143)
STOP_GRACE_S = 2.0


class SweepError(ValueError):
    """A refused --vary; the message names it and says what is allowed."""


def parse_vary(items: list[str]) -> list[tuple[str, list[str]]]:
    """`KEY=v1,v2,…` each; values as `--set` reads them (TOML, or a bare word)."""
    out: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise SweepError(f"--vary {item!r}: give KEY=VALUE1,VALUE2,… "
                             "(e.g. --vary flows.0.rate=100kpps,200kpps)")
        vals = split_values(values)
        if any(not v for v in vals):
            raise SweepError(f"--vary {item!r}: an empty value (a stray comma?)")
        if len(set(vals)) != len(vals):
            raise SweepError(f"--vary {item!r}: a value is given twice")
        if key in (k for k, _ in out):
            raise SweepError(f"--vary {key}: the key is varied twice; give its values in "
                             "one --vary")
        out.append((key, vals))
    if not out:
        raise SweepError("give at least one --vary KEY=VALUE1,VALUE2,…")
    return out


def split_values(text: str) -> list[str]:
    """The values of a --vary, split at the commas outside brackets, braces and quotes,
    so a value may be a list or a table: `["1ms", "2ms"],["2ms", "3ms"]`."""
    vals, cur, depth, quote = [], [], 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            vals.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    vals.append("".join(cur).strip())
    return vals


def grid(vary: list[tuple[str, list[str]]]) -> list[list[tuple[str, str]]]:
    pts = [list(zip([k for k, _ in vary], combo))
           for combo in itertools.product(*(vals for _, vals in vary))]
    if len(pts) > MAX_POINTS:
        raise SweepError(f"the grid has {len(pts)} points; a sweep runs at most "
                         f"{MAX_POINTS}")
    return pts


def check_points(raw: dict, sets: list[str], pts: list[list[tuple[str, str]]],
                 base_dir: str | None = None) -> None:
    """Validate every point before anything runs (ConfigError naming the point)."""
    for i, pt in enumerate(pts):
        try:
            validate(apply_sets(raw, sets + [f"{k}={v}" for k, v in pt]), base_dir)
        except ConfigError as e:
            desc = ", ".join(f"{k}={v}" for k, v in pt)
            raise ConfigError(f"sweep point {i} ({desc}): {e}") from None


class Children:
    """The point processes alive now, so a stop can end every one of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopping = False

    def run(self, argv: list[str]) -> tuple[int, str]:
        with self.lock:
            if self.stopping:
                return -1, "not started: the sweep was stopped"
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
            self.procs.add(p)
        try:
            _, err = p.communicate()
        finally:
            with self.lock:
                self.procs.discard(p)
        return p.returncode, err

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for p in procs:
            p.terminate()                  # each child stops its own LP processes
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def point_argv(file: str | None, sets: list[str], out: str, mode: str) -> list[str]:
    argv = [sys.executable, "-m", "softnet.coordinator", "run"]
    if file is not None:
        argv.append(file)
    for s in sets:
        argv += ["--set", s]
    return argv + ["--out", out, "--mode", mode, "--quiet"]


def headline(s: dict) -> dict:
    """The figures of one run that a sweep's table shows."""
    lat = s["latency_ns"].get("wire_to_app", {})
    row = {"offered": s["offered"], "delivered": s["delivered"],
           "forwarded": s.get("forwarded", 0), "dropped": sum(s["drops"].values()),
           "in_flight": s["in_flight"], "offered_pps": s["offered_pps"],
           "delivered_pps": s["delivered_pps"],
           "latency_p50_ns": lat.get("p50", ""), "latency_p99_ns": lat.get("p99", ""),
           "sent": s.get("sent", 0), "on_wire": s.get("on_wire", 0),
           "tx_dropped": sum(s.get("tx_drops", {}).values())}
    ctx: dict[str, int] = {}
    for t in s["cpu_time_ns"].values():
        for k, v in t.items():
            ctx[k] = ctx.get(k, 0) + v
    for k, v in ctx.items():
        row[f"{k}_ns"] = v
    for c, share in s["cpu_busy_share"].items():
        row[f"busy.{c}"] = share
    for stage, n in s["drops"].items():
        row[f"drop.{stage}"] = n
    for stage, n in s.get("tx_drops", {}).items():       # a stage may be in both books
        row[f"tx_drop.{stage}"] = n
    return row


def _cell(text: str) -> str:
    """A knob's value as the table shows it: a TOML string without its quotes (3.13, not
    "3.13", which csv would quote again), anything else as it was given."""
    try:
        v = tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return text
    return v if isinstance(v, str) else text


def table(vary, pts, results) -> str:
    keys = [k for k, _ in vary]
    fixed = ["point", "dir", *keys, "status"]
    extra: list[str] = []
    for res in results:
        for c in res.get("figures", {}):
            if c not in extra:
                extra.append(c)
    # the drop stages after the other figures, in name order
    extra = [c for c in extra if not c.startswith(STAGES_PREFIX)] + \
        sorted(c for c in extra if c.startswith(STAGES_PREFIX))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fixed + extra)
    for i, (pt, res) in enumerate(zip(pts, results)):
        figs = res.get("figures", {})
        dropped = {c: 0 for c in extra if c.startswith(STAGES_PREFIX)} if figs else {}
        w.writerow([i, res["dir"], *(_cell(v) for _, v in pt), res["status"],
                    *({**dropped, **figs}.get(c, "") for c in extra)])
    return buf.getvalue()


def _plot(sweep_dir: str, y: str, say) -> None:
    """sweep.png (next to sweep.csv): `y` against the first swept key, when matplotlib is
    there."""
    try:
        draw(sweep_dir, ["sweep"], sweep_dir, "png", None, y)
    except (PlotError, Damaged) as e:
        # the table is what matters: a figure that cannot be drawn loses nothing else
        say(f"sweep: no sweep.png: {e}")


class LocalRunner:
    """Runs points as child `softnet run` processes on this host."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.children = Children()

    def run(self, sets: list[str], mode: str, dest: str) -> tuple[int, str]:
        return self.children.run(point_argv(self.file, sets, dest, mode))

    def stop(self) -> None:
        self.children.stop()


def run_sweep(file: str | None, sets: list[str], vary, pts: list, rundir, jobs: int,
              mode: str, say, plot_y: str = "delivered", runner=None) -> int:
    """Run every point (`pts`, the grid of `vary`) into a staging directory, write the
    table, put it in place. Returns the number of points that failed. `runner`: where
    points run (LocalRunner by default; coordinator.cluster.ClusterRunner for a Dask
    cluster)."""
    tmp = rundir.stage()
    runner = runner or LocalRunner(file)
    pool = ThreadPoolExecutor(max_workers=jobs)
    stopping = threading.Event()             # set by a stop: what ends then is not a failure
    try:
        os.makedirs(os.path.join(tmp, "points"))
        width = len(str(len(pts) - 1))
        dirs = [os.path.join("points", f"{i:0{width}d}") for i in range(len(pts))]
        results: list[dict] = [{} for _ in pts]
        done = [0]
        lock = threading.Lock()
        t0 = time.perf_counter()

        def one(i: int) -> None:
            pt = pts[i]
            code, err = runner.run(sets + [f"{k}={v}" for k, v in pt], mode,
                                   os.path.join(tmp, dirs[i]))
            if code in STOP_CODES and not stopping.is_set():
                # a Ctrl-C reaches the points with the sweep: its stop may be a moment
                # behind the point's end
                stopping.wait(STOP_GRACE_S)
            if stopping.is_set():
                return                     # ended by the stop: not a failure of its own
            res = {"dir": dirs[i]}
            if code == 0:
                try:
                    res["figures"] = headline(run_json(os.path.join(tmp, dirs[i]),
                                                       "summary.json"))
                    res["status"] = "ok"
                except (Damaged, KeyError, TypeError) as e:
                    res["status"] = f"failed: unreadable summary ({e})"
            else:
                why = (err.strip().splitlines() or [""])[-1]
                res["status"] = f"failed: exit {code}" + (f": {why}" if why else "")
            results[i] = res
            with lock:
                done[0] += 1
                desc = ", ".join(f"{k}={v}" for k, v in pt)
                figs = res.get("figures")
                what = (f"offered {figs['offered']}, delivered {figs['delivered']}, "
                        f"dropped {figs['dropped']}" if figs else res["status"])
                say(f"sweep: [{done[0]}/{len(pts)}] {desc}: {what} "
                    f"({time.perf_counter() - t0:.1f} s)")

        futures = [pool.submit(one, i) for i in range(len(pts))]
        for f in futures:
            f.result()
        with open(os.path.join(tmp, "sweep.csv"), "w") as f:
            f.write(table(vary, pts, results))
        with open(os.path.join(tmp, "sweep.json"), "w") as f:
            json.dump({"file": file, "set": sets, "vary": [[k, v] for k, v in vary],
                       "mode": mode,
                       "points": [{"dir": res["dir"], "set": [f"{k}={v}" for k, v in pt],
                                   "status": res["status"]}
                                  for pt, res in zip(pts, results)]}, f, indent=1)
            f.write("\n")
        _plot(tmp, plot_y, say)
        with open(os.path.join(tmp, MARKER), "w") as f:
            f.write("softnet sweep directory: `softnet sweep --force` may replace it\n")
    except BaseException:
        stopping.set()
        runner.stop()                      # no point starts now; the running ones end
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pool.shutdown()
    runner.stop()
    rundir.swap_in(tmp)
    return sum(1 for res in results if res["status"] != "ok")
