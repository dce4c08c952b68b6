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
    # each port's receive wire carries its own flow: east at 400 kpps, west at 200 kpps
    util = s["wire_utilisation_by_port"]
    assert util["eth0"] == s["wire_utilisation"] > 1.8 * util["eth1"] > 0
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


SENDER2 = """
seed = 1
duration = "5ms"
cpus = 2
[nic]
model = "i350"
ports = 2
combined = {combined}
[[routes]]                         # ip route add 10.2.0.0/16 dev eth1
dst = "10.2.0.0/16"
dev = "eth1"
[[apps]]
name = "sender"
cpu = 0
socket = {{ proto = "udp", sndbuf = 212992, blocking = true{connect} }}
send = {{ dst = "10.2.0.9:7000", rate = "50kpps", size = 1000 }}
"""


@pytest.mark.parametrize("combined,connect", [(1, ""), (2, ""), (2, ', connect = "10.2.0.9:7000"')])
def test_a_sender_leaves_by_the_port_its_route_names(tmp_path, combined, connect):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SENDER2.format(combined=combined, connect=connect))
    s = run_inline(tmp_path / "s", file=str(cfg))
    assert s["balanced"] and s["sent"] > 200
    dev = dev_lines(tmp_path / "s")
    # every datagram (and the ARP request for 10.2.0.9) on eth1; nothing on eth0
    assert dev["eth0"][9] == 0
    assert dev["eth1"][9] >= s["on_wire"] > 200
    snd = s["senders"]["sender"]
    assert snd["egress"] == "eth1" and 0 <= snd["tx_queue"] < combined   # one of eth1's
    assert sum(v["packets"] for k, v in s["tx_queues"].items()
               if k.startswith("eth1/tx-")) >= s["on_wire"]


def test_backlog_drops_count_on_the_port_the_packet_came_in_by(tmp_path):
    # RPS spreads both ports' packets over both CPUs; a 2-packet backlog drops most
    s = run_inline(tmp_path / "b", 'nic.rps_cpus={"rx-0"="3"}',
                   "net.core.netdev_max_backlog=2", file=ROUTER2)
    dev = dev_lines(tmp_path / "b")
    # column 3 is drop: skb->dev->rx_dropped, on the arriving port's line
    assert dev["eth0"][3] > dev["eth1"][3] > 0
    assert dev["eth0"][3] + dev["eth1"][3] == s["drops"]["backlog"]


def test_what_is_still_on_the_wire_at_the_end_does_not_depend_on_the_windows(
        tmp_path, monkeypatch):
    """Frames a flow starts before the end that its port's wire has not delivered by then
    (`not_offered`) are counted whole however the nic cuts the run into windows: once a
    window finds its wire past the end, the flows of that port are counted to the end
    (it used to count only that window's, so inline and process mode could differ)."""
    from softnet.nic import lp as nic_lp
    # 64-byte frames at 2 Mpps into a 1 Gb/s port (1.49 Mpps): its wire falls behind
    sets = ("duration=3ms", "flows.0.rate=2Mpps", "flows.0.size=64")
    wide = run_inline(tmp_path / "wide", *sets)
    monkeypatch.setattr(nic_lp, "TARGET_FRAMES_PER_WINDOW", 300)
    narrow = run_inline(tmp_path / "narrow", *sets)
    assert wide["not_offered"] > 100
    assert narrow == wide
