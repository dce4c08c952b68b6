"""The executor of one simulated CPU.

Kernel work is written as generators that yield the cost (ns) of each step. The CPU runs
the context on top — a softirq run begun on IRQ exit, else the current task — one step at
a time, advancing its clock by the step's cost. Hard IRQs preempt at step boundaries;
softirqs run on IRQ exit unless softirqs are already being served (kernel-spec §5.1);
`__do_softirq` hands over to ksoftirqd after 10 restarts, 2 ms, or when a reschedule is
due, and ksoftirqd then competes with the applications in the scheduler.

A step that starts before the safe time may end after it; an event that falls inside a
step is taken at the step's end, exactly as an interrupt waits for the instruction
boundary. Device-side events (interrupt assertion, DMA) are applied at their own time.
"""

from __future__ import annotations

import heapq
from collections import deque

from softnet.engine.events import INF, PRIO_TIMER, EventQueue

from .sched import BLOCK, Scheduler, Task, base_slice_ns

# Accounting classes of CPU time.
ACCT_HARDIRQ, ACCT_SOFTIRQ, ACCT_KSOFTIRQD, ACCT_TASK, ACCT_IDLE = range(5)
ACCT_NAMES = ("hardirq", "softirq", "ksoftirqd", "task", "idle")

# Softirq vectors, in /proc/softirqs row order (kernel-spec §5.1).
SOFTIRQ_NAMES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
                 "HRTIMER", "RCU")
TIMER_SOFTIRQ = 1
NET_TX_SOFTIRQ = 2
NET_RX_SOFTIRQ = 3

MAX_SOFTIRQ_RESTART = 10
MAX_SOFTIRQ_TIME_MS = 2


