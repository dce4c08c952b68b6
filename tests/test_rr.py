"""Closed-loop request/response traffic (netperf UDP_RR): clients on the wire with one
transaction outstanding each, a server that answers through the whole transmit path."""

import json

import pytest

from helpers import ROOT, pcap_ip_frames, refused, run_inline, softnet


RR = f"{ROOT}/examples/udp_rr.toml"
FLOOD = f"{ROOT}/examples/rr_flood.toml"


def test_one_instance_is_a_closed_loop(tmp_path):
    """One outstanding transaction: the transactions are the run over the mean RTT, and a
    think time adds to every round."""
    s = run_inline(tmp_path / "a", "flows.0.instances=1", 'duration="5ms"', file=RR)
    t = s["rr"]["rr"]
    assert t["transactions"] > 100 and t["timeouts"] == 0 and t["outstanding"] == 1
    rounds = 5_000 / t["rtt_us"]["mean"]
    assert abs(t["transactions"] - rounds) <= 2, (t, rounds)
    assert t["tps"] == t["transactions"] / 0.005
    assert s["balanced"] and s["tx_balanced"]
    # every request read was answered: requests delivered = responses sent (+ one in hand)
    assert 0 <= s["delivered"] - s["sent"] <= 1
    think = run_inline(tmp_path / "b", "flows.0.instances=1", 'duration="5ms"',
                       'flows.0.think="20us"', file=RR)["rr"]["rr"]
    assert abs(think["transactions"] - 5_000 / (think["rtt_us"]["mean"] + 20)) <= 2
    # more instances, more transactions (the server's CPU is not yet full)
    four = run_inline(tmp_path / "c", "flows.0.instances=4", 'duration="5ms"', file=RR)
    assert four["rr"]["total"]["transactions"] > 2 * t["transactions"]
    assert four["flows"][3]["name"] == "rr#3" and four["flows"][3]["delivered"] > 0


def test_a_flood_collapses_it_and_timeouts_recover_lost_requests(tmp_path):
    """Requests the ring drops stall their instances until the receive timeout; without
    one they stall for good."""
    calm = run_inline(tmp_path / "calm", "flows.1.rate=1pps", file=FLOOD)["rr"]["total"]
    hard = run_inline(tmp_path / "hard", "flows.1.rate=3Mpps", file=FLOOD)
    h = hard["rr"]["total"]
    assert h["transactions"] < calm["transactions"] / 20 and h["timeouts"] > 0
    assert calm["timeouts"] == 0
    assert hard["balanced"] and hard["tx_balanced"]
    # with the server on the other CPU the flood overflows the interrupt CPU's ring while
    # requests keep coming, and stops half-way: with the timeout every instance comes
    # back; without it an instance whose request was lost waits for ever
    lossy = ["cpus=2", "apps.0.cpu=1", "flows.1.rate=4Mpps", 'flows.1.stop="10ms"']
    back = run_inline(tmp_path / "back", *lossy, file=FLOOD)
    stuck = run_inline(tmp_path / "stuck", *lossy, 'flows.0.timeout="1000s"', file=FLOOD)
    assert back["drops"]["nic_rx_queue_drop"] > 0
    assert back["rr"]["total"]["timeouts"] > 0 and stuck["rr"]["total"]["timeouts"] == 0
    per = [i["transactions"] for i in stuck["rr"]["rr"]["per_instance"].values()]
    assert min(per) < 0.1 * max(per), per                       # stalled for good
    assert stuck["rr"]["total"]["transactions"] < 0.9 * back["rr"]["total"]["transactions"]


