"""The per-LP event heap.

Entries are ordered by (time, priority class, origin, sequence). Origin is the index of the
LP that caused the event; sequence is a number that origin assigned. Because neither depends
on when a record happened to arrive over a link, the order of execution — and so every
result — is the same in every run of the same config and seed, in either engine mode.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

INF = float("inf")

# Priority classes: at the same nanosecond, hardware acts before software observes it.
PRIO_DEVICE = 0   # device-side events: DMA write-back, interrupt assertion, link arrivals
PRIO_TIMER = 1    # timers: scheduler tick, hrtimers
PRIO_LINK = 2     # records from other LPs
PRIO_LOCAL = 3    # everything else the LP schedules for itself


class EventQueue:
    """A heap of (time, prio, origin, seq, handler, arg)."""

    __slots__ = ("_heap", "_seq", "origin")

    def __init__(self, origin: int) -> None:
        self._heap: list[tuple] = []
        self._seq = 0
        self.origin = origin

    def schedule(self, t: int, handler: Callable[[Any], None], arg: Any = None,
                 prio: int = PRIO_LOCAL) -> None:
        """An event this LP creates while executing an event: local sequence numbers are
        deterministic because execution order is."""
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self.origin, self._seq, handler, arg))

    def schedule_keyed(self, t: int, prio: int, origin: int, seq: int,
                       handler: Callable[[Any], None], arg: Any = None) -> None:
        """An event whose tie-break key is fixed by the caller (e.g. a record's sender and
        the sender's sequence), for events created when a frame arrives."""
        heapq.heappush(self._heap, (t, prio, origin, seq, handler, arg))

    def next_time(self) -> float:
        return self._heap[0][0] if self._heap else INF

    def pop(self) -> tuple:
        return heapq.heappop(self._heap)

    def __len__(self) -> int:
        return len(self._heap)
