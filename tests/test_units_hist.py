import numpy as np
import pytest

from softnet.engine.histogram import Recorder, bin_index, bin_lower, bin_upper, merge, percentiles
from softnet.engine.units import UnitError, parse_duration, parse_rate


def test_durations():
    assert parse_duration("50ms") == 50_000_000
    assert parse_duration("1.5us") == 1500
    assert parse_duration(7) == 7
    for bad in ("5 parsecs", "ms", -1, True, "1e3ms"):
        with pytest.raises(UnitError):
            parse_duration(bad)


def test_rates():
    assert parse_rate("200kpps") == ("pps", 200_000)
    assert parse_rate("1Gbit") == ("bps", 1e9)
    with pytest.raises(UnitError):
        parse_rate("fast")


def test_bins_contain_their_values():
    v = np.array([0, 1, 31, 32, 33, 100, 999, 10**6, 2**40 + 12345], dtype=np.int64)
    for x, i in zip(v, bin_index(v)):
        assert bin_lower(int(i)) <= x < bin_upper(int(i))


def test_percentiles_and_merge():
    a, b = Recorder(batch=7), Recorder()
    for i in range(1, 501):
        a.add(i)
    for i in range(501, 1001):
        b.add(i)
    h = merge([a.export(), b.export()])
    p = percentiles(h)
    assert p["count"] == 1000 and p["max"] == 1000 and p["mean"] == 500.5
    assert abs(p["p50"] - 500) / 500 < 0.04 and abs(p["p99"] - 990) / 990 < 0.04
