"""Reading a finished run directory back: a file by its path inside the directory, with a
clear error (`Damaged`) when the directory or the file is not what softnet wrote. Used by
`softnet show` and `softnet diff`.

May import: the standard library only.
"""

from __future__ import annotations

import json
import os


class Damaged(ValueError):
    """A run directory or one of its files is not what softnet wrote."""


def read_run_file(run_dir: str, rel: str) -> bytes:
    if not os.path.isdir(run_dir):
        raise Damaged(f"{run_dir}: not a directory (give a directory written by softnet run)")
    path = os.path.join(run_dir, rel)
    if not os.path.lexists(path):
        raise Damaged(f"{path}: not found (is {run_dir} a run directory? runs from older "
                      "softnet versions lack some files)")
    if not os.path.isfile(path):
        raise Damaged(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Damaged(f"{path}: cannot be read: {e.strerror}") from None


def as_text(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Damaged(f"{path}: damaged (not UTF-8 text: byte {e.start} is "
                      f"0x{data[e.start]:02x})") from None


def run_text(run_dir: str, rel: str) -> str:
    return as_text(os.path.join(run_dir, rel), read_run_file(run_dir, rel))


def run_json(run_dir: str, rel: str, expect: type = dict):
    """A JSON file of the run directory: an object (summary.json), or as `expect` says
    (a list: trace.json)."""
    path = os.path.join(run_dir, rel)
    text = run_text(run_dir, rel)
    if not text.strip():
        raise Damaged(f"{path}: damaged (empty)")
    try:
        s = json.loads(text)
    except json.JSONDecodeError as e:
        raise Damaged(f"{path}: damaged (not valid JSON: {e})") from None
    if not isinstance(s, expect):
        what = "an object" if expect is dict else f"a {expect.__name__}"
        raise Damaged(f"{path}: damaged (a JSON {type(s).__name__}, not {what})")
    return s
