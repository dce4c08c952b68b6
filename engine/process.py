"""Process mode, worker side: the main loop of one LP in its own OS process.

Transport: each LP binds one PULL socket (its inbox) and connects one PUSH socket per
output link, all `ipc://`; these block rather than drop at the high-water mark. Sends never
block the loop: a frame that does not fit is parked and retried while the inbox is served,
so two LPs that feed each other cannot deadlock on full pipes.

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
from collections import deque

import zmq

from .codec import pack_frame, pack_msg, unpack_frame, unpack_msg
from .lp import LinkSpec, SyncDriver
from .worker import coordinator_gone

POLL_MS = 500          # how long one wait may last before liveness is checked
HWM = 64               # frames queued per pipe before the sender holds back
PROGRESS_EVERY = 0.5   # seconds of wall time between progress reports


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
    code = 0
    try:
        _run(spec, ctx, ctl, lifeline)
    except _Abort:
        code = 2
    except _Orphaned:
        ctx.destroy(linger=0)
        coordinator_gone(leftovers)
    except BaseException:  # report any failure by name, then exit non-zero
        code = 1
        try:
            ctl.send(pack_msg("error", traceback.format_exc()))
        except zmq.ZMQError:
            pass
    finally:
        ctx.destroy(linger=0)
    sys.exit(code)


class _Abort(Exception):
    """The coordinator said stop."""


class _Orphaned(Exception):
    """The coordinator is gone."""


def _gone(lifeline: int, timeout_s: float) -> bool:
    """True when the lifeline has reached end-of-file (nothing is ever written to it)."""
    ready, _, _ = select.select([lifeline], [], [], timeout_s)
    return bool(ready) and not os.read(lifeline, 1)


def _run(spec: dict, ctx: zmq.Context, ctl: zmq.Socket, lifeline: int) -> None:
    lp = build_lp(spec)
    inbox = ctx.socket(zmq.PULL)
    inbox.setsockopt(zmq.LINGER, 0)
    inbox.setsockopt(zmq.RCVHWM, HWM)
    inbox.bind(spec["endpoints"][lp.name])
    outs: dict[str, zmq.Socket] = {}
    for dst in lp.out_links:
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, HWM)
        s.connect(spec["endpoints"][dst])
        outs[dst] = s
    ctl.send(pack_msg("ready", os.getpid()))
    _wait_go(ctl, lifeline)

    driver = SyncDriver(lp, spec["end"])
    parked: dict[str, deque[bytes]] = {dst: deque() for dst in outs}
    poller = zmq.Poller()
    poller.register(inbox, zmq.POLLIN)
    poller.register(ctl, zmq.POLLIN)
    poller.register(lifeline, zmq.POLLIN)
    wait_s = 0.0
    t_start = time.perf_counter()
    last_report = t_start
    fault = spec.get("fault")

    while True:
        blocked = any(parked.values())
        if not blocked and not driver.done:
            for dst, frame in driver.step():
                parked[dst].append(pack_frame(frame))
            if fault is not None and driver.advanced_to >= fault:
                raise RuntimeError(f"injected fault at simulated time {fault} ns")
        _flush(outs, parked)
        if driver.done and not any(parked.values()):
            break
        must_wait = any(parked.values()) or driver.waiting_for_input()
        t0 = time.perf_counter()
        events = _poll(poller, outs, parked, POLL_MS if must_wait else 0)
        if must_wait:
            wait_s += time.perf_counter() - t0
        if events.get(lifeline) and _gone(lifeline, 0):
            raise _Orphaned()
        if events.get(ctl):
            kind, _ = unpack_msg(ctl.recv())
            if kind == "abort":
                raise _Abort()
        if events.get(inbox):
            # Take frames only until this LP can advance again: what stays in the pipe
            # holds the sender back at the high-water mark, so memory stays bounded
            # however far ahead a sender could run.
            while True:
                try:
                    raw = inbox.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                driver.apply(unpack_frame(raw))
                if not driver.waiting_for_input():
                    break
        now = time.perf_counter()
        if now - last_report >= PROGRESS_EVERY:
            last_report = now
            ctl.send(pack_msg("progress", {"t": driver.advanced_to, **lp.progress()}))

    result = lp.result()
    wall = time.perf_counter() - t_start
    result["engine"] = {"rounds": driver.rounds, "wait_s": wait_s, "wall_s": wall,
                        "pid": os.getpid(),
                        "max_rss_kb": _vm_hwm_kb()}
    ctl.send(pack_msg("result", result))
    _wait_bye(ctl, lifeline)


def _vm_hwm_kb() -> int:
    """This process's peak RSS. (ru_maxrss would carry the parent's peak across
    fork + exec, so it is not used.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _flush(outs, parked) -> None:
    for dst, q in parked.items():
        sock = outs[dst]
        while q:
            try:
                sock.send(q[0], zmq.NOBLOCK)
            except zmq.Again:
                break
            q.popleft()


def _poll(poller: zmq.Poller, outs, parked, timeout_ms: int) -> dict:
    for dst, sock in outs.items():
        if parked[dst]:
            poller.register(sock, zmq.POLLOUT)
        else:
            try:
                poller.unregister(sock)
            except KeyError:
                pass
    return dict(poller.poll(timeout_ms))


def _wait_go(ctl: zmq.Socket, lifeline: int) -> None:
    poller = zmq.Poller()
    poller.register(ctl, zmq.POLLIN)
    poller.register(lifeline, zmq.POLLIN)
    while True:
        events = dict(poller.poll(POLL_MS))
        if events.get(lifeline) and _gone(lifeline, 0):
            raise _Orphaned()
        if events.get(ctl):
            kind, _ = unpack_msg(ctl.recv())
            if kind == "go":
                return
            raise _Abort()


def _wait_bye(ctl: zmq.Socket, lifeline: int) -> None:
    """Stay until the coordinator has the result (so the socket is not torn down under it)."""
    poller = zmq.Poller()
    poller.register(ctl, zmq.POLLIN)
    poller.register(lifeline, zmq.POLLIN)
    while True:
        events = dict(poller.poll(POLL_MS))
        if events.get(ctl):
            return
        if events.get(lifeline) and _gone(lifeline, 0):
            raise _Orphaned()
