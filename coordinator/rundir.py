"""The run directory: claimed before a run, written whole after it, never half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import tomli_w

from .config import user_view


def write_run_dir(out_dir: str, r: dict, assembled: dict, engine_info: dict,
                  force: bool = False) -> None:
    """Write everything into a sibling temporary directory, then rename it into place:
    a failed or interrupted run leaves nothing half-written."""
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and os.listdir(out_dir) and not force:
        raise FileExistsError(f"{out_dir} exists and is not empty; choose another --out "
                              "or pass --force to replace it")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".softnet-", dir=parent)
    try:
        with open(os.path.join(tmp, "config.toml"), "wb") as f:
            tomli_w.dump(user_view(r), f)
        with open(os.path.join(tmp, "summary.json"), "w") as f:
            json.dump(assembled["summary"], f, indent=2, sort_keys=False)
            f.write("\n")
        with open(os.path.join(tmp, "engine.json"), "w") as f:
            json.dump(engine_info, f, indent=2)
            f.write("\n")
        for rel, text in assembled["files"].items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
