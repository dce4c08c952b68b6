"""Inline mode: every LP in this one process, frames passed through lists.

Same `SyncDriver`, same frames, same order of execution inside each LP as process mode:
only the transport differs, so results are byte-identical. It is the baseline that the
parallel speed-up is measured against, and the mode tests and debugging use.
"""

from __future__ import annotations

import time
from typing import Callable

from .lp import Frame, LogicalProcess, SyncDriver


class Deadlock(RuntimeError):
    pass


def run_inline(lps: list[LogicalProcess], end: int,
               on_progress: Callable[[dict[str, dict]], None] | None = None,
               progress_every: float = 0.5) -> dict[str, dict]:
    drivers = [SyncDriver(lp, end) for lp in lps]
    inbox: dict[str, list[Frame]] = {d.lp.name: [] for d in drivers}
    last_report = time.perf_counter()
    while not all(d.done for d in drivers):
        moved = False
        for d in drivers:
            box = inbox[d.lp.name]
            if box:
                for f in box:
                    d.apply(f)
                box.clear()
                moved = True
            if d.done:
                continue
            before = d.advanced_to
            for dst, f in d.step():
                inbox[dst].append(f)
                moved = True
            moved |= d.advanced_to > before
        if not moved:
            stuck = {d.lp.name: d.safe_time() for d in drivers if not d.done}
            raise Deadlock(f"no LP can advance; safe times: {stuck}")
        if on_progress is not None:
            now = time.perf_counter()
            if now - last_report >= progress_every:
                last_report = now
                on_progress({d.lp.name: {"t": d.advanced_to, **d.lp.progress()} for d in drivers})
    if on_progress is not None:         # the last word, as each LP process gives it
        on_progress({d.lp.name: {"t": d.advanced_to, **d.lp.progress()} for d in drivers})
    results = {}
    for d in drivers:
        r = d.lp.result()
        r["engine"] = {"rounds": d.rounds, "wait_s": 0.0}
        results[d.lp.name] = r
    return results
