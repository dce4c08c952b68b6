"""Progress of a run on screen: simulated time, share done, what the run has offered,
delivered, dropped, sent and put on the wire, simulated packets per wall-second and an ETA.

Shown for runs longer than ~2 s of wall time. On a terminal it is one live line drawn by
rich; elsewhere (a log, CI) a plain line every few seconds. The figures come from every
LP's `progress()` report and are the same in both engine modes: the simulated time shown
is the least any LP has reached, so nothing is counted ahead of it.

May import: the standard library, rich, `engine.units`.
"""

from __future__ import annotations

import sys
import time

from softnet.engine.units import fmt_ns

SHOW_AFTER_S = 2.0        # runs shorter than this show nothing
PLAIN_EVERY_S = 5.0       # a plain line this often when not on a terminal


def _si(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def _dur_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


class Progress:
    def __init__(self, end_ns: int, receives: bool, sends: bool, enabled: bool = True,
                 stream=None) -> None:
        self.end = end_ns
        self.receives, self.sends = receives, sends
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()
        self.last = 0.0
        self._live = None            # rich.progress.Progress once shown on a terminal
        self._task = None

    def fields(self, prog: dict[str, dict], now: float) -> dict:
        """The figures of one moment, summed over the LPs' reports."""
        def total(k: str) -> int:
            return sum(v.get(k, 0) for v in prog.values())
        t = min((v.get("t", 0) for v in prog.values()), default=0)
        t = max(0, min(t, self.end))
        wall = now - self.t0
        f = {"t": t, "share": t / self.end if self.end else 1.0, "wall": wall,
             "offered": total("offered"), "delivered": total("delivered"),
             "dropped": total("dropped"), "sent": total("sent"), "on_wire": total("on_wire")}
        f["pps"] = (f["offered"] + f["sent"]) / wall if wall > 0 else 0.0
        f["eta"] = wall * (self.end - t) / t if t > 0 else None
        return f

    def text(self, f: dict) -> str:
        parts = []
        if self.receives:
            parts.append(f"offered {_si(f['offered'])}  delivered {_si(f['delivered'])}  "
                         f"dropped {_si(f['dropped'])}")
        if self.sends:
            parts.append(f"sent {_si(f['sent'])}  on wire {_si(f['on_wire'])}")
        parts.append(f"{_si(f['pps'])} pkt/s wall")
        return "  ".join(parts)

    def update(self, prog: dict[str, dict]) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.t0 < SHOW_AFTER_S:
            return
        f = self.fields(prog, now)
        if self.tty:
            self._draw(f)
        elif now - self.last >= PLAIN_EVERY_S:
            self.last = now
            eta = f"ETA {_dur_s(f['eta'])}" if f["eta"] is not None else "ETA ?"
            print(f"t={fmt_ns(f['t'])}/{fmt_ns(self.end)} ({100 * f['share']:.0f}%)  "
                  f"{self.text(f)}  {eta}", file=self.stream, flush=True)

    def _draw(self, f: dict) -> None:
        if self._live is None:
            from rich.console import Console
            from rich.progress import (BarColumn, Progress as Bar, TaskProgressColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self._live = Bar(TextColumn("{task.description}"), BarColumn(),
                             TaskProgressColumn(), TextColumn("{task.fields[figures]}"),
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                             console=Console(file=self.stream), transient=False)
            self._live.start()
            self._task = self._live.add_task("", total=self.end, figures="")
        self._live.update(self._task, completed=f["t"], figures=self.text(f),
                          description=f"t={fmt_ns(f['t'])}/{fmt_ns(self.end)}")

    def done(self) -> None:
        """Leave the last line on screen and the cursor below it."""
        if self._live is not None:
            self._live.stop()
            self._live = None
