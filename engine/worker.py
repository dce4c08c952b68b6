"""The first code an LP's OS process runs: `python -m softnet.engine.worker NAME [PATH…]`.

Its standard input is a pipe from the coordinator that carries the LP's spec (a 64-bit
length, then a pickle) and then nothing, ever: the coordinator never closes its end while
it lives, so end-of-file on that pipe means the coordinator is gone, however it went (an
exception, SIGTERM, SIGKILL). The worker reads it from its first instruction and keeps
watching it to its last (`process.lp_main` polls it with the LP's sockets); a worker that
sees it end removes the PATHs it was given (the run's ipc directory, the run directory's
lock) and exits quietly. The coordinator starts each
worker in a session of its own, so a terminal's Ctrl-C or hang-up reaches the coordinator
alone, which stops the workers itself.

May import: the standard library, `setproctitle`, and the rest of `engine`.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import sys

from . import lockfile

LIFELINE_FD = 0          # standard input
LOCK_WAIT_S = 2.0        # how long a dead coordinator's run-directory lock is waited for
_LEN = struct.Struct("<Q")


def send_spec(pipe, spec: dict) -> None:
    """Coordinator side: write the spec into a worker's lifeline (and keep it open)."""
    blob = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LEN.pack(len(blob)) + blob)
    pipe.flush()


def _read_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def read_spec(fd: int = LIFELINE_FD) -> dict:
    (n,) = _LEN.unpack(_read_exact(fd, _LEN.size))
    return pickle.loads(_read_exact(fd, n))


def set_title(name: str) -> None:
    """`softnet: cpu2` in ps and top (argv and the kernel's comm)."""
    try:
        import setproctitle
    except ImportError:      # a cosmetic: never a reason to fail a run
        return
    title = f"softnet: {name}"
    setproctitle.setproctitle(title)
    setproctitle.setthreadtitle(title[:15])


def coordinator_gone(leftovers: list[str]) -> None:
    """The lifeline ended: nobody will collect this LP's result. Leave nothing behind: the
    run's ipc directory and whatever else the coordinator named (its run directory lock)."""
    for path in leftovers:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            lockfile.remove_if_free(path, wait_s=LOCK_WAIT_S)
    os._exit(0)


def main() -> None:
    # argv: NAME, then what to remove if the coordinator dies (known before the spec is)
    name, leftovers = sys.argv[1], sys.argv[2:]
    set_title(name)
    try:
        spec = read_spec()
    except (EOFError, OSError):
        coordinator_gone(leftovers)   # it died before it handed over the spec
    # after our own path: a factory outside the package (a test's toy LP) is found, and
    # nothing shadows the installed package
    sys.path += [p for p in spec.get("sys_path", []) if p not in sys.path]
    from .process import lp_main
    lp_main(spec, LIFELINE_FD, leftovers)


if __name__ == "__main__":
    main()
