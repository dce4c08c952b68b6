"""ntuple rules in the NIC's classifier, ahead of RSS, as igb accepts them on an I350."""

import pytest

from helpers import BASIC, balanced, run_inline, softnet
from softnet.nic.rss import flow_hash_and_queue

FLOW = {"proto": "udp", "src_ip": "10.0.0.2", "sport": 40000, "dst_ip": "10.0.0.1",
        "dport": 9000}


def rss(rules):
    return {"key": bytes(range(40)), "rx_flow_hash": {"udp4": "sdfn"}, "reta": [0, 1] * 64,
            "rules": rules}


def test_filter_wins_over_rss_and_last_match_decides():
    h, q = flow_hash_and_queue(FLOW, rss([]))
    other = 1 - q
    assert flow_hash_and_queue(FLOW, rss([{"flow_type": "ether", "proto": 0x0800,
                                           "action": other}])) == (h, other)
    assert flow_hash_and_queue(FLOW, rss([{"flow_type": "ether", "proto": 0x86DD,
                                           "action": other}])) == (h, q)   # IPv6 only
    both = [{"flow_type": "ether", "proto": 0x0800, "action": other},
            {"flow_type": "ether", "proto": 0x0800, "action": q}]
    assert flow_hash_and_queue(FLOW, rss(both))[1] == q


def test_ether_rule_steers_every_ipv4_frame_to_its_queue(tmp_path):
    s = run_inline(tmp_path / "r", "nic.ntuple=true",
                   'nic.rules=[{flow_type="ether", proto="0x0800", action=2}]')
    assert balanced(s)
    assert {f["rx_queue"] for f in s["flows"]} == {2}
    processed = {c: v["processed"] for c, v in s["softnet"].items()}
    assert processed["cpu2"] > 0 and sum(processed.values()) == processed["cpu2"]


@pytest.mark.parametrize("sets, words", [
    (['nic.ntuple=true', 'nic.rules=[{flow_type="udp4", dst_port=9000, action=2}]'],
     ["flow_type", "udp4", "ether", "EINVAL", "aRFS"]),
    (['nic.rules=[{flow_type="ether", proto=2048, action=1}]'], ["ntuple = true"]),
    (['nic.ntuple=true', 'nic.rules=[{flow_type="ether", proto=2048, action=4}]'],
     ["action", "0 to 3"]),
    (['nic.ntuple=true', 'nic.rules=[{flow_type="ether", proto=2048, action=-1}]'],
     ["cannot drop"]),
    (['nic.ntuple=true', 'nic.rules=[' + ",".join(
        f'{{flow_type="ether", proto={0x88b5 + i}, action=0}}' for i in range(4)) + ']'],
     ["EtherType filters"]),
])
def test_rules_the_driver_refuses(sets, words):
    args = ["validate", BASIC]
    for x in sets:
        args += ["--set", x]
    r = softnet(*args)
    assert r.returncode == 2, r.stdout
    for w in words:
        assert w in r.stderr, (w, r.stderr)