def test_identical_in_both_modes_and_rerunnable(tmp_path):
    r = softnet("run", RR, "--mode", "process", "--out", str(tmp_path / "p"), "--quiet",
                "--duration", "3ms", "--pcap", "wire")
    assert r.returncode == 0, r.stderr
    run_inline(tmp_path / "i", 'duration="3ms"', 'observe.pcap=["wire"]', file=RR)
    for f in ("summary.json", "pcap/eth0-wire.pcap", "proc/net/snmp"):
        assert (tmp_path / "p" / f).read_bytes() == (tmp_path / "i" / f).read_bytes(), f
    again = run_inline(tmp_path / "again", file=str(tmp_path / "i" / "config.toml"))
    assert again["rr"] == json.loads((tmp_path / "i" / "summary.json").read_text())["rr"]
    # the responses on the wire: back from the server's port to each client's
    udp = [e.data.data for e in pcap_ip_frames(tmp_path / "i" / "pcap" / "eth0-wire.pcap")]
    resp = [u for u in udp if u.sport == 9000]
    assert resp and all(40000 <= u.dport < 40008 and len(u.data) == 1 for u in resp)
    assert all(len(u.data) == 1 for u in udp if u.dport == 9000)      # 1-byte requests


@pytest.mark.parametrize("sets, says", [
    (['flows.0.proto="tcp_rr"', 'flows.0.timeout="1s"'], "not for tcp_rr"),
    (['flows.0.proto="tcp_rr"', "flows.0.request=1449"], "1 to 1448: one segment"),
    (['flows.0.rate="1Mpps"'], "a closed loop has no rate"),
    (["flows.0.instances=0"], "concurrent clients"),
    (["flows.0.request=2000"], "request payload bytes, 1 to 1472"),
    (['flows.0.timeout="0s"'], "longer than 0"),
    (['apps.0.serve="echo"'], '"rr": answer each request'),
    (['apps.0.migrate=[{at = "1ms", cpu = 0}]'], "a server stays on its CPU"),
    (['flows.0.src="10.0.0.2:65530"'], "at most 65535"),
])
def test_bad_rr_settings_are_refused(sets, says):
    assert says in refused(*sets, file=RR)


def test_servers_in_a_reuseport_group_on_several_cpus(tmp_path):
    """Servers on CPUs other than the one cleaning their TX queue (one queue pair):
    their send buffers are released across CPUs, and every instance is answered."""
    f = tmp_path / "group.toml"
    apps = "".join(f'[[apps]]\nname = "srv{c}"\ncpu = {c}\nserve = "rr"\nsocket = '
                   '{ proto = "udp", bind = "0.0.0.0:9000", reuseport = true }\n'
                   for c in range(3))
    f.write_text('seed = 1\nduration = "3ms"\ncpus = 3\n[nic]\nmodel = "i350"\n'
                 'combined = 1\nrx_flow_hash = { udp4 = "sdfn" }\n[[flows]]\nname = "rr"\n'
                 'proto = "udp_rr"\nsrc = "10.0.0.2:40000"\ndst = "10.0.0.1:9000"\n'
                 f'instances = 12\n{apps}')
    s = run_inline(tmp_path / "r", file=str(f))
    assert s["balanced"] and s["tx_balanced"]
    assert all(fl["delivered"] > 10 for fl in s["flows"])
    assert {a for a, v in s["senders"].items() if v["sent"]} == {"srv0", "srv1", "srv2"}


def test_one_server_answers_clients_of_several_addresses(tmp_path):
    """An unconnected server's responses are routed and hashed one by one: each client
    address is a neighbour of its own (one ARP exchange each), and without XPS (ice's
    default map cleared, as `echo 0 > …/xps_cpus` does) the responses spread over the TX
    queues by their 4-tuples."""
    groups = ", ".join(f'{{name="{g}", proto="udp_rr", src="10.0.0.{h}:{p}", '
                       'dst="10.0.0.1:9000", instances=8}'
                       for g, h, p in (("a", 2, 40000), ("b", 3, 41000)))
    s = run_inline(tmp_path / "r", 'duration="3ms"', f"flows=[{groups}]",
                   'nic.xps_cpus={"tx-0" = "0", "tx-1" = "0"}', file=RR)
    assert s["rr"]["a"]["transactions"] > 100 and s["rr"]["b"]["transactions"] > 100
    assert s["arp_requests_on_wire"] == 2
    srv = s["senders"]["netserver"]
    assert srv["dst"] == ["10.0.0.2", "10.0.0.3"] and srv["tx_queue"] == [0, 1]
    assert {q: v["packets"] > 0 for q, v in s["tx_queues"].items()} == \
        {"tx-0": True, "tx-1": True}                 # where they really left
    assert s["balanced"] and s["tx_balanced"]
