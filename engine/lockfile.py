"""Lock files held with flock(2): taken by the coordinator for a run directory, and
removed by whoever finds one that nobody holds (the LP processes of a killed coordinator).
The kernel drops a flock when its holder dies, so a left-over file never blocks anyone;
removing it is tidiness, done only when it is provably free and still the same file.

May import: the standard library.
"""

from __future__ import annotations

import fcntl
import os
import time


class Held(Exception):
    """Another process holds the lock."""


def take(path: str) -> int:
    """Create or open `path` and hold it; returns the fd (closing it releases the lock).
    Raises Held, or OSError when the file cannot be made."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Held(path) from None
        if is_at(fd, path):
            return fd
        os.close(fd)      # its holder removed it between our open and our lock: again


def is_at(fd: int, path: str) -> bool:
    """The file open at `fd` is still the one at `path` (not unlinked or replaced)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def release(fd: int, path: str) -> None:
    """Remove our lock file and let go of it."""
    try:
        if is_at(fd, path):
            os.unlink(path)
    except OSError:
        pass
    os.close(fd)


def remove_if_free(path: str, wait_s: float = 0.0) -> bool:
    """Remove a lock file that nobody holds; a held one, or one replaced meanwhile, stays.
    `wait_s`: how long a held lock is retried (a dead holder's lock is dropped only as the
    kernel finishes closing its files, possibly after its other pipes reported its end).
    True when the file is gone."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return not os.path.lexists(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
            continue
        release(fd, path)
        return True