class Cpu:
    def __init__(self, index: int, ncpus: int, costs, hz: int, ev: EventQueue) -> None:
        self.index = index
        self.costs = costs
        self.hz = hz
        self.jiffy_ns = 1_000_000_000 // hz
        self.ev = ev
        self.now = 0
        self.softirq_frames: list = []      # softirq runs begun on IRQ exit (generators)
        self.irq_queue: deque = deque()     # asserted, not yet handled: (handler, arg, counter)
        self.hardirq_gen = None             # a hard-IRQ handler that works in steps
        self.in_softirq = False             # softirqs being served (BH context)
        self.softirq_pending = 0
        self.softirq_handlers: dict[int, object] = {}
        self.kstat_softirqs = [0] * len(SOFTIRQ_NAMES)
        self.irq_counts: dict[str, int] = {}
        self.acct = [0] * len(ACCT_NAMES)
        self.last_kind = ACCT_IDLE
        self.nr_switches = 0                # rq->nr_switches (/proc/stat ctxt)
        self.switch_end = -1                # when the last context switch's cost ended
        self.sched = Scheduler(base_slice_ns(ncpus))
        self.ksoftirqd = Task(f"ksoftirqd/{index}", ACCT_KSOFTIRQD, self._ksoftirqd())
        self.kworker = Task(f"kworker/{index}:1", ACCT_TASK, self._worker_thread())
        self.worklist: deque = deque()      # the per-CPU pool's pending work (generators)
        self.tracer = None                  # cpus.trace.CpuTrace when a trace is asked for
        self.owed = 0                       # softirq time told late, to take at the next step
        self.owed_task: dict = {}           # … and tasks' time (a sender's xmit): task -> ns
        ev.schedule(self.jiffy_ns, self._tick_event, None, PRIO_TIMER)

    # -- time ---------------------------------------------------------------------------
    def jiffies(self) -> int:
        return self.now // self.jiffy_ns

    def in_interrupt(self) -> bool:
        """in_interrupt(): serving softirqs or in a hard IRQ's handler (where a raised
        softirq runs at irq exit, and ksoftirqd is not woken)."""
        return self.in_softirq or self.hardirq_gen is not None

    def is_idle(self) -> bool:
        return (not self.softirq_frames and self.sched.current is None and not self.irq_queue
                and self.hardirq_gen is None)

    def charge_late(self, ns: int, task=None) -> None:
        """CPU time this CPU spent earlier on state another CPU holds, told by that CPU's
        record: softirq time (a socket enqueue, a forwarded packet's xmit) is taken inside
        the next step of a softirq run under way, else as a stretch of its own before
        anything else; a task's (a sender's dev_queue_xmit past its entry) as a stretch of
        that task's once no softirq run is under way."""
        if task is None:
            self.owed += ns
        else:
            self.owed_task[task] = self.owed_task.get(task, 0) + ns

    # -- softirqs -------------------------------------------------------------------------
    def raise_softirq_irqoff(self, nr: int, in_interrupt: bool) -> None:
        """raise_softirq_irqoff: outside interrupt context it also wakes ksoftirqd."""
        self.softirq_pending |= 1 << nr
        if not in_interrupt:
            self.sched.wake(self.ksoftirqd)

    def do_softirq(self, in_ksoftirqd: bool):
        """handle_softirqs (__do_softirq), kernel-spec §5.1."""
        costs = self.costs
        end = self.jiffies() + -(-MAX_SOFTIRQ_TIME_MS * self.hz // 1000)  # msecs_to_jiffies rounds up
        restart = MAX_SOFTIRQ_RESTART
        while True:
            pending = self.softirq_pending
            self.softirq_pending = 0
            yield costs.softirq_entry
            nr = 0
            while pending:
                if pending & 1:
                    self.kstat_softirqs[nr] += 1
                    yield from self.softirq_handlers[nr]()
                pending >>= 1
                nr += 1
            if self.softirq_pending:
                restart -= 1
                if self.jiffies() < end and not self.sched.need_resched and restart:
                    continue
                self.sched.wake(self.ksoftirqd)    # wakeup_softirqd
            return

    def _ksoftirqd(self):
        """run_ksoftirqd as the smpboot thread loop runs it."""
        while True:
            if not self.softirq_pending:
                yield BLOCK
                continue
            # softirq context is not preemptible: ksoftirqd yields the CPU only at
            # cond_resched() between passes
            self.in_softirq = self.ksoftirqd.atomic = True
            yield from self.do_softirq(True)
            self.in_softirq = self.ksoftirqd.atomic = False
            yield 0                                 # cond_resched()

    # -- the system workqueue --------------------------------------------------------------
    def queue_work(self, work) -> None:
        """schedule_work: system_wq is per-CPU, so the work goes to this CPU's pool and
        its kworker is woken; a nice-0 task like any other, it waits its turn."""
        self.worklist.append(work)
        self.sched.wake(self.kworker)

    def _worker_thread(self):
        """worker_thread: runs the pool's work items in order, then sleeps."""
        while True:
            if not self.worklist:
                yield BLOCK
                continue
            yield from self.worklist.popleft()

    # -- hard interrupts ------------------------------------------------------------------
    def raise_irq(self, handler, arg, counter: str, t: int) -> None:
        """An interrupt asserted at this CPU at `t`; taken at the next step boundary."""
        self.irq_queue.append((handler, arg, counter))
        if self.tracer is not None:
            self.tracer.event(t, "irq", counter)

    def _hardirq(self) -> None:
        """Handle what is asserted, then irq exit. A handler returns its cost, or (a
        driver without NAPI doing all its work there) a generator of steps: the CPU then
        runs those steps with interrupts off, and comes back here when it ends."""
        costs = self.costs
        q = self.irq_queue
        while q:
            handler, arg, counter = q.popleft()
            self.irq_counts[counter] = self.irq_counts.get(counter, 0) + 1
            res = handler(arg)
            if type(res) is not int:
                cost = costs.irq_entry_exit
                self.hardirq_gen = res
                name = "common_interrupt"     # the entry; the handler's steps follow
            else:
                cost = costs.irq_entry_exit + res
                name = handler.__name__
            if self.tracer is not None:
                self.tracer.leaf("hardirq", name, self.now, self.now + cost,
                                 {"irq": counter})
            self.now += cost
            self.acct[ACCT_HARDIRQ] += cost
            self.last_kind = ACCT_HARDIRQ
            if self.hardirq_gen is not None:
                return
        # __irq_exit_rcu → invoke_softirq, unless softirqs are already being served
        if self.softirq_pending and not self.in_softirq:
            self.in_softirq = True
            self.softirq_frames.append(self.do_softirq(False))

    def _tick_event(self, t: int, _arg) -> None:
        self.ev.schedule(t + self.jiffy_ns, self._tick_event, None, PRIO_TIMER)
        if self.is_idle():
            return                            # NOHZ idle: no tick on an idle CPU
        self.raise_irq(self._tick_handler, None, "LOC", t)

    def _tick_handler(self, _arg) -> int:
        self.sched.tick()
        return self.costs.tick

    # -- the run loop ---------------------------------------------------------------------
    def run(self, limit: int) -> None:
        """Execute every step that starts, and every event that falls, before `limit`."""
        heap = self.ev._heap
        acct = self.acct
        sched = self.sched
        pop = heapq.heappop
        tracer = self.tracer                    # None unless a trace was asked for
        while True:
            now = self.now
            while heap and heap[0][0] <= now and heap[0][0] < limit:
                t, _, _, _, handler, arg = pop(heap)
                handler(t, arg)
            if now >= limit:
                return
            hg = self.hardirq_gen
            if hg is not None:                  # interrupts stay off until it ends
                try:
                    cost = next(hg)
                except StopIteration:
                    self.hardirq_gen = None
                    self._hardirq()
                    continue
                self.now = now + cost
                acct[ACCT_HARDIRQ] += cost
                self.last_kind = ACCT_HARDIRQ
                if tracer is not None:
                    tracer.step("hardirq", hg, now, now + cost)
                continue
            if (self.owed or self.owed_task) and not self.softirq_frames and not (
                    self.in_softirq and sched.current is self.ksoftirqd):
                self._take_owed()
                continue
            if self.irq_queue:
                self._hardirq()
                continue
            frames = self.softirq_frames
            if frames:
                gen = frames[-1]
                try:
                    cost = next(gen)
                except StopIteration:
                    frames.pop()
                    self.in_softirq = False
                    continue
                if self.owed:
                    cost += self.owed
                    self.owed = 0
                self.now = now + cost
                acct[ACCT_SOFTIRQ] += cost
                self.last_kind = ACCT_SOFTIRQ
                if tracer is not None:
                    tracer.step("softirq", gen, now, now + cost)
                continue
            task = sched.current
            if task is None or (sched.need_resched and not task.atomic):
                task = self._switch()
                if task is None:
                    nt = heap[0][0] if heap else INF
                    if nt >= limit:
                        return
                    acct[ACCT_IDLE] += nt - now
                    self.now = nt
                    continue
                continue
            try:
                cost = next(task.gen)
            except StopIteration:
                sched.block(task)
                continue
            if cost == BLOCK:
                sched.block(task)
                if tracer is not None:
                    tracer.block(task.name, task.gen, now)
                continue
            if self.owed and task is self.ksoftirqd:   # in a softirq run
                cost += self.owed
                self.owed = 0
            self.now = now + cost
            acct[task.kind] += cost
            self.last_kind = task.kind
            task.steps += 1
            sched.account(task, cost)
            if tracer is not None:
                tracer.step(task.name, task.gen, now, now + cost)

    def _take_owed(self) -> None:
        cost, self.owed = self.owed, 0
        if cost:
            if self.tracer is not None:
                self.tracer.leaf("softirq", "__udp_enqueue_schedule_skb", self.now,
                                 self.now + cost)
            self.now += cost
            self.acct[ACCT_SOFTIRQ] += cost
            self.last_kind = ACCT_SOFTIRQ
        owed, self.owed_task = self.owed_task, {}
        for task, cost in owed.items():
            if self.tracer is not None:
                self.tracer.leaf(task.name, "__dev_queue_xmit", self.now, self.now + cost)
            self.now += cost
            self.acct[task.kind] += cost
            if task is self.sched.current:   # (a queued task's vruntime orders the queue)
                self.sched.account(task, cost)
            self.last_kind = task.kind

    def _switch(self) -> Task | None:
        """__schedule: switching in any task other than the one that ran last (the idle
        task included) costs a context switch."""
        sched = self.sched
        nxt = sched.schedule()
        if nxt is not sched.prev:
            self.nr_switches += 1          # context_switch(): to or from the idle task too
            if nxt is not None:
                nxt.switches += 1
                cost = self.costs.context_switch
                if self.tracer is not None:
                    self.tracer.leaf(nxt.name, "__schedule", self.now, self.now + cost)
                self.now += cost
                self.acct[nxt.kind] += cost
                self.last_kind = nxt.kind
                self.switch_end = self.now
                sched.account(nxt, cost)
        sched.prev = nxt
        return nxt

    def time_by_context(self, end: int) -> dict[str, int]:
        """CPU time per context over [0, end]; a step that straddles the end is cut there."""
        acct = list(self.acct)
        over = self.now - end
        if over > 0:
            acct[self.last_kind] -= over
        busy = sum(acct[:ACCT_IDLE])
        acct[ACCT_IDLE] = end - busy
        return dict(zip(ACCT_NAMES, acct))
