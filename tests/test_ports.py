"""A NIC with several ports (one netdev, queues, vectors and link each) and routes: a
router that receives on one port and sends out of another."""

import os

import pytest

from helpers import ROOT, assert_refused, run_both_modes, run_inline

ROUTER2 = os.path.join(ROOT, "examples", "router2.toml")


def dev_lines(path):
    rows = (path / "proc/net/dev").read_text().splitlines()[2:]
    return {r.split(":")[0].strip(): list(map(int, r.split(":")[1].split())) for r in rows}


def test_routes_send_each_flow_out_of_its_port(tmp_path):
    s = run_inline(tmp_path / "r", file=ROUTER2)
    assert s["balanced"] and s["drops"] == {} and s["forwarded"] > 5000
    east, west = s["flows"]
    assert (east["port"], east["egress"]) == ("eth0", "eth1")
    assert (west["port"], west["egress"]) == ("eth1", "eth0")
    dev = dev_lines(tmp_path / "r")
    # receive packets (column 1) on the arrival port, transmit packets (column 9) on the
    # egress port: eth0 takes east in and west out, eth1 the other way round
    assert dev["eth1"][9] > 3000 > dev["eth0"][9] > 1000
    assert dev["eth0"][1] > 3000 > dev["eth1"][1] > 1000
    # each port has its own vectors; the affinities pair eth0's RX with eth1's TX cleanup
    irqs = {r.split()[-1]: list(map(int, r.split()[1:3]))
            for r in (tmp_path / "r" / "proc/interrupts").read_text().splitlines()
            if "-edge" in r}
    assert irqs["eth0-rx-0"][0] > 0 == irqs["eth0-rx-0"][1]
    assert irqs["eth1-tx-0"][0] > 0 == irqs["eth1-tx-0"][1]
    assert irqs["eth1-rx-0"][1] > 0 == irqs["eth1-rx-0"][0]
    assert irqs["eth0-tx-0"][1] > 0 == irqs["eth0-tx-0"][0]
    assert (tmp_path / "r" / "ethtool_S_eth1.txt").exists()
    assert (tmp_path / "r" / "tc_qdisc_eth1.txt").exists()


def test_without_a_route_everything_leaves_by_the_first_port(tmp_path):
    s = run_inline(tmp_path / "n", "routes=[]", file=ROUTER2)
    assert s["balanced"] and all(f["egress"] == "eth0" for f in s["flows"])
    dev = dev_lines(tmp_path / "n")
    assert dev["eth1"][9] == 0 and dev["eth0"][9] > 4000


def test_two_ports_both_modes_identical(tmp_path):
    run_both_modes(tmp_path, file=ROUTER2)


@pytest.mark.parametrize("sets,msg", [
    (["nic.ports=5"], "nic.ports"),
    (["flows.1.port=2"], "flows[1].port"),
    (['routes=[{dst = "10.2.0.0/16", dev = "eth7"}]'], "routes[0].dev"),
    (['routes=[{dst = "nowhere", dev = "eth1"}]'], "routes[0].dst"),
    (['nic.model="e810"'], "nic.ports"),
])
def test_bad_port_keys_are_refused(tmp_path, sets, msg):
    assert_refused(tmp_path, ROUTER2, sets, msg)
