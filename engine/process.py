"""Process mode, worker side: the main loop of one LP in its own OS process.

Transport (`transport`): ZeroMQ PUSH/PULL, or a socketpair per link that spins briefly
before it blocks; both carry the same frames, so results do not depend on the choice. Sends
never block the loop: a frame that does not fit is parked and retried while input is
served, so two LPs that feed each other cannot deadlock on full pipes.

Control (after Locust's coordinator/worker protocol, pyzmq + msgpack): a DEALER whose
identity is the LP's name talks to the coordinator's ROUTER. The worker says `ready`, waits
for `go`, reports `progress` about twice a second, and ends with `result` or `error`.
A worker whose coordinator has gone away exits on its own: its lifeline (see `worker`)
is polled with its sockets at every wait, so it notices within one poll.
"""

from __future__ import annotations

import importlib
import os
import select
import sys
import time
import traceback

import zmq

from .codec import pack_frame, pack_msg, unpack_frame, unpack_msg
from .lp import LinkSpec, SyncDriver
from .shm import ShmLinks
from .transport import LinkBroken, PairLinks, ZmqLinks
from .worker import coordinator_gone

POLL_MS = 500          # how long one wait may last before liveness is checked
CONTROL_EVERY = 0.05   # seconds between checks of the control socket while busy
PROGRESS_EVERY = 0.5   # seconds of wall time between progress reports
ERROR_LINGER_MS = 2000  # how long a failed LP's error report may take to leave


def build_lp(spec: dict):
    mod_name, fn_name = spec["factory"].split(":")
    factory = getattr(importlib.import_module(mod_name), fn_name)
    lp = factory(spec["name"], spec["index"], spec["args"])
    lp.out_links = {l["dst"]: LinkSpec(**l) for l in spec["out_links"]}
    lp.in_links = {l["src"]: LinkSpec(**l) for l in spec["in_links"]}
    return lp


def lp_main(spec: dict, lifeline: int, leftovers: list[str]) -> None:
    """Run one LP in this process. `lifeline`: a file descriptor that reaches end-of-file
    when the coordinator is gone; `leftovers`: what to remove then."""
    if _gone(lifeline, 0):
        coordinator_gone(leftovers)
    ctx = zmq.Context()
    ctl = ctx.socket(zmq.DEALER)
    ctl.setsockopt(zmq.LINGER, 0)
    ctl.setsockopt(zmq.IDENTITY, spec["name"].encode())
    ctl.connect(spec["control"])
    code, linger = 0, 0
    try:
        _run(spec, ctx, ctl, lifeline)
    except _Abort:
        code = 2
    except LinkBroken:
        # a peer process died: that is its failure, which the coordinator sees and names;
        # stay quiet until told to stop
        code = 2
        try:
            _wait_go(ctl, lifeline)
        except (_Abort, _Orphaned):
            pass
    except _Orphaned:
        ctx.destroy(linger=0)
        coordinator_gone(leftovers)
    except BaseException:  # report any failure by name, then exit non-zero
        code = 1
        try:
            ctl.send(pack_msg("error", traceback.format_exc()))
            linger = ERROR_LINGER_MS       # let the report leave before the socket goes
        except zmq.ZMQError:
            pass
    finally:
        ctx.destroy(linger=linger)
    sys.exit(code)


class _Abort(Exception):
    """The coordinator said stop."""


class _Orphaned(Exception):
    """The coordinator is gone."""


def _gone(lifeline: int, timeout_s: float) -> bool:
    """True when the lifeline has reached end-of-file (nothing is ever written to it)."""
    ready, _, _ = select.select([lifeline], [], [], timeout_s)
    return bool(ready) and not os.read(lifeline, 1)


def _links(spec: dict, ctx: zmq.Context, lp):
    t = spec.get("transport", {"kind": "zmq"})
    if t["kind"] == "pair":
        return PairLinks(t["in_fds"], t["out_fds"])
    if t["kind"] == "shm":
        return ShmLinks(t["in_rings"], t["out_rings"], t["in_fds"], t["out_fds"])
    return ZmqLinks(ctx, lp.name, spec["ipc_base"], lp.in_links, lp.out_links)


