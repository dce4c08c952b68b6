"""One softnet run from a bench script: the experiment written as TOML, run through the
real command line in this process, its summary and engine record read back."""

from __future__ import annotations

import json
import os
import time

import tomli_w

from softnet.coordinator.cli import main as softnet


def run_softnet(cfg: dict, mode: str, workdir: str, tag: str,
                extra: tuple = ()) -> tuple[dict, dict, float, str]:
    """(summary.json, engine.json, wall seconds, run directory) of one run."""
    path = os.path.join(workdir, f"{tag}.toml")
    with open(path, "wb") as f:
        tomli_w.dump(cfg, f)
    out = os.path.join(workdir, tag)
    t0 = time.perf_counter()
    code = softnet(["run", path, "--mode", mode, "--out", out, "--quiet", "--force", *extra])
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"{tag}: softnet exited {code}")
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    with open(os.path.join(out, "engine.json")) as f:
        e = json.load(f)
    return s, e, wall, out
