"""`softnet diff`: what changed between two run directories."""

import json
import shutil

import pytest

from helpers import run_inline, softnet, summary

from softnet.coordinator.cli import main
from softnet.coordinator.compare import (flatten, parse_header_pairs, parse_softnet_stat,
                                         compare, differs)


def _run(out, *sets):
    run_inline(out, 'duration="3ms"', *sets, file=None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    _run(d / "a")
    _run(d / "b", "flows.0.rate=400kpps")
    shutil.copytree(d / "a", d / "a2")
    return d


def test_flatten_keys_named_tables_by_name():
    got = flatten({"flows": [{"name": "x", "rate": 1}, {"name": "y", "rate": 2}],
                   "rules": [{"a": 1}, {"a": 2}], "nic": {"model": "i350"}, "v": [1, 2]})
    assert got == {"flows.x.rate": 1, "flows.y.rate": 2, "rules.0.a": 1, "rules.1.a": 2,
                   "nic.model": "i350", "v": [1, 2]}


def test_counter_parsers():
    snmp = "Ip: Forwarding InReceives\nIp: 1 42\nUdp: InDatagrams NoPorts\nUdp: 7 3\n"
    assert parse_header_pairs(snmp, "snmp") == {"snmp.Ip.Forwarding": 1,
                                                "snmp.Ip.InReceives": 42,
                                                "snmp.Udp.InDatagrams": 7,
                                                "snmp.Udp.NoPorts": 3}
    row = " ".join(f"{v:08x}" for v in (300, 2, 5, 0, 0, 0, 0, 0, 0, 9, 1, 4, 1, 3, 1))
    got = parse_softnet_stat(row + "\n")
    assert got["softnet_stat.cpu1.processed"] == 300
    assert got["softnet_stat.cpu1.dropped"] == 2
    assert got["softnet_stat.cpu1.time_squeeze"] == 5
    assert got["softnet_stat.cpu1.received_rps"] == 9
    assert got["softnet_stat.cpu1.flow_limit_count"] == 1
    assert got["softnet_stat.cpu1.backlog_len"] == 4
    assert got["softnet_stat.cpu1.input_qlen"] == 3


def test_identical_runs_do_not_differ(runs, capsys):
    assert not differs(compare(str(runs / "a"), str(runs / "a2")))
    assert main(["diff", str(runs / "a"), str(runs / "a2")]) == 0
    out = capsys.readouterr().out
    assert "experiment (config.toml): 0 of" in out
    assert "figures (summary.json): 0 of" in out


def test_a_changed_rate_shows_in_config_figures_and_counters(runs, capsys):
    a, b = str(runs / "a"), str(runs / "b")
    assert main(["diff", a, b]) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.strip().startswith("flows.steady-a.rate"))
    assert "400kpps" in line
    sa, sb = summary(a), summary(b)
    assert sa["offered"] != sb["offered"]
    # the deltas are B − A of the files themselves
    assert main(["diff", a, b, "--json"]) == 1
    got = json.loads(capsys.readouterr().out)
    rows = {r["key"]: r for r in got["summary"]}
    assert rows["offered"]["delta"] == sb["offered"] - sa["offered"]
    assert rows["offered"]["a"] == sa["offered"]
    counters = {r["key"]: r for r in got["counters"]}
    assert counters["ethtool.rx_packets"]["b"] == sb["offered"]
    assert counters["ethtool.rx_packets"]["delta"] == sb["offered"] - sa["offered"]
    assert any(k.startswith("snmp.Udp.InDatagrams") for k in counters)
    # only differences unless --all
    assert all(r["a"] != r["b"] for r in got["summary"])
    assert main(["diff", a, b, "--json", "--all"]) == 1
    every = json.loads(capsys.readouterr().out)
    assert len(every["summary"]) > len(got["summary"])


def test_unreadable_inputs_are_refused(runs, tmp_path, capsys):
    assert main(["diff", str(runs / "a"), str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(runs / "a", broken)
    (broken / "summary.json").write_text("{not json")
    assert main(["diff", str(runs / "a"), str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_a_missing_counter_file_is_named(runs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(runs / "a", old)
    (old / "ethtool_S.txt").unlink()
    assert main(["diff", str(runs / "a"), str(old)]) == 1
    assert "ethtool_S.txt" in capsys.readouterr().out.split("not in")[-1]


def test_the_command_as_a_user_runs_it(runs):
    r = softnet("diff", str(runs / "a"), str(runs / "b"))
    assert r.returncode == 1, r.stderr
    assert "flows.steady-a.rate" in r.stdout


def test_every_port_is_compared(tmp_path, capsys):
    from helpers import ROOT
    a, b = tmp_path / "a", tmp_path / "b"
    for out, rate in ((a, "300kpps"), (b, "100kpps")):
        assert main(["run", f"{ROOT}/examples/router2.toml", "--mode", "inline", "--out",
                     str(out), "--quiet", "--duration", "2ms", "--set",
                     f"flows.1.rate={rate}"]) == 0
    assert main(["diff", str(a), str(b), "--json"]) == 1
    keys = {r["key"] for r in json.loads(capsys.readouterr().out)["counters"]}
    assert any(k.startswith("ethtool.eth1.") for k in keys)