def _run(spec: dict, ctx: zmq.Context, ctl: zmq.Socket, lifeline: int) -> None:
    lp = build_lp(spec)
    links = _links(spec, ctx, lp)
    # what a blocked LP still reads: enough to break a cycle of full pipes, no more
    cycle_in = frozenset(spec.get("cycle_inputs", lp.in_links))
    ctl.send(pack_msg("ready", os.getpid()))
    go = _wait_go(ctl, lifeline)
    # spin only on a core of one's own (the coordinator knows once it has pinned us): on
    # a shared core it steals the peer's time
    spin_s = (go or {}).get("spin_us", 0) / 1e6 if links.spins else 0.0
    poll_ms = links.poll_ms or POLL_MS

    split = _Split()
    driver = SyncDriver(lp, spec["end"], clock=time.perf_counter)
    poller = zmq.Poller()
    poller.register(ctl, zmq.POLLIN)
    poller.register(lifeline, zmq.POLLIN)
    wait_s = 0.0
    t_start = time.perf_counter()
    last_report = last_check = t_start
    fault = spec.get("fault")
    ctl.send(pack_msg("progress", {"t": 0, **lp.progress()}))
    clock = time.perf_counter

    while True:
        t0 = clock()
        if not links.blocked() and not driver.done:
            frames = driver.step()
            t1 = clock()
            for dst, frame in frames:
                links.put(dst, pack_frame(frame))
            t2 = clock()
            split.step += t1 - t0
            split.framing += t2 - t1
            t0 = t2
            if fault is not None and driver.advanced_to >= fault:
                raise RuntimeError(f"injected fault at simulated time {fault} ns")
        links.flush()
        split.transport += clock() - t0
        blocked = links.blocked()
        if driver.done and not blocked:
            break
        must_wait = blocked or driver.waiting_for_input()
        only = cycle_in if blocked else None
        now = time.perf_counter()
        if must_wait and not links.buffered(only):
            if not (spin_s and links.spin(spin_s, only)):
                # (a transport may find input arrived as it prepares to sleep)
                ready = links.register(poller, only)
                events = dict(poller.poll(0 if ready else poll_ms))
                _control(events, ctl, lifeline)
                last_check = now
            wait_s += time.perf_counter() - now
        if now - last_check >= CONTROL_EVERY:
            # a busy (or spinning) LP still hears the coordinator, and its absence, this often
            last_check = now
            _control(dict(poller.poll(0)), ctl, lifeline)
        # Take frames only until this LP can advance again (and while blocked, only from
        # links on a cycle through it): what stays in the pipe holds the sender back at
        # the high-water mark, so memory stays bounded however far ahead it could run.
        while True:
            t0 = clock()
            raw = links.next_frame(only)
            t1 = clock()
            split.transport += t1 - t0
            if raw is None:
                break
            frame = unpack_frame(raw)
            t2 = clock()
            driver.apply(frame)
            split.framing += t2 - t1
            split.receive += clock() - t2
            if not driver.waiting_for_input():
                break
        if now - last_report >= PROGRESS_EVERY:
            last_report = now
            ctl.send(pack_msg("progress", {"t": driver.advanced_to, **lp.progress()}))

    ctl.send(pack_msg("progress", {"t": driver.advanced_to, **lp.progress()}))
    result = lp.result()
    wall = time.perf_counter() - t_start
    result["engine"] = {"rounds": driver.rounds, "wait_s": wait_s, "wall_s": wall,
                        "pid": os.getpid(), "transport": links.kind,
                        "split_s": split.export(wall, wait_s, driver.advance_s),
                        "max_rss_kb": _vm_hwm_kb()}
    ctl.send(pack_msg("result", result))
    _wait_bye(ctl, lifeline)


class _Split:
    """Where an LP process's wall time goes: model work (`advance`, timed by the driver,
    and filing what arrives), the lookahead (the rest of a step: promises, outboxes),
    framing (msgpack), transport (sending and taking frames) and waiting; what is left is
    the loop itself."""

    __slots__ = ("step", "receive", "framing", "transport")

    def __init__(self) -> None:
        self.step = self.receive = self.framing = self.transport = 0.0

    def export(self, wall: float, wait: float, advance: float) -> dict:
        out = {"model": advance + self.receive, "lookahead": self.step - advance,
               "framing": self.framing, "transport": self.transport, "waiting": wait}
        out["loop"] = max(0.0, wall - sum(out.values()))
        return {k: round(v, 4) for k, v in out.items()}


def _control(events: dict, ctl: zmq.Socket, lifeline: int) -> None:
    if events.get(lifeline) and _gone(lifeline, 0):
        raise _Orphaned()
    if events.get(ctl):
        kind, _ = unpack_msg(ctl.recv())
        if kind == "abort":
            raise _Abort()


def _vm_hwm_kb() -> int:
    """This process's peak RSS. (ru_maxrss would carry the parent's peak across
    fork + exec, so it is not used.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _next_control(ctl: zmq.Socket, lifeline: int) -> tuple:
    """Block until the coordinator says something (kind, body) or is gone (_Orphaned)."""
    poller = zmq.Poller()
    poller.register(ctl, zmq.POLLIN)
    poller.register(lifeline, zmq.POLLIN)
    while True:
        events = dict(poller.poll(POLL_MS))
        if events.get(lifeline) and _gone(lifeline, 0):
            raise _Orphaned()
        if events.get(ctl):
            return unpack_msg(ctl.recv())


def _wait_go(ctl: zmq.Socket, lifeline: int):
    kind, body = _next_control(ctl, lifeline)
    if kind != "go":
        raise _Abort()
    return body


def _wait_bye(ctl: zmq.Socket, lifeline: int) -> None:
    """Stay until the coordinator has the result (so the socket is not torn down under it)."""
    _next_control(ctl, lifeline)
