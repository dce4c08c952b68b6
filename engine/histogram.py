"""Log-linear latency histograms (16 sub-buckets per power of two, ≈3% resolution),
filled in batches with numpy and merged by adding counts, so per-stage latency
distributions cost a few appends per packet and fixed memory."""

from __future__ import annotations

from array import array

import numpy as np

SUB_BITS = 4
SUB = 1 << SUB_BITS                # 16 sub-buckets per octave
LINEAR = 2 * SUB                   # values below 32 ns get a bucket each
NBINS = LINEAR + 48 * SUB          # up to 2^52 ns


def bin_index(v: np.ndarray) -> np.ndarray:
    v = np.maximum(v, 0)
    out = v.copy()
    big = v >= LINEAR
    if big.any():
        vb = v[big]
        _, e = np.frexp(vb.astype(np.float64))     # e = bit length (exact below 2^53)
        shift = e.astype(np.int64) - (SUB_BITS + 1)
        mant = vb >> shift
        out[big] = LINEAR + shift * SUB + (mant - SUB)
    return out


def bin_lower(idx: int) -> int:
    if idx < LINEAR:
        return idx
    shift, m = divmod(idx - LINEAR, SUB)
    return (SUB + m) << shift


def bin_upper(idx: int) -> int:
    if idx < LINEAR:
        return idx + 1
    shift, m = divmod(idx - LINEAR, SUB)
    return (SUB + m + 1) << shift


class Recorder:
    """Collects values in an array and folds them into bin counts every `batch`."""

    __slots__ = ("buf", "counts", "n", "total", "max", "batch")

    def __init__(self, batch: int = 65536) -> None:
        self.buf = array("q")
        self.counts = np.zeros(NBINS, dtype=np.int64)
        self.n = 0
        self.total = 0
        self.max = 0
        self.batch = batch

    def add(self, v: int) -> None:
        self.buf.append(v)
        if len(self.buf) >= self.batch:
            self.fold()

    def fold(self) -> None:
        if self.buf:
            self.add_many(np.frombuffer(self.buf, dtype=np.int64))
            self.buf = array("q")

    def add_many(self, a: np.ndarray) -> None:
        if a.size == 0:
            return
        self.counts += np.bincount(bin_index(a), minlength=NBINS)
        self.n += int(a.size)
        self.total += int(a.sum())
        self.max = max(self.max, int(a.max()))

    def export(self) -> dict:
        self.fold()
        nz = np.nonzero(self.counts)[0]
        return {"n": self.n, "sum": self.total, "max": self.max,
                "bins": [[int(i), int(self.counts[i])] for i in nz]}


def merge(parts: list[dict]) -> dict:
    bins: dict[int, int] = {}
    out = {"n": 0, "sum": 0, "max": 0}
    for p in parts:
        out["n"] += p["n"]
        out["sum"] += p["sum"]
        out["max"] = max(out["max"], p["max"])
        for i, c in p["bins"]:
            bins[i] = bins.get(i, 0) + c
    out["bins"] = sorted([i, c] for i, c in bins.items())
    return out


def percentiles(h: dict, qs=(50, 90, 99, 99.9)) -> dict:
    """Percentiles in ns (the containing bucket's midpoint, never above the true max)."""
    n = h["n"]
    res = {"count": n}
    if n == 0:
        return res
    res["mean"] = round(h["sum"] / n, 1)
    for q in qs:
        rank = max(1, int(np.ceil(q / 100 * n)))
        seen = 0
        for i, c in h["bins"]:
            seen += c
            if seen >= rank:
                mid = (bin_lower(i) + bin_upper(i) - 1) / 2
                res[f"p{q:g}"] = min(round(mid, 1), h["max"])
                break
    res["max"] = h["max"]
    return res
