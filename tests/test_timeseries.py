"""Per-interval time series (`[observe] interval`, `--interval`): the tables add up to the
run's totals, are the same in both modes, and change nothing else."""

import collections
import csv

import pytest

from helpers import BASIC, ethtool, refused, softnet, summary

from softnet.coordinator.cli import main
from softnet.coordinator.config import apply_sets, auto_interval, load_file, validate

TABLES = ("cpu", "queue", "flow", "drops", "socket")


def _rows(run, name):
    with open(run / "timeseries" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def _run(out, *extra, mode="inline"):
    args = ["run", BASIC, "--mode", mode, "--out", str(out), "--quiet", "--duration", "3ms",
            "--set", "flows.0.rate=900kpps", *extra]     # overloads the reader: drops
    assert main(args) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ts")
    _run(d / "with", "--interval", "700us")        # does not divide 3 ms: a short last row
    _run(d / "without")
    return d


def test_rows_cover_the_run_and_add_up_to_the_totals(runs):
    run = runs / "with"
    s = summary(run)
    cpu = _rows(run, "cpu")
    spans = sorted({(int(r["t_ns"]), int(r["t_end_ns"])) for r in cpu})
    assert spans == [(0, 700_000), (700_000, 1_400_000), (1_400_000, 2_100_000),
                     (2_100_000, 2_800_000), (2_800_000, 3_000_000)]
    assert len(cpu) == len(spans) * s["cpus"]
    by_cpu = collections.defaultdict(collections.Counter)
    for r in cpu:
        t = {c: int(r[f"{c}_ns"]) for c in ("hardirq", "softirq", "ksoftirqd", "task", "idle")}
        assert sum(t.values()) == int(r["t_end_ns"]) - int(r["t_ns"])   # the interval, exactly
        by_cpu[f"cpu{r['cpu']}"].update(t)
    assert {c: dict(v) for c, v in by_cpu.items()} == s["cpu_time_ns"]
    flows = collections.defaultdict(collections.Counter)
    for r in _rows(run, "flow"):
        flows[r["flow"]].update({k: int(r[k]) for k in ("offered", "delivered", "dropped")})
        if int(r["delivered"]):
            p50, p99, mx = (float(r[k]) for k in ("latency_p50_ns", "latency_p99_ns",
                                                  "latency_max_ns"))
            assert 0 < p50 <= p99 <= mx
    for f in s["flows"]:
        assert dict(flows[f["name"]]) == {k: f[k] for k in ("offered", "delivered",
                                                            "dropped")}, f["name"]
    drops = collections.Counter()
    for r in _rows(run, "drops"):
        assert r["books"] == "rx"                       # no sender in this run
        drops[r["stage"]] += int(r["packets"])
    assert sum(s["drops"].values()) > 0
    assert dict(drops) == s["drops"]
    queues = collections.Counter()
    for r in _rows(run, "queue"):
        queues[int(r["queue"])] += int(r["packets"])
    eth = ethtool(run)
    for q, n in queues.items():
        assert n == eth[f"rx_queue_{q}_packets"]
    assert {r["socket"] for r in _rows(run, "socket")} == {"server"}


def test_nothing_else_changes_and_nothing_is_written_unasked(runs):
    a, b = runs / "with", runs / "without"
    assert not (b / "timeseries").exists()
    for f in ("summary.json", "proc/net/softnet_stat", "proc/stat", "ethtool_S.txt"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert 'interval = "700us"' in (a / "config.toml").read_text()
    assert "observe" not in (b / "config.toml").read_text()


def test_identical_in_both_modes(runs, tmp_path):
    r = softnet("run", BASIC, "--mode", "process", "--out", str(tmp_path / "p"), "--quiet",
                "--duration", "3ms", "--set", "flows.0.rate=900kpps", "--interval", "700us")
    assert r.returncode == 0, r.stderr
    for t in TABLES:
        name = f"timeseries/{t}.csv"
        assert (tmp_path / "p" / name).read_bytes() == (runs / "with" / name).read_bytes(), t


def test_auto_interval():
    assert auto_interval(50_000_000) == 500_000
    assert auto_interval(123_000_000) == 1_000_000
    assert auto_interval(3_000_000) == 20_000
    assert auto_interval(10_000) == 1_000
    r = validate(apply_sets(load_file(None), ['observe.interval="auto"', 'duration="30ms"']))
    assert r["observe"]["interval_ns"] == 200_000


@pytest.mark.parametrize("value, says", [
    ('"500ns"', "from 1us"),
    ('"300ms"', "to the run's duration"),
    ('"1us"', "at most 100000 intervals"),
    ('"often"', "observe.interval"),
])
def test_bad_intervals_are_refused(value, says):
    assert says in refused(f"observe.interval={value}", 'duration="200ms"')


def test_unknown_observe_key_is_refused(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "x"), "--set", "observe.intervall=1"]) == 2
    err = capsys.readouterr().err
    assert "observe.intervall" in err
    assert not (tmp_path / "x").exists()


