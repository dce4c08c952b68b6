"""Starting, pinning and watching the LP processes (process mode), or running the same
LPs in this process (inline mode).

Liveness: the coordinator polls its control socket and the children's exit codes; a child
that dies or reports an error ends the run with `LPFailed` naming it, and every other
child is stopped. Each child runs `softnet.engine.worker` in a session of its own (so a
terminal's signals reach the coordinator alone) with a lifeline pipe as its standard input:
whatever ends the coordinator, even SIGKILL, closes that pipe and the children exit.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Callable

import psutil
import zmq

from softnet.engine.codec import pack_msg, unpack_msg
from softnet.engine.inline import run_inline
from softnet.engine.process import build_lp
from softnet.engine.shm import make_rings
from softnet.engine.transport import cycle_inputs, make_pairs
from softnet.engine.worker import send_spec

START_TIMEOUT = 60.0     # seconds for every process to come up and say ready
DEFAULT_TRANSPORT = "pair"
TRANSPORTS = ("pair", "zmq", "shm")
# how long a receiver with a core of its own spins before it blocks: a peer's answer
# within it costs no wake-up (tens of µs on a virtualised host); a round's model work is
# typically well under it
SPIN_US = 200
ERROR_GRACE_S = 0.5      # how long a dead child's own error report is awaited


class LPFailed(RuntimeError):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name} process {why}")
        self.name = name
        self.why = why


def plan_placement(names: list[str]) -> dict[str, int | None]:
    """One core per process when the host has enough; otherwise leave placement to the
    OS scheduler, which balances better than a fixed oversubscribed pinning."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= len(names):
        return {n: cores[i] for i, n in enumerate(names)}
    return {n: None for n in names}


def run_process_mode(specs: list[dict], end: int,
                     on_progress: Callable[[dict], None] | None = None,
                     on_started: Callable[[dict], None] | None = None,
                     fault: dict[str, int] | None = None,
                     leftovers: tuple[str, ...] = (),
                     transport: str = DEFAULT_TRANSPORT) -> tuple[dict, dict]:
    """Run every LP in its own process. Returns (results by LP, engine info). `leftovers`:
    files the children remove if the coordinator dies without cleaning up. `transport`:
    "pair" (a socketpair per link) or "zmq" (PUSH/PULL over ipc://)."""
    # abstract-namespace ipc names: nothing on disk to leave behind, no path-length limit
    base = f"ipc://@softnet-{os.getpid()}-{secrets.token_hex(6)}"
    procs: dict[str, subprocess.Popen] = {}
    pairs: dict = {}
    rings: dict = {}
    ctx = ctl = None
    suspend = _Suspend(procs)
    try:
        try:
            ctx = zmq.Context()
            ctl = ctx.socket(zmq.ROUTER)
            ctl.setsockopt(zmq.LINGER, 0)
            ctl.bind(f"{base}/ctl")
            links = [(l["src"], l["dst"]) for s in specs for l in s["out_links"]]
            pairs.update(make_pairs(links) if transport in ("pair", "shm") else {})
            if transport == "shm":
                rings.update(make_rings(links))
        except (zmq.ZMQError, OSError) as e:
            raise LPFailed("coordinator", f"could not set up its links: {e}") from None
        cycles = cycle_inputs(links)
        for s in specs:
            _spawn(procs, s, pairs, transport, leftovers, rings,
                   {"end": end, "ipc_base": base, "control": f"{base}/ctl",
                    "fault": (fault or {}).get(s["name"]),
                    "cycle_inputs": sorted(cycles.get(s["name"], ()))})
        _close_pairs(pairs)            # each end lives on in its LP's process only
        _close_pairs(rings)
        info = _place(procs)
        _wait_ready(procs, ctl)
        if on_started is not None:
            on_started(info)
        # spin before blocking only where every process has a core of its own
        spin_us = SPIN_US if all(c is not None for c in info["placement"].values()) else 0
        for n in procs:
            ctl.send_multipart([n.encode(), pack_msg("go", {"spin_us": spin_us})])
        results = _gather(procs, ctl, on_progress)
        # Every LP has heard the last frame of each of its inputs: nothing is left in a
        # pipe, so they may close with linger 0.
        for n in procs:
            ctl.send_multipart([n.encode(), pack_msg("bye")])
        _join(procs, 10)
        return results, info
    finally:
        # the first stop signal makes the others ignored, so this runs to its end
        try:
            suspend.restore()
            _close_pairs(pairs)
            _close_pairs(rings)
            _stop_all(procs)
        finally:
            if ctx is not None:
                ctx.destroy(linger=0)


def _spawn(procs: dict, s: dict, pairs: dict, transport: str, leftovers, rings: dict,
           extra: dict) -> None:
    name = s["name"]
    # the parent's path after the child's own (a test's toy LP lives there), never before
    spec = {**s, **extra, "sys_path": list(sys.path)}
    fds: tuple[int, ...] = ()
    if transport in ("pair", "shm"):     # with shm the socketpairs stay, as doorbells
        t = {"kind": transport,
             "in_fds": {l["src"]: pairs[(l["src"], name)][1] for l in s["in_links"]},
             "out_fds": {l["dst"]: pairs[(name, l["dst"])][0] for l in s["out_links"]}}
        if transport == "shm":
            t["in_rings"] = {l["src"]: rings[(l["src"], name)] for l in s["in_links"]}
            t["out_rings"] = {l["dst"]: rings[(name, l["dst"])] for l in s["out_links"]}
        spec["transport"] = t
        fds = tuple(fd for part in t.values() if isinstance(part, dict)
                    for fd in part.values())
    # -P: nothing from the current directory shadows the installed package
    procs[name] = p = subprocess.Popen(
        [sys.executable, "-P", "-m", "softnet.engine.worker", name, *leftovers],
        stdin=subprocess.PIPE, start_new_session=True, close_fds=True, pass_fds=fds)
    try:
        send_spec(p.stdin, spec)
    except BrokenPipeError:
        _check_alive(procs, ready=set())
        raise LPFailed(name, "ended before it read its spec") from None


