"""A cache line several CPUs write, and a spinlock whose word sits in one, as their owner
LP sees them: who wrote the line when, and when the lock was held, in simulated time
(shared-state-dim-rr.md §1.4, §2, §3).

Acquisitions reach the owner close to, not exactly in, time order (a softirq step places
its socket enqueues ahead of its own clock; another CPU's hand-off is taken when it lands),
so both keep a short history: an acquisition takes the first gap long enough for it from
its time on, spinning through the holds it meets and fetching the line from each other
holder; a CPU pays a transfer when the last write before its access was another CPU's.
What is older than HISTORY_NS before the latest access is forgotten (a GRO batch spans
well under it).

May import: the standard library.
"""

from __future__ import annotations

from bisect import bisect_right, insort

HISTORY_NS = 200_000
TRIM_EVERY = 256


class Line:
    """One cache line: the CPU that wrote it last, at any recent time."""

    __slots__ = ("xfer", "writes", "base", "latest", "n", "transfers")

    def __init__(self, xfer: int, owner: int) -> None:
        self.xfer = xfer                 # a modified line's cache-to-cache transfer (ns)
        self.writes: list = []           # (time, order, cpu), in time order
        self.base = owner                # the writer before the history
        self.latest = 0
        self.n = 0
        self.transfers = 0

    def owner_at(self, t: int) -> int:
        w = self.writes
        if not w or w[-1][0] <= t:
            return w[-1][2] if w else self.base
        i = bisect_right(w, (t, 1 << 62)) - 1
        return w[i][2] if i >= 0 else self.base

    def write(self, t: int, cpu: int) -> None:
        """`cpu` wrote the line at `t` (after any earlier write at the same time)."""
        w = self.writes
        n = self.n = self.n + 1
        if not w or w[-1][0] <= t:
            w.append((t, n, cpu))
            self.latest = t
            if len(w) > 2 * TRIM_EVERY:
                cut = bisect_right(w, (t - HISTORY_NS, 1 << 62))
                if cut:
                    self.base = w[cut - 1][2]
                    del w[:cut]
        else:
            insort(w, (t, n, cpu))

    def export_state(self) -> list:
        return [self.base, self.latest, self.n, self.transfers, [list(x) for x in self.writes]]

    def import_state(self, v: list) -> None:
        self.base, self.latest, self.n, self.transfers, w = v
        self.writes = [tuple(x) for x in w]

    def fetch(self, cpu: int, t: int) -> int:
        """A read-modify-write by `cpu` at `t`: the transfer it pays (0 if it wrote the
        line last)."""
        x = 0
        if self.owner_at(t) != cpu:
            x = self.xfer
            self.transfers += 1
        self.write(t, cpu)
        return x


class Spinlock:
    """A spinlock whose word is in `line`: its recent holds, in time order."""

    __slots__ = ("line", "holds", "longest", "acquired", "contended", "spin_ns")

    def __init__(self, line: Line) -> None:
        self.line = line
        self.holds: list = []            # (start, end, cpu), in start order
        self.longest = 0                 # the longest hold in the history
        self.acquired = 0
        self.contended = 0               # acquisitions that found it held
        self.spin_ns = 0

    def acquire(self, cpu: int, s: int, hold: int, record: bool = True) -> int:
        """spin_lock by `cpu` from `s` for `hold` ns: returns when it got the lock (the
        line fetched, any holder waited for); the hold is recorded, its end leaving the
        line written by `cpu`, unless that end is not known yet (`record` False: the
        caller records it with `hold`)."""
        line = self.line
        w = line.writes
        if (w[-1][2] if w and w[-1][0] <= s else line.owner_at(s)) != cpu:
            s += line.xfer
            line.transfers += 1
        self.acquired += 1
        holds = self.holds
        if holds and holds[-1][1] > s - self.longest:
            # holds that may overlap [s, s + hold): from the first that ends after s
            i = bisect_right(holds, (s - self.longest, 0, 0))
            waited = False
            while i < len(holds):
                st, en, who = holds[i]
                if en > s:
                    if st >= s + hold:
                        break                # it fits before this one
                    self.spin_ns += en - s
                    waited = True
                    s = en
                    if who != cpu:           # it wrote the line: fetch it back
                        s += line.xfer
                        line.transfers += 1
                i += 1
            if waited:
                self.contended += 1
        if record:
            self.hold(cpu, s, s + hold)
        return s

    def hold(self, cpu: int, start: int, end: int) -> None:
        """Record a hold (its end leaves the line written by `cpu`)."""
        holds = self.holds
        if not holds or holds[-1][0] <= start:
            holds.append((start, end, cpu))
        else:
            insort(holds, (start, end, cpu))
        if end - start > self.longest:
            self.longest = end - start
        self.line.write(end, cpu)
        if len(holds) > 2 * TRIM_EVERY:
            cut = bisect_right(holds, (self.line.latest - HISTORY_NS, 0, 0))
            del holds[:cut]

    def export_state(self) -> list:
        return [self.longest, self.acquired, self.contended, self.spin_ns,
                [list(x) for x in self.holds], self.line.export_state()]

    def import_state(self, v: list) -> None:
        self.longest, self.acquired, self.contended, self.spin_ns, h, line = v
        self.holds = [tuple(x) for x in h]
        self.line.import_state(line)


class BusylockedLine:
    """A line whose lock, when contended, is taken after a busylock, so only one CPU at a
    time waits for the lock itself: 6.6's UDP busylock before a socket's receive-queue
    lock, a qdisc's busylock before its root lock. The busylock has a line of its own."""

    __slots__ = ("hold", "line", "lock", "busy", "busylock")

    def __init__(self, xfer: int, hold: int, owner: int) -> None:
        self.hold = hold              # the lock held, uncontended (ns)
        self.line = Line(xfer, owner)
        self.lock = Spinlock(self.line)
        self.busy = Spinlock(Line(xfer, owner))
        self.busylock = 0             # busylock acquisitions

    def take(self, cpu: int, s: int, busy: bool) -> int:
        """The lock taken from `s` for `hold` ns, after the busylock when `busy` (which is
        let go with the lock): when this CPU got it."""
        h = self.hold
        b = None
        if busy:
            self.busylock += 1
            s = b = self.busy.acquire(cpu, s, h, record=False)
        s = self.lock.acquire(cpu, s, h)
        if b is not None:
            self.busy.hold(cpu, b, s + h)
        return s

    def export_state(self) -> list:
        return [self.busylock, self.lock.export_state(), self.busy.export_state()]

    def import_state(self, v: list) -> None:
        self.busylock, lock, busy = v
        self.lock.import_state(lock)
        self.busy.import_state(busy)

    def report(self) -> dict:
        """What summary.json says of it: acquisitions, those that met a holder of either
        lock, the time spun on both, the lines fetched for both."""
        lock, busy = self.lock, self.busy
        return {"acquired": lock.acquired, "contended": lock.contended + busy.contended,
                "spin_ns": lock.spin_ns + busy.spin_ns,
                "line_transfers": lock.line.transfers + busy.line.transfers,
                "busylock": self.busylock}
