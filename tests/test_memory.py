"""Memory is flat in run length (issue 9 item 4): nothing the model keeps grows per packet.

A structural check, not a measurement: run the same experiment inline for a short and a
four times longer stretch of simulated time, then walk everything each LP still holds
(its attributes, and the containers and model objects reachable from them) and compare
the number of elements in each container, by where it sits. Queues, rings, heaps and
histograms are bounded by the configuration, so they come out about the same; a list,
heap or dict that gains an entry per packet (a record kept for the books, a start time
never popped, a dict keyed by packet id) comes out about four times as long, and the test
names it. Peak RSS per duration is measured in bench/memory.py, never asserted here.
"""

from __future__ import annotations

import os
from array import array
from collections import deque

import numpy as np
import pytest

from helpers import BASIC, ROOT

from softnet.coordinator.config import apply_sets, load_file, validate
from softnet.coordinator.topology import plan
from softnet.engine.inline import run_inline
from softnet.engine.process import build_lp

ROUTER = os.path.join(ROOT, "examples", "router.toml")
SENDER = os.path.join(ROOT, "examples", "sender.toml")

SHORT_MS, LONG_MS = 20, 80
# A container may differ between the two runs by what the state at the end happens to
# hold (a ring's backlog, events in flight): allow twice the short run's size and this
# many elements more (the books fold their stamps every 2048 packets: up to 12288 held).
# Per-packet growth over the extra 60 ms is tens of thousands at these rates.
SLACK = 16384


def _sizes(lps) -> dict[str, int]:
    """Elements held per container, by the shortest attribute path to it (a container's
    elements are followed as `path[]`, a tuple's as `path()`, and summed by path)."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()
    stack = deque((lp, lp.name) for lp in lps)       # breadth first: shortest paths
    while stack:
        obj, path = stack.popleft()
        if id(obj) in seen or len(path) > 240:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, deque, set, frozenset, dict, array, bytearray, bytes)):
            sizes[path] = sizes.get(path, 0) + len(obj)
            items = list(obj.values()) if isinstance(obj, dict) else obj
            if not isinstance(obj, (array, bytearray, bytes)):
                stack.extend((v, path + "[]") for v in items)
        elif isinstance(obj, np.ndarray):
            sizes[path] = sizes.get(path, 0) + int(obj.size)
        elif isinstance(obj, tuple):
            stack.extend((v, path + "()") for v in obj)
        elif type(obj).__module__.startswith("softnet."):
            names = list(getattr(obj, "__dict__", {}))
            for klass in type(obj).__mro__:
                names += getattr(klass, "__slots__", ())
            for name in names:
                if hasattr(obj, name) and name not in ("sync", "in_links", "out_links"):
                    stack.append((getattr(obj, name), f"{path}.{name}"))
    return sizes


def _run(file, sets, ms):
    """Container sizes once every LP has run to the end, before any writes its result
    (which folds what the books still buffer)."""
    r = validate(apply_sets(load_file(file), [*sets, f'duration="{ms}ms"']))
    lps = [build_lp(s) for s in plan(r).lps]
    seen = []
    first = lps[0]
    result = first.result

    def result_after_walk():
        seen.append(_sizes(lps))
        return result()

    first.result = result_after_walk
    run_inline(lps, r["duration_ns"])
    return seen[0]


@pytest.mark.parametrize("file,sets", [
    # one RX queue at 1.4 Mpps, its datagrams handed to the reader's CPU
    (BASIC, ["flows.0.rate=1.4Mpps"]),
    # the built-in default: four flows over four queues, bursts, a socket on CPU 0
    (None, ["flows.0.rate=1.4Mpps"]),
    # forwarding: doorbells, TX completions and their interrupts
    (ROUTER, []),
    # a paced sender: its wake-ups, sendmsg, the qdisc and send-buffer releases
    (SENDER, []),
])
def test_model_state_does_not_grow_with_run_length(file, sets):
    short = _run(file, sets, SHORT_MS)
    long = _run(file, sets, LONG_MS)
    grown = {p: (short.get(p, 0), n) for p, n in long.items()
             if n > 2 * short.get(p, 0) + SLACK}
    assert not grown, f"containers that grow with simulated time (short, long): {grown}"