def _place(procs: dict) -> dict:
    pids = {n: p.pid for n, p in procs.items()}
    placement = plan_placement(list(procs))
    for n, core in placement.items():
        if core is not None:
            try:
                psutil.Process(pids[n]).cpu_affinity([core])
            except psutil.Error:
                placement[n] = None
    return {"pids": pids, "placement": placement}


def _wait_ready(procs: dict, ctl: zmq.Socket) -> None:
    ready: set[str] = set()
    deadline = time.monotonic() + START_TIMEOUT
    while len(ready) < len(procs):
        for name, kind, body in _messages(ctl, 200):
            if kind == "error":
                raise LPFailed(name, f"failed while starting:\n{body}")
            if kind == "ready":
                ready.add(name)
        _check_alive(procs, ready=set(), ctl=ctl)
        if time.monotonic() > deadline:
            missing = sorted(set(procs) - ready)
            raise LPFailed(missing[0], f"did not start within {START_TIMEOUT:.0f} s")


def _gather(procs: dict, ctl: zmq.Socket, on_progress) -> dict[str, dict]:
    results: dict[str, dict] = {}
    # every LP counts from time 0 until it reports: the least time shown never runs ahead
    progress: dict[str, dict] = {n: {"t": 0} for n in procs}
    while len(results) < len(procs):
        for name, kind, body in _messages(ctl, 200):
            if kind == "result":
                results[name] = body
            elif kind == "error":
                raise LPFailed(name, f"failed:\n{body}")
            elif kind == "progress":
                progress[name] = body
                if on_progress is not None:
                    on_progress(progress)
        _check_alive(procs, ready=set(results), ctl=ctl)
    return results


def _messages(ctl: zmq.Socket, timeout_ms: int):
    """Every control message waiting now (after up to `timeout_ms` for the first)."""
    if not ctl.poll(timeout_ms):
        return
    while True:
        who, raw = ctl.recv_multipart()
        kind, body = unpack_msg(raw)
        yield who.decode(), kind, body
        if not ctl.poll(0):
            return


class _Suspend:
    """Ctrl-Z stops the LP processes too (they run in sessions of their own, out of the
    terminal's reach), and `fg` or `bg` continues them."""

    def __init__(self, procs: dict) -> None:
        self.procs = procs
        self.saved = {}
        for sig, h in ((signal.SIGTSTP, self._stop), (signal.SIGCONT, self._cont)):
            try:
                self.saved[sig] = signal.signal(sig, h)
            except ValueError:          # not the main thread: leave job control alone
                pass

    def _signal_all(self, sig) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, sig)
                except ProcessLookupError:
                    pass

    def _stop(self, signum, frame) -> None:
        self._signal_all(signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)          # stops here until SIGCONT
        signal.signal(signal.SIGTSTP, self._stop)

    def _cont(self, signum, frame) -> None:
        self._signal_all(signal.SIGCONT)

    def restore(self) -> None:
        self._signal_all(signal.SIGCONT)               # a stopped child cannot stop
        for sig, h in self.saved.items():
            signal.signal(sig, h)
        self.saved = {}


def _close_pairs(pairs: dict) -> None:
    """Close every fd the dict holds (a socketpair's two ends, or a ring's memfd)."""
    for ends in pairs.values():
        for fd in ends if isinstance(ends, tuple) else (ends,):
            try:
                os.close(fd)
            except OSError:
                pass
    pairs.clear()


def _join(procs: dict[str, subprocess.Popen], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for p in procs.values():
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass


def _check_alive(procs: dict[str, subprocess.Popen], ready: set[str],
                 ctl: zmq.Socket | None = None) -> None:
    for name, p in procs.items():
        if name in ready:
            continue
        code = p.poll()
        if code is None:
            continue
        if ctl is not None:
            # its own report of what went wrong may still be on the way: it says more
            deadline = time.monotonic() + ERROR_GRACE_S
            while time.monotonic() < deadline:
                for who, kind, body in _messages(ctl, 50):
                    if kind == "error":
                        raise LPFailed(who, f"failed:\n{body}")
        if code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = str(-code)
            raise LPFailed(name, f"was killed by {sig}")
        raise LPFailed(name, f"exited with code {code} before finishing")


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    """Close every child's lifeline (its cue to stop, wherever it is, even before it has
    connected its control socket), give them 3 s, then kill what is left."""
    for p in procs.values():
        try:
            p.stdin.close()
        except OSError:
            pass
    _join(procs, 3)
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    _join(procs, 5)


def run_inline_mode(specs: list[dict], end: int,
                    on_progress: Callable[[dict], None] | None = None) -> tuple[dict, dict]:
    lps = [build_lp(s) for s in specs]
    results = run_inline(lps, end, on_progress)
    return results, {"pids": {s["name"]: os.getpid() for s in specs}, "placement": {}}

