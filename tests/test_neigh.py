"""Neighbour resolution on the transmit path (kernel-spec §10.1: neigh_resolve_output,
arp_queue and unres_qlen_bytes; static entries)."""

import os

import pytest

from helpers import ROOT, assert_refused, ethtool, run_both_modes, run_inline, tx_balanced

SENDER = os.path.join(ROOT, "examples", "sender.toml")




def test_first_send_resolves_the_neighbour_with_one_request(tmp_path):
    s = run_inline(tmp_path / "a", file=SENDER)
    n = s["neigh"]["10.0.0.9"]
    assert n == {"cpus": [0], "state": "reachable", "requests": 1, "replies": 1,
                 "unres_discards": 0}
    assert s["arp_requests_on_wire"] == 1 and tx_balanced(s)
    st = ethtool(tmp_path / "a")
    assert st["tx_packets"] == s["on_wire_frames"] + 1           # the request is a frame too


def test_a_permanent_entry_needs_no_arp(tmp_path):
    s = run_inline(tmp_path / "p", 'host.neigh={"10.0.0.9" = "permanent"}', file=SENDER)
    assert "neigh" not in s and tx_balanced(s)
    st = ethtool(tmp_path / "p")
    assert st["tx_packets"] == s["on_wire_frames"]


def test_a_slow_answer_holds_packets_and_drops_the_oldest_over_unres_qlen_bytes(tmp_path):
    fast = run_inline(tmp_path / "f", file=SENDER)
    slow = run_inline(tmp_path / "s", "host.arp_reply_delay=2ms",
                      "net.ipv4.neigh.default.unres_qlen_bytes=20000", file=SENDER)
    assert tx_balanced(slow)
    n = slow["neigh"]["10.0.0.9"]
    # 2 ms of 120 kpps wait for the answer; 20000 bytes hold 8 skbs of 2304 truesize
    assert n["unres_discards"] == slow["tx_drops"]["neigh_unres_drop"] > 150
    assert slow["on_wire"] < fast["on_wire"]
    held = run_inline(tmp_path / "h", "host.arp_reply_delay=20ms", "duration=\"1ms\"",
                      file=SENDER)
    assert held["neigh"]["10.0.0.9"]["state"] == "incomplete"
    assert held["tx_in_flight_by_place"]["neigh"] > 0 and held["on_wire"] == 0
    assert tx_balanced(held)


def test_neighbour_resolution_both_modes_identical(tmp_path):
    run_both_modes(tmp_path, "--set", "host.arp_reply_delay=50us", file=SENDER)


@pytest.mark.parametrize("sets,msg", [
    (['host.neigh={"10.0.0.9" = "stale"}'], "permanent"),
    (['host.neigh={"nine" = "permanent"}'], "IPv4"),
    (["host.arp_reply_delay=-1"], "arp_reply_delay"),
])
def test_bad_neighbour_keys_are_refused(tmp_path, sets, msg):
    assert_refused(tmp_path, SENDER, sets, msg)
