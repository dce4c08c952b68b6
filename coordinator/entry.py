"""The `softnet` command's entry point: the signal policy first, then the command line.

It imports nothing heavy before the handlers are in place, so a Ctrl-C, SIGTERM or SIGHUP
at any moment (even while numpy loads) ends in one line and the documented exit code
(128 + the signal's number: 130, 143, 129), never in a traceback. The first signal starts
the clean-up (every LP process stopped, the ipc directory removed, nothing half-written);
further ones are ignored until it is done, so the clean-up is never cut short.

May import: the standard library and `engine.worker` (light) here; `cli` once the
handlers are set.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from softnet.engine.worker import set_title

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


class Interrupted(BaseException):
    """A stop signal reached the coordinator. BaseException: no `except Exception`
    on the way out may swallow it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(self.signame)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_deferred: list[int] = []      # depth of `signals_deferred` sections, then signals held
_held: list[int] = []


def _on_signal(signum, frame) -> None:
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    if _deferred:
        _held.append(signum)
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_deferred():
    """A few steps that must not be cut in two (swapping a run directory into place): a
    stop signal that arrives meanwhile is raised when they are done. (A signal mask would
    not do: the kernel may deliver the signal to another thread, e.g. OpenBLAS's.)"""
    _deferred.append(1)
    try:
        yield
    finally:
        _deferred.pop()
    if not _deferred and _held:
        signum = _held[0]
        _held.clear()                   # raised once; what it stops is done with them
        raise Interrupted(signum)


def install_signal_handlers() -> None:
    """Catch the stop signals, except one the caller chose to ignore (`nohup` ignores
    SIGHUP, a shell's background job SIGINT): that choice is inherited and kept."""
    for s in SIGNALS:
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, _on_signal)


def entry(argv: list[str] | None = None) -> None:
    install_signal_handlers()
    # the role first, as the LP processes show theirs, then what it was asked to do
    set_title(" ".join(["coordinator", *(argv or sys.argv[1:])]))
    try:
        from .cli import main
        code = main(argv)
        for s in SIGNALS:            # the work is done: a late signal changes nothing
            signal.signal(s, signal.SIG_IGN)
        sys.stdout.flush()
    except Interrupted as e:
        say_last(f"softnet: stopped by {e.signame}; nothing was written")
        code = e.exit_code
    except BrokenPipeError:
        # `softnet show RUN | head`: the reader has gone; so do we, quietly (as cat does)
        _silence(sys.stdout)
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def say_last(line: str) -> None:
    """A last line on standard error, which may be a terminal that has hung up (EIO)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        _silence(sys.stderr)


def _silence(stream) -> None:
    """Point a dead stream at /dev/null, so closing it at exit raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass
