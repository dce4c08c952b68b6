"""The record protocol, declared once (engine/records.py): receivers and the planner hold
every record to it, and an unknown or unexpected kind stops the run."""

import pytest

from helpers import BASIC

from softnet.coordinator.config import load_file, validate
from softnet.coordinator.topology import plan
from softnet.cpus import lookahead as cpu_lp
from softnet.engine.lp import SyncDriver
from softnet.engine.process import build_lp
from softnet.engine.records import KINDS, UnknownRecord, check_link, kinds_where


def _cpu0():
    p = plan(validate(load_file(BASIC)))
    spec = next(s for s in p.lps if s["name"] == "cpu0")
    lp = build_lp(spec)
    SyncDriver(lp, 1_000_000)
    return lp


def test_every_kind_a_cpu_receives_has_a_handler_and_nothing_else_does():
    lp = _cpu0()
    assert set(lp._file) == {k.name for k in KINDS.values() if k.dst == "cpu"} - {"rx"}


@pytest.mark.parametrize("kind,src", [("zz", "nic"), ("bl", "nic"), ("db", "cpu1")])
def test_an_unknown_or_unexpected_record_stops_the_run(kind, src):
    lp = _cpu0()
    lp.lp_index.setdefault(src, 9)
    with pytest.raises((UnknownRecord, RuntimeError), match=kind):
        lp.receive(src, {"cpu": [(kind, 10_000, 1, None)]})


def test_the_planner_checks_every_link_against_the_table():
    check_link("cpu0", "cpu1", ["sk", "bl", "ipi"])
    check_link("nic", "cpu0", ["rx", "txc", "arp"])
    with pytest.raises(UnknownRecord, match="undeclared"):
        check_link("cpu0", "cpu1", ["nope"])
    with pytest.raises(UnknownRecord, match="goes cpu->nic"):
        check_link("cpu0", "cpu1", ["db"])


def test_the_lookahead_takes_its_kind_sets_from_the_table():
    assert cpu_lp.KERNEL_KINDS == set(kinds_where(from_kernel=True)) == \
        {"sk", "bl", "ipi", "qh", "arfs", "wf", "tc"}
    assert cpu_lp.CAUSAL_KINDS == {"rx", "bl", "ipi", "txc", "xq", "arp", "tc"}
    assert cpu_lp.DATA_KINDS == {"bl", "ipi", "sk", "qh"}
    assert {k.link for k in KINDS.values()} == {"pcie", "interconnect"}
