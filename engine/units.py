"""Simulated time is an integer count of nanoseconds; this module parses the human units
experiment files use ("50ms", "200kpps", "1Gbit") into integers, and refuses anything else
with a message naming what is allowed."""

from __future__ import annotations

import re
from fractions import Fraction

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000

_TIME_UNITS = {"ns": NS, "us": US, "µs": US, "ms": MS, "s": S}
_RATE_PPS = {"pps": 1, "kpps": 1_000, "mpps": 1_000_000}
_RATE_BPS = {
    "bit": 1, "bps": 1, "bit/s": 1,
    "kbit": 10**3, "kbps": 10**3, "kbit/s": 10**3,
    "mbit": 10**6, "mbps": 10**6, "mbit/s": 10**6,
    "gbit": 10**9, "gbps": 10**9, "gbit/s": 10**9,
}
# A number and its unit: ASCII digits with an optional fraction, nothing else — no sign,
# exponent, `_`, inf/nan or non-ASCII digits (float() and int() take all of those). At most
# 30 digits a side: enough for any value a run can use, and the caller's bounds then say
# what is allowed instead of float() overflowing to inf.
_NUM = re.compile(r"[ \t]*([0-9]{1,30}(?:\.[0-9]{1,30})?)[ \t]*([A-Za-zµ/]+)[ \t]*")


class UnitError(ValueError):
    """A value with a unit that could not be read; the message says what is allowed."""


def parse_duration(value: object, what: str = "duration") -> int:
    """'50ms' -> 50_000_000. A bare integer is taken as nanoseconds."""
    if isinstance(value, bool):
        raise UnitError(f"{what}: {value!r} is not a duration; use e.g. '50ms', '10us', '2s'")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"{what}: {value} is negative")
        return value
    if isinstance(value, str):
        m = _NUM.fullmatch(value)
        if m and m.group(2).lower() in _TIME_UNITS:
            # exact decimal arithmetic: "0.0000015ms" is 1.5 ns, which float() makes 1.4999…
            return round(Fraction(m.group(1)) * _TIME_UNITS[m.group(2).lower()])
    raise UnitError(f"{what}: {value!r} is not a duration; use a number with ns, us, ms or s "
                    f"(e.g. '50ms', '10us') or an integer count of nanoseconds")


def parse_rate(value: object, what: str = "rate") -> tuple[str, float]:
    """'200kpps' -> ('pps', 200000.0); '1Gbit' -> ('bps', 1e9)."""
    if isinstance(value, str):
        m = _NUM.fullmatch(value)
        if m:
            num, unit = float(m.group(1)), m.group(2).lower()
            if unit in _RATE_PPS:
                return "pps", num * _RATE_PPS[unit]
            if unit in _RATE_BPS:
                return "bps", num * _RATE_BPS[unit]
    raise UnitError(f"{what}: {value!r} is not a rate; use packets per second "
                    f"('200kpps', '1.5Mpps', '5000pps') or bits per second ('1Gbit', '500Mbit')")


def parse_bitrate(value: object, what: str = "line rate") -> int:
    """'1Gbit' -> 1_000_000_000 bits per second."""
    kind, num = parse_rate(value, what)
    if kind != "bps":
        raise UnitError(f"{what}: {value!r} must be in bits per second, e.g. '1Gbit', '10Gbit'")
    return int(num)


def fmt_ns(ns: int) -> str:
    """A readable form of a simulated time for screens and logs."""
    if ns >= S:
        return f"{ns / S:.3f}s"
    if ns >= MS:
        return f"{ns / MS:.3f}ms"
    if ns >= US:
        return f"{ns / US:.1f}us"
    return f"{ns}ns"
