"""The run directory: claimed and proven writable before a run, written whole after it.

`claim` runs before any process starts: it takes an exclusive lock that names the
directory (so two runs aimed at one --out cannot both simulate), refuses a --force over
anything that is not recognisably a softnet run directory, and writes a probe where the
results will be staged (so an --out under a file, in a read-only place, on a full disk or
with a name too long is refused in the first second, not after the simulation). `commit`
writes everything into a sibling staging directory and only then swaps it into place: an
interrupted or failed run leaves the old directory as it was and nothing half-written.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile

import tomli_w

from softnet.engine import lockfile

from .config import user_view
from .entry import signals_deferred

MARKER = ".softnet-run"          # written into every run directory
# what a run directory from before the marker holds at least
LEGACY_SIGNATURE = ("summary.json", "engine.json", "config.toml")
PROBE_BYTES = 1 << 20            # a run directory is tens of KiB: 1 MiB of headroom


class OutError(ValueError):
    """--out cannot be used; the message says why and what to do."""


class OutBusy(OutError):
    """Another run holds --out."""


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, MARKER)) or all(
        os.path.isfile(os.path.join(path, n)) for n in LEGACY_SIGNATURE)


class RunDir:
    """A claimed --out: hold it from before the run until `commit` or `release`."""

    def __init__(self, out: str, force: bool) -> None:
        self.out = os.path.abspath(out)
        self.force = force
        self.parent = os.path.dirname(self.out)
        self.name = os.path.basename(self.out)
        self._lock_fd: int | None = None
        self.committed = False
        self._lock_path = os.path.join(self.parent, f".{self.name}.softnet-lock")

    # -- before the run -------------------------------------------------------------
    def claim(self) -> "RunDir":
        out = self.out
        if not self.name:
            raise OutError(f"--out {out}: not a directory name softnet can write")
        if os.path.lexists(out):
            self._check_existing()
        up = self.parent
        while not os.path.exists(up) and os.path.dirname(up) != up:
            up = os.path.dirname(up)
        if not os.path.isdir(up):
            raise OutError(f"--out {out}: {up} is a file, not a directory")
        try:
            os.makedirs(self.parent, exist_ok=True)
        except OSError as e:
            raise OutError(f"--out {out}: cannot create {self.parent}: {_why(e)}") from None
        self._lock()
        try:
            if os.path.lexists(out):     # it may have appeared while we waited for nothing
                self._check_existing()
            self._probe()
        except BaseException:
            self.release()
            raise
        return self

    def _check_existing(self) -> None:
        out = self.out
        if os.path.islink(out) or not os.path.isdir(out):
            raise OutError(f"--out {out}: exists and is not a directory; choose another")
        try:
            entries = os.listdir(out)
        except OSError as e:
            raise OutError(f"--out {out}: cannot be read: {_why(e)}") from None
        if not entries:
            return
        if not self.force:
            raise OutError(f"--out {out}: exists and is not empty; choose another, or pass "
                           "--force to replace a softnet run directory")
        if not is_run_dir(out):
            raise OutError(f"--out {out}: --force replaces only a softnet run directory "
                           f"(one with {MARKER}, or with {', '.join(LEGACY_SIGNATURE)}), "
                           "and this is not one; nothing was removed")

    def _lock(self) -> None:
        try:
            self._lock_fd = lockfile.take(self._lock_path)
        except lockfile.Held:
            raise OutBusy(f"--out {self.out}: another softnet run is writing there now "
                           f"(it holds {self._lock_path}); wait for it or choose another "
                           "--out") from None
        except OSError as e:
            raise OutError(f"--out {self.out}: cannot write in {self.parent}: "
                           f"{_why(e)}") from None

    def _probe(self) -> None:
        """Stage a directory of the final name's length and a probe file, then remove them."""
        try:
            tmp = tempfile.mkdtemp(prefix=".softnet-", dir=self.parent)
        except OSError as e:
            raise OutError(f"--out {self.out}: cannot write in {self.parent}: "
                           f"{_why(e)}") from None
        try:
            name_max = os.pathconf(self.parent, "PC_NAME_MAX")
            if len(os.fsencode(self.name)) > name_max:
                raise OutError(f"--out {self.out}: the name is {len(os.fsencode(self.name))} "
                               f"bytes; this filesystem allows {name_max}")
            probe = os.path.join(tmp, "probe")
            with open(probe, "wb") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise OutError(f"--out {self.out}: cannot write in {self.parent}: "
                           f"{_why(e)}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- after the run --------------------------------------------------------------
    def commit(self, r: dict, assembled: dict, engine_info: dict) -> None:
        """Write everything into a sibling staging directory, then swap it into place; the
        old directory (if --force) is removed only once the new one is complete."""
        tmp = self.stage()
        try:
            _write_all(tmp, r, assembled, engine_info)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.swap_in(tmp)

    def stage(self) -> str:
        """A new staging directory beside --out (what `swap_in` later puts in place)."""
        return tempfile.mkdtemp(prefix=".softnet-", dir=self.parent)

    def swap_in(self, tmp: str) -> None:
        """Put the complete staging directory `tmp` in --out's place (removed on failure)."""
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)         # mkdtemp's 0700 is for staging only
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        try:
            with signals_deferred():
                try:
                    # what is there now may have appeared during the run
                    if os.path.lexists(self.out):
                        self._check_existing()
                except OutError as e:
                    raise OutError(f"{e}; the results are kept in {tmp}") from None
                moved = None
                try:
                    if os.path.lexists(self.out):
                        if os.listdir(self.out):
                            old = tempfile.mkdtemp(prefix=".softnet-old-", dir=self.parent)
                            moved = os.path.join(old, "run")
                            os.rename(self.out, moved)
                        else:
                            os.rmdir(self.out)
                    os.rename(tmp, self.out)
                except BaseException:
                    if moved is not None:            # put the old one back
                        os.rename(moved, self.out)
                    if old is not None:
                        os.rmdir(old)
                        old = None
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                self.committed = True
        finally:
            # the old run goes once the new one is in place, even if a held signal is
            # raised as the swap ends
            if old is not None and self.committed:
                shutil.rmtree(old, ignore_errors=True)

    @property
    def lock_path(self) -> str:
        return self._lock_path

    def release(self) -> None:
        if self._lock_fd is not None:
            lockfile.release(self._lock_fd, self._lock_path)
            self._lock_fd = None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _write_all(tmp: str, r: dict, assembled: dict, engine_info: dict) -> None:
    with open(os.path.join(tmp, MARKER), "w") as f:
        f.write("softnet run directory: `softnet run --force` may replace it\n")
    with open(os.path.join(tmp, "config.toml"), "wb") as f:
        tomli_w.dump(user_view(r), f)
    if r["_profile_bytes"] is not None:     # a user's profile: config.toml names this copy
        with open(os.path.join(tmp, "profile.toml"), "wb") as f:
            f.write(r["_profile_bytes"])
    with open(os.path.join(tmp, "summary.json"), "w") as f:
        json.dump(assembled["summary"], f, indent=2, sort_keys=False)
        f.write("\n")
    with open(os.path.join(tmp, "engine.json"), "w") as f:
        json.dump(engine_info, f, indent=2)
        f.write("\n")
    for rel, content in assembled["files"].items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)


def _why(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno == errno.EROFS:
        return "read-only file system"
    if e.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if e.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a directory"
    return e.strerror or str(e)


def write_run_dir(out_dir: str, r: dict, assembled: dict, engine_info: dict,
                  force: bool = False) -> None:
    """Claim, write and release in one call (for callers that have nothing to run)."""
    with RunDir(out_dir, force).claim() as rd:
        rd.commit(r, assembled, engine_info)
