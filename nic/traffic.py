"""Traffic sources and the wire.

Each `[[flows]]` entry becomes a `FlowSource` that produces the times at which the remote
sender starts frames, with its own random stream (seeded from the run seed and the flow's
index) so that adding a flow does not change the others. The wire then serialises the
merged frames at line rate, preamble and inter-frame gap included: a frame cannot start
before the previous one has finished (Lindley's recursion, vectorised with a running max).
Times are produced window by window, so memory stays flat however long the run.
"""

from __future__ import annotations

import numpy as np

# Preamble + SFD (8 B) and the minimum inter-frame gap (12 B) occupy the wire too.
WIRE_OVERHEAD_BYTES = 20
_BLOCK = 4096     # random draws per refill: fixed, so windows do not change the stream


class FlowSource:
    __slots__ = ("index", "period", "arrival", "on", "off", "start", "stop", "count",
                 "emitted", "rng", "_pending", "_next_k", "_t", "exhausted")

    def __init__(self, index: int, flow: dict, seed: int, duration: int) -> None:
        self.index = index
        self.period = 1e9 / flow["pps"]           # ns between frames while sending
        self.arrival = flow["arrival"]
        self.on = flow.get("on_ns", 0)
        self.off = flow.get("off_ns", 0)
        self.start = flow["start_ns"]
        self.stop = min(flow["stop_ns"] if flow["stop_ns"] is not None else duration, duration)
        self.count = flow["count"]                  # None: unlimited
        self.emitted = 0
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))
        self._pending = np.empty(0, dtype=np.int64)
        self._next_k = 0
        self._t = float(self.start)
        self.exhausted = self.start >= self.stop

    def _more(self) -> np.ndarray:
        """The next block of start times, in ns, in order."""
        k = np.arange(self._next_k, self._next_k + _BLOCK, dtype=np.float64)
        self._next_k += _BLOCK
        if self.arrival == "constant":
            t = self.start + k * self.period
        elif self.arrival == "poisson":
            gaps = self.rng.exponential(self.period, _BLOCK)
            t = self._t + np.cumsum(gaps)
            self._t = float(t[-1])
        elif self.arrival == "onoff":
            per_on = max(1, int(np.ceil(self.on / self.period)))
            burst, pos = np.divmod(k, per_on)
            t = self.start + burst * (self.on + self.off) + pos * self.period
        else:
            raise ValueError(self.arrival)
        return t.astype(np.int64)

    def next_start(self) -> int | None:
        """The start time `take` will return next, None when the flow has no more."""
        if self.exhausted or self._pending.size == 0 or self._pending[0] >= self.stop:
            return None
        return int(self._pending[0])

    def take(self, until: int) -> np.ndarray:
        """Start times earlier than `until` not yet taken."""
        if self.exhausted:
            return self._pending[:0]
        parts = []
        limit = min(until, self.stop)
        while True:
            if self._pending.size == 0:
                self._pending = self._more()
            cut = int(np.searchsorted(self._pending, limit, side="left"))
            parts.append(self._pending[:cut])
            self._pending = self._pending[cut:]
            if self._pending.size:
                break
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if self.count is not None and self.emitted + out.size >= self.count:
            out = out[: self.count - self.emitted]
            self.exhausted = True
        if until >= self.stop:
            self.exhausted = True
        self.emitted += out.size
        return out


    def count_rest(self, end: int, step: int = 1_000_000) -> int:
        """Take and count every start time left before `end` (a stretch at a time, so a
        fast flow's rest is never held at once); the flow is exhausted after."""
        n = 0
        t = self._t if self._pending.size == 0 else int(self._pending[0])
        while not self.exhausted:
            t = min(int(t) + step, end)
            n += self.take(t).size
        return n


class Wire:
    """Serialises frames at line rate; times in picoseconds inside, ns outside."""

    __slots__ = ("bps", "busy_until_ps", "frames", "busy_ps")

    def __init__(self, bps: int) -> None:
        self.bps = bps
        self.busy_until_ps = 0
        self.frames = 0
        self.busy_ps = 0

    def tx_ps(self, sizes: np.ndarray) -> np.ndarray:
        return (sizes + WIRE_OVERHEAD_BYTES) * 8 * 10**12 // self.bps

    def serialise(self, starts_ns: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Arrival time (ns) of each frame's last bit at the NIC, frames in order."""
        if starts_ns.size == 0:
            return starts_ns
        tx = self.tx_ps(sizes)
        s = np.cumsum(tx)
        before = s - tx
        lead = np.maximum.accumulate(starts_ns * 1000 - before)
        end_ps = s + np.maximum(lead, self.busy_until_ps)
        self.busy_until_ps = int(end_ps[-1])
        self.frames += starts_ns.size
        self.busy_ps += int(s[-1])
        return end_ps // 1000

    def tx_ps_one(self, size: int) -> int:
        """`tx_ps` of one frame, in plain integers (no array for a single value)."""
        return (size + WIRE_OVERHEAD_BYTES) * 8 * 10**12 // self.bps

    def serialise_burst(self, start_ns: int, sizes: list[int]) -> list[int]:
        """`serialise` for frames all ready at one time (a doorbell's), in plain integers:
        with one start the running maximum is the start itself, so each frame ends the
        wire's free time plus the frames up to it. Same integers as the array form."""
        if not sizes:
            return []
        t = max(start_ns * 1000, self.busy_until_ps)
        begin = t
        ends = []
        bps, over = self.bps, WIRE_OVERHEAD_BYTES
        for size in sizes:
            t += (size + over) * 8 * 10**12 // bps
            ends.append(t // 1000)
        self.busy_until_ps = t
        self.frames += len(sizes)
        self.busy_ps += t - begin
        return ends

    def busy_ns_before(self, end_ns: int) -> int:
        """Busy time inside the run: frames queued behind the end keep the wire busy from
        the end to `busy_until` without a gap, so that stretch comes off whatever was
        serialised (how many late frames were is a matter of the windows)."""
        over = max(0, self.busy_until_ps - end_ns * 1000)
        return (self.busy_ps - over) // 1000

    def free_at_ns(self) -> int:
        return self.busy_until_ps // 1000
