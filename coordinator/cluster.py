"""Sweep points on a Dask cluster (`softnet sweep … --scheduler tcp://HOST:8786`), for a
sweep that outgrows one machine: each point is an ordinary `softnet run` on a worker's
host (softnet installed there too), its run directory sent back whole (a gzip tar) and
unpacked where a local point would have written it. A stopped sweep cancels its points
and ends the runs already going on the workers. Dask distributed is the optional
extra `pip install 'softnet[cluster]'`.

May import: the standard library, `sweep` (a point's command line) and, when a scheduler
is given, dask.distributed.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile

from .sweep import point_argv

CONNECT_TIMEOUT_S = 10


class ClusterError(ValueError):
    """The scheduler cannot be used; the message says why and what to do."""


def _point_dir(token: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"softnet-point-{token}")


def remote_point(file_text: str | None, sets: list[str], mode: str,
                 token: str, profile: bytes | None = None) -> tuple[int, str, bytes]:
    """On a worker: run one point; (exit status, its stderr, its run directory as tar.gz).
    The run gets a session of its own and leaves its pid under `token`, so `stop_points`
    can end it (and its LP processes) when the sweep is stopped."""
    d = _point_dir(token)
    os.makedirs(d)
    try:
        path = None
        if file_text is not None:
            path = os.path.join(d, "experiment.toml")
            with open(path, "w") as f:
                f.write(file_text)
        if profile is not None:               # the experiment's own cost profile file
            with open(os.path.join(d, "profile.toml"), "wb") as f:
                f.write(profile)
            sets = [*sets, 'profile="profile.toml"']
        out = os.path.join(d, "run")
        p = subprocess.Popen(point_argv(path, sets, out, mode), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(str(p.pid))
        _, err = p.communicate()
        data = b""
        if p.returncode == 0:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as t:
                t.add(out, arcname=".")
            data = buf.getvalue()
        return p.returncode, err, data
    finally:
        shutil.rmtree(d, ignore_errors=True)


def stop_points(tokens: list[str]) -> int:
    """On a worker: end the runs of these points still going here (SIGTERM: each stops its
    own LP processes); how many there were."""
    n = 0
    for token in tokens:
        try:
            with open(os.path.join(_point_dir(token), "pid")) as f:
                pid = int(f.read())
            os.killpg(pid, signal.SIGTERM)
            n += 1
        except (OSError, ValueError):
            continue                     # not here, or already over
    return n


def _probe(address: str) -> None:
    """A tcp:// scheduler that does not answer is refused before a Dask client exists
    (one that fails to connect still tries to close itself, for 20 s, at exit)."""
    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise ClusterError(f"--scheduler {address}: cannot connect ({e}); give "
                           "tcp://HOST:PORT of a running dask scheduler") from None


class ClusterRunner:
    """Runs points on the cluster behind `address`; one call per point, from any thread."""

    def __init__(self, address: str, file: str | None, profile: bytes | None = None) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ClusterError("--scheduler needs Dask distributed: pip install "
                               "'softnet[cluster]'") from None
        _probe(address)
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterError(f"--scheduler {address}: cannot connect ({e})") from None
        self.file_text = None
        if file is not None:
            with open(file) as f:
                self.file_text = f.read()
        self.profile = profile            # a profile file's bytes, written beside it
        self.futures: dict = {}           # unfinished point -> its token

    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def run(self, sets: list[str], mode: str, dest: str) -> tuple[int, str]:
        token = secrets.token_hex(8)
        fut = self.client.submit(remote_point, self.file_text, sets, mode, token,
                                 self.profile, pure=False)
        self.futures[fut] = token
        try:
            code, err, data = fut.result()
        finally:
            self.futures.pop(fut, None)
        if code == 0:
            os.makedirs(dest)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
                t.extractall(dest, filter="data")
        return code, err

    def stop(self) -> None:
        """Cancel what has not finished, end the runs already going on the workers (a
        cancelled task's child process would run on), and let go of the cluster."""
        pending = dict(self.futures)
        if pending:
            self.client.cancel(list(pending))
            try:
                self.client.run(stop_points, list(pending.values()))
            except (OSError, TimeoutError):
                pass                      # the workers are gone: so are their points
        self.client.close()
