"""Sharing one CPU between tasks: ksoftirqd/N and the applications pinned to it.

Kernel 6.6 replaced CFS with EEVDF. This keeps its core rule at nice 0 for every task:
each runnable task has a virtual runtime and a virtual deadline one slice ahead; the
scheduler runs the eligible task (vruntime not ahead of the queue average) with the
earliest deadline. A woken task preempts the current one if it is eligible with an earlier
deadline; at the tick a task that has used its slice gets a new deadline and yields if
another task is runnable. The slice is `sysctl_sched_base_slice` (0.75 ms) scaled by
1 + log2(min(ncpus, 8)) (SCHED_TUNABLESCALING_LOG).
"""

from __future__ import annotations

import math

BLOCK = -1   # yielded by a task generator: sleep until woken


class Task:
    __slots__ = ("name", "kind", "gen", "vruntime", "deadline", "on_rq", "switches", "atomic")

    def __init__(self, name: str, kind: int, gen) -> None:
        self.name = name
        self.kind = kind            # accounting class (see cpu.ACCT_*)
        self.gen = gen
        self.vruntime = 0
        self.deadline = 0
        self.on_rq = False
        self.switches = 0
        self.atomic = False         # in a non-preemptible section (BH disabled)


def base_slice_ns(ncpus: int) -> int:
    factor = 1 + int(math.log2(min(max(ncpus, 1), 8)))
    return 750_000 * factor


class Scheduler:
    __slots__ = ("rq", "current", "need_resched", "slice", "min_vruntime", "prev")

    def __init__(self, slice_ns: int) -> None:
        self.rq: list[Task] = []
        self.current: Task | None = None
        self.need_resched = False
        self.slice = slice_ns
        self.min_vruntime = 0
        self.prev: Task | None = None

    def _avg(self) -> float:
        return sum(t.vruntime for t in self.rq) / len(self.rq) if self.rq else self.min_vruntime

    def wake(self, task: Task) -> None:
        if task.on_rq:
            return
        task.vruntime = max(task.vruntime, self.min_vruntime)
        task.deadline = task.vruntime + self.slice
        task.on_rq = True
        self.rq.append(task)
        cur = self.current
        if cur is None:
            self.need_resched = True
        elif task.vruntime <= self._avg() and task.deadline < cur.deadline:
            self.need_resched = True

    def block(self, task: Task) -> None:
        task.on_rq = False
        self.rq.remove(task)
        if self.current is task:
            self.current = None
        self.need_resched = True

    def pick(self) -> Task | None:
        if not self.rq:
            return None
        avg = self._avg()
        eligible = [t for t in self.rq if t.vruntime <= avg] or self.rq
        return min(eligible, key=lambda t: (t.deadline, t.vruntime, t.name))

    def schedule(self) -> Task | None:
        """__schedule: pick the next task; returns it (None: idle)."""
        self.need_resched = False
        nxt = self.pick()
        self.current = nxt
        if self.rq:
            self.min_vruntime = max(self.min_vruntime, min(t.vruntime for t in self.rq))
        return nxt

    def account(self, task: Task, delta: int) -> None:
        task.vruntime += delta

    def tick(self) -> None:
        cur = self.current
        if cur is not None and cur.vruntime >= cur.deadline:
            cur.deadline = cur.vruntime + self.slice
            if len(self.rq) > 1:
                self.need_resched = True
