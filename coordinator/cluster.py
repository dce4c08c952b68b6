"""Sweep points on a Dask cluster (`softnet sweep … --scheduler tcp://HOST:8786`), for a
sweep that outgrows one machine: each point is an ordinary `softnet run` on a worker's
host (softnet installed there too), its run directory sent back whole (a gzip tar) and
unpacked where a local point would have written it. Dask distributed is the optional
extra `pip install 'softnet[cluster]'`.

May import: the standard library and, when a scheduler is given, dask.distributed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile

CONNECT_TIMEOUT_S = 10


class ClusterError(ValueError):
    """The scheduler cannot be used; the message says why and what to do."""


def remote_point(file_text: str | None, sets: list[str], mode: str) -> tuple[int, str, bytes]:
    """On a worker: run one point; (exit status, its stderr, its run directory as tar.gz)."""
    with tempfile.TemporaryDirectory(prefix="softnet-point-") as d:
        argv = [sys.executable, "-m", "softnet.coordinator", "run"]
        if file_text is not None:
            path = os.path.join(d, "experiment.toml")
            with open(path, "w") as f:
                f.write(file_text)
            argv.append(path)
        for s in sets:
            argv += ["--set", s]
        out = os.path.join(d, "run")
        p = subprocess.run(argv + ["--out", out, "--mode", mode, "--quiet"],
                           capture_output=True, text=True)
        data = b""
        if p.returncode == 0:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as t:
                t.add(out, arcname=".")
            data = buf.getvalue()
        return p.returncode, p.stderr, data


class ClusterRunner:
    """Runs points on the cluster behind `address`; one call per point, from any thread."""

    def __init__(self, address: str, file: str | None) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ClusterError("--scheduler needs Dask distributed: pip install "
                               "'softnet[cluster]'") from None
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterError(f"--scheduler {address}: cannot connect ({e})") from None
        self.file_text = None
        if file is not None:
            with open(file) as f:
                self.file_text = f.read()
        self.futures: set = set()

    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def run(self, sets: list[str], mode: str, dest: str) -> tuple[int, str]:
        fut = self.client.submit(remote_point, self.file_text, sets, mode, pure=False)
        self.futures.add(fut)
        try:
            code, err, data = fut.result()
        finally:
            self.futures.discard(fut)
        if code == 0:
            os.makedirs(dest)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
                t.extractall(dest, filter="data")
        return code, err

    def stop(self) -> None:
        """Cancel what has not finished, and let go of the cluster."""
        if self.futures:
            self.client.cancel(list(self.futures))
        self.client.close()
