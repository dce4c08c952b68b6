"""Sharing one CPU between tasks: ksoftirqd/N and the applications pinned to it.

Kernel 6.6 replaced CFS with EEVDF. This keeps its rules at nice 0 for every task:
each runnable task has a virtual runtime and a virtual deadline one slice ahead; the
scheduler runs the eligible task (vruntime not ahead of the queue average) with the
earliest deadline. Accounting renews a deadline once it is reached and asks for a
reschedule if another task is runnable (update_curr → update_deadline). A task that
sleeps keeps its lag (how far it was behind the average), clamped to two slices, and is
placed back with that lag when it wakes — no credit for the time it slept. Wake-up
preemption follows RUN_TO_PARITY: the running task keeps the CPU until its slice is used,
except that an idle CPU always switches to the woken task. The slice is
`sysctl_sched_base_slice` (0.75 ms) scaled by 1 + log2(min(ncpus, 8)).
"""

from __future__ import annotations

import math

BLOCK = -1   # yielded by a task generator: sleep until woken


class Task:
    __slots__ = ("name", "kind", "gen", "vruntime", "deadline", "on_rq", "switches", "atomic",
                 "vlag", "steps")

    def __init__(self, name: str, kind: int, gen) -> None:
        self.name = name
        self.kind = kind            # accounting class (see cpu.ACCT_*)
        self.gen = gen
        self.vruntime = 0
        self.deadline = 0
        self.on_rq = False
        self.switches = 0
        self.atomic = False         # in a non-preemptible section (BH disabled)
        self.vlag = 0
        self.steps = 0              # steps run (yields of a cost): a reader's reads


def base_slice_ns(ncpus: int) -> int:
    factor = 1 + int(math.log2(min(max(ncpus, 1), 8)))
    return 750_000 * factor


class Scheduler:
    __slots__ = ("rq", "current", "need_resched", "slice", "prev", "idle_avg")

    def __init__(self, slice_ns: int) -> None:
        self.rq: list[Task] = []
        self.current: Task | None = None
        self.need_resched = False
        self.slice = slice_ns
        self.prev: Task | None = None
        self.idle_avg = 0           # the average as it was when the queue last emptied

    def avg_vruntime(self) -> float:
        rq = self.rq
        return sum(t.vruntime for t in rq) / len(rq) if rq else self.idle_avg

    def wake(self, task: Task) -> None:
        if task.on_rq:
            return
        task.vruntime = int(self.avg_vruntime() - task.vlag)    # place_entity (PLACE_LAG)
        task.deadline = task.vruntime + self.slice
        task.on_rq = True
        self.rq.append(task)
        if self.current is None:
            self.need_resched = True

    def block(self, task: Task) -> None:
        avg = self.avg_vruntime()
        limit = max(2 * self.slice, 1_000_000)
        task.vlag = max(-limit, min(limit, avg - task.vruntime))
        task.on_rq = False
        self.rq.remove(task)
        if not self.rq:
            self.idle_avg = avg
        if self.current is task:
            self.current = None
        self.need_resched = True

    def pick(self) -> Task | None:
        if not self.rq:
            return None
        avg = self.avg_vruntime()
        eligible = [t for t in self.rq if t.vruntime <= avg] or self.rq
        return min(eligible, key=lambda t: (t.deadline, t.vruntime, t.name))

    def schedule(self) -> Task | None:
        """__schedule: pick the next task; returns it (None: idle)."""
        self.need_resched = False
        self.current = nxt = self.pick()
        return nxt

    def account(self, task: Task, delta: int) -> None:
        """update_curr: charge runtime; at the deadline, a new one and a reschedule."""
        task.vruntime += delta
        if task.vruntime >= task.deadline:
            task.deadline = task.vruntime + self.slice
            if len(self.rq) > 1:
                self.need_resched = True

    def tick(self) -> None:
        cur = self.current
        if cur is not None:
            self.account(cur, 0)
