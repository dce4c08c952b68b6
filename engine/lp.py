"""Logical processes and conservative, per-link synchronisation (Chandy–Misra–Bryant).

An LP owns its state and sees the others only through timestamped records on links. Each
frame on a link carries a promise P: nothing more will come on that link stamped earlier
than P. An LP may execute events strictly earlier than its safe time, the least promise on
its input links. Positive link latencies make this deadlock-free.

`SyncDriver` holds that bookkeeping for one LP and is shared by both engine modes: the
inline runner moves its frames through lists, the process runner through ZeroMQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import INF

# A promise of "never again": sent with the last frame on a link.
EOF_PROMISE = 1 << 62


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A one-way link. `latency` (ns) is the lookahead: a record sent at t is stamped t+latency.
    `carries` names the record kinds it may carry, so a receiver knows which of its inputs
    can make it send (and so must bound its promises) and which cannot."""
    src: str
    dst: str
    latency: int
    kind: str  # "pcie" or "interconnect": what physical path it stands for
    carries: tuple = ()
    # Relaxed mode (design §3): deliveries rounded up to a multiple of `quantum` ns, so a
    # busy cycle of links needs one round per quantum instead of one per latency.
    quantum: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "carries", tuple(self.carries))

    def deliver(self, t: int) -> int:
        """The stamp of a record sent at `t`."""
        t += self.latency
        q = self.quantum
        return -(-t // q) * q if q else t


@dataclass(slots=True)
class Frame:
    """One frame per link per round, holding every record of that round."""
    src: str
    promise: int
    eof: bool
    payload: Any  # LP-specific, msgpack-able; None when the frame only carries a promise


class LogicalProcess:
    """What an LP must provide to the engine. Subclasses: the nic, each cpu."""

    name: str = "lp"
    index: int = 0
    # Longest stretch of simulated time one round may cover (None: as far as promises
    # allow). An LP with no inputs uses it to hand its output downstream in pieces, so the
    # receivers work while it works.
    window: int | None = None

    def receive(self, src: str, payload: Any) -> None:
        """Take the records of one frame. Must not execute anything: only file the records
        under keys fixed by their sender, so execution order never depends on framing."""
        raise NotImplementedError

    def advance(self, safe: int) -> None:
        """Execute every event strictly earlier than `safe`."""
        raise NotImplementedError

    def promise(self, dst: str, safe: int) -> int:
        """Lower bound on the stamp of anything still to be sent to `dst`, given that every
        event earlier than `safe` has been executed. Default: plain CMB lookahead."""
        return self.out_links[dst].deliver(safe)

    def take_outbox(self, dst: str) -> Any:
        """Records produced for `dst` since the last call, or None."""
        raise NotImplementedError

    def progress(self) -> dict:
        """A small dict for the coordinator's progress line."""
        return {}

    def result(self) -> dict:
        """Everything the coordinator needs once the run has ended; msgpack-able."""
        raise NotImplementedError

    # Set by the engine before the run.
    out_links: dict[str, LinkSpec]
    in_links: dict[str, LinkSpec]


class SyncDriver:
    """The CMB bookkeeping for one LP, independent of transport."""

    __slots__ = ("lp", "end", "in_promise", "in_eof", "sent_promise", "advanced_to",
                 "eof_sent", "rounds", "clock", "advance_s")

    def __init__(self, lp: LogicalProcess, end: int, clock=None) -> None:
        self.lp = lp
        self.end = end
        self.clock = clock              # given: the wall time of lp.advance is summed
        self.advance_s = 0.0
        # Before anything is heard, a link's sender may at best send at t=0.
        self.in_promise = {src: spec.latency for src, spec in lp.in_links.items()}
        self.in_eof = {src: False for src in lp.in_links}
        self.sent_promise = {dst: -1 for dst in lp.out_links}
        self.advanced_to = 0
        self.eof_sent = False
        self.rounds = 0
        lp.sync = self                  # an LP may read its input promises

    def apply(self, frame: Frame) -> None:
        if frame.payload is not None:
            self.lp.receive(frame.src, frame.payload)
        if frame.promise > self.in_promise[frame.src]:
            self.in_promise[frame.src] = frame.promise
        if frame.eof:
            self.in_eof[frame.src] = True

    def safe_time(self) -> int:
        safe = min(self.in_promise.values(), default=INF)
        return self.end if safe >= self.end else int(safe)

    def step(self) -> list[tuple[str, Frame]]:
        """Advance as far as the promises allow and return the frames to send."""
        safe = self.safe_time()
        if self.lp.window is not None:
            safe = min(safe, self.advanced_to + self.lp.window)
        if safe > self.advanced_to:
            if self.clock is None:
                self.lp.advance(safe)
            else:
                t0 = self.clock()
                self.lp.advance(safe)
                self.advance_s += self.clock() - t0
            self.advanced_to = safe
        self.rounds += 1
        out = []
        finishing = self.advanced_to >= self.end and not self.eof_sent
        for dst in self.lp.out_links:
            payload = self.lp.take_outbox(dst)
            if finishing:
                out.append((dst, Frame(self.lp.name, EOF_PROMISE, True, payload)))
                continue
            if self.eof_sent:
                continue
            p = self.lp.promise(dst, self.advanced_to)
            if payload is not None or p > self.sent_promise[dst]:
                self.sent_promise[dst] = p
                out.append((dst, Frame(self.lp.name, p, False, payload)))
        if finishing:
            self.eof_sent = True
        return out

    @property
    def done(self) -> bool:
        """Advanced to the end, said so downstream, and heard the last of every input."""
        return self.eof_sent and all(self.in_eof.values())

    def waiting_for_input(self) -> bool:
        """True when nothing more can happen here until a frame arrives."""
        if self.eof_sent:
            return not all(self.in_eof.values())
        return self.safe_time() <= self.advanced_to