def test_cli_interval_flag_reaches_the_config(tmp_path):
    out = tmp_path / "r"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "2ms", "--interval", "auto"]) == 0
    assert 'interval = "auto"' in (out / "config.toml").read_text()
    spans = {r["t_ns"] for r in _rows(out, "cpu")}
    assert len(spans) == 100                          # 2 ms / 20 µs


def _example(out, name: str, interval: str) -> dict:
    from helpers import ROOT
    assert main(["run", f"{ROOT}/examples/{name}.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "2ms", "--interval", interval]) == 0
    return summary(out)


def test_forwarded_packets_by_the_time_they_left(tmp_path):
    out = tmp_path / "router"
    s = _example(out, "router", "500us")
    fwd = collections.Counter()
    for r in _rows(out, "flow"):
        fwd[r["flow"]] += int(r["forwarded"])
    assert sum(fwd.values()) > 0
    assert dict(fwd) == {f["name"]: f["forwarded"] for f in s["flows"]}


MIXED = """
duration = "3ms"
cpus = 1
[nic]
combined = 1
tx_ring = 64
txqueuelen = 4
[sysctl]
"net.ipv4.ip_forward" = 1
[[flows]]
name = "transit"
src = "10.1.0.2:40000"
dst = "10.2.0.9:7000"
rate = "60kpps"
size = 1518
[[apps]]
name = "sender"
cpu = 0
socket = { proto = "udp", sndbuf = 4000000 }
send = { dst = "10.2.0.9:7001", rate = "60kpps", size = 1518 }
"""


def test_a_stage_in_both_books_is_kept_apart(tmp_path):
    """A forwarded packet and a sender's datagram dropped at one qdisc: both qdisc_drop,
    one in the receive books, one in the senders'."""
    f = tmp_path / "mixed.toml"
    f.write_text(MIXED)
    out = tmp_path / "r"
    assert main(["run", str(f), "--mode", "inline", "--out", str(out), "--quiet",
                 "--interval", "500us"]) == 0
    s = summary(out)
    got = collections.Counter()
    for r in _rows(out, "drops"):
        got[(r["books"], r["stage"])] += int(r["packets"])
    assert s["drops"].get("qdisc_drop") and s["tx_drops"].get("qdisc_drop")
    assert got[("rx", "qdisc_drop")] == s["drops"]["qdisc_drop"]
    assert got[("tx", "qdisc_drop")] == s["tx_drops"]["qdisc_drop"]


def test_the_transmit_side(tmp_path):
    out = tmp_path / "sender"
    s = _example(out, "sender", "300us")
    sent = collections.Counter()
    wire = collections.Counter()
    for r in _rows(out, "sender"):
        sent[r["sender"]] += int(r["sent"])
        wire[r["sender"]] += int(r["on_wire"])
    assert sum(sent.values()) == s["sent"] > 0
    assert sum(wire.values()) == s["on_wire"] > 0
    pk = collections.Counter()
    rows = _rows(out, "txq")
    for r in rows:
        pk[f"tx-{r['queue']}"] += int(r["packets"])
        assert int(r["bql_inflight"]) >= 0 and int(r["qdisc_qlen"]) >= 0
    # the producing half's state is there: this sender keeps its qdisc and BQL busy
    assert any(int(r["bql_limit"]) > 0 for r in rows)
    assert any(int(r["qdisc_qlen"]) > 0 for r in rows)
    assert {q: n for q, n in pk.items() if n} == \
        {q: t["packets"] for q, t in s["tx_queues"].items() if t["packets"]}
