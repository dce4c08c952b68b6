"""netperf TCP_RR: one connection per client instance and per server process, loss
recovered as Linux 6.6 recovers it (the loss probe, the retransmission timer with
backoff), delayed and duplicate ACKs (shared-state-dim-rr.md §5)."""

import json

import pytest

from helpers import ROOT, config_file, refused, run_both_modes, run_inline, snmp
from softnet.nic.tcp_timers import PROBE, RTO, RtoState, Sender, wheel_expiry

TCP_RR = f"{ROOT}/examples/tcp_rr.toml"
MS = 1_000_000


def test_timer_wheel_rounds_expiry_up_by_its_level():
    """calc_wheel_index: level 0 (under 63 jiffies) runs a jiffy after expiry; level 1
    (to 504) at the next 8-jiffy boundary past it; level 2 at 64."""
    assert wheel_expiry(1000 + 40, 1000) == 1041
    assert wheel_expiry(1000 + 62, 1000) == 1063
    assert wheel_expiry(1000 + 201, 1000) == 1208          # a 201 ms RTO: 8 ms late
    assert wheel_expiry(1000 + 200, 1000) == 1208
    assert wheel_expiry(0 + 600, 0) == 640                 # level 2: 64-jiffy buckets


def test_rto_is_srtt_plus_rto_min_and_backs_off():
    r = RtoState(1000)
    assert r.rto_j == 1000 and r.pto_j() == 1000           # no sample: TCP_TIMEOUT_INIT
    r.sample(30)                                           # a 30 µs round trip
    assert (r.srtt8, r.mdev4, r.rttvar_us) == (240, 60, 200_000)
    assert r.rto_j == 201 and r.pto_j() == 201             # srtt + 200 ms, jiffy-rounded
    # tcp_rtt_estimator's fixed point: srtt << 3, mdev << 2; a falling RTT moves mdev
    # by an eighth of the usual step
    r.sample(40)
    assert (r.srtt8, r.mdev4, r.srtt_us) == (250, 55, 31)
    r.sample(10)
    assert (r.srtt8, r.mdev4) == (229, 56)
    r.back_off()
    r.back_off()
    assert r.rto_j == 804 and r.backoff == 2
    r.sample(40)                                           # a valid sample resets it
    assert r.backoff == 0 and r.rto_j == 201
    for _ in range(20):
        r.back_off()
    assert r.rto_j == 120_000                              # TCP_RTO_MAX


def test_sender_probes_once_then_times_out_with_backoff():
    s = Sender(1000)
    s.rto.sample(30)
    at = s.sent(1, 0, MS)
    assert at == 208 * MS and s.timer_kind == PROBE
    assert s.fire(at, MS) == PROBE and s.probes == 1       # the last segment sent again
    assert s.timer_at == wheel_expiry(208 + 201, 208) * MS == 416 * MS
    assert s.fire(s.timer_at, MS) == RTO and s.rto.rto_j == 402
    assert s.fire(s.timer_at, MS) == RTO and s.rto.rto_j == 804
    assert (s.probes, s.timeouts, s.retrans_segs) == (1, 2, 3)
    # an ACK of a retransmitted segment samples the timestamp echo: whole ms, ≥ 1
    s.acked(s.sent_at + 300_000, MS)
    assert s.out == 0 and s.timer_at == -1 and s.rto.backoff == 0
    assert s.rto.srtt8 == 240 + (1000 - 30)


def test_one_probe_per_episode():
    """tlp_high_seq stays set until an ACK past the probed segment: a loss of the next
    segment meanwhile goes to the RTO (rearmed for what is left of it), not a probe."""
    s = Sender(1000, 30)
    at = s.sent(1, 0, MS)
    assert s.fire(at, MS) == PROBE
    s.acked(at + MS, MS)                 # the probe's copy got through: ACK of segment 1
    assert s.tlp_seg == 1
    sent = 300 * MS
    at = s.sent(2, sent, MS)             # segment 2 lost as well
    assert s.fire(at, MS) == 0 and s.probes == 1           # no probe: the RTO rearmed
    assert s.timer_kind == RTO and s.timer_at > at
    assert s.fire(s.timer_at, MS) == RTO and s.timeouts == 1
    s.acked(s.timer_at + MS, MS)         # an ACK past segment 1 ends the episode
    assert s.tlp_seg == 0


def test_closed_loop_on_one_connection_per_instance(tmp_path):
    """Each instance has its connection and its own server process; every response
    carries its request's ACK, so no pure ACK and no timer runs."""
    s = run_inline(tmp_path / "r", 'duration="3ms"', file=TCP_RR)
    t = s["rr"]["rr"]
    assert t["transactions"] > 300 and t["retransmits"] == 0 and t["outstanding"] == 8
    assert t["client_tcp"] == {"probes": 0, "timeouts": 0, "retrans_segs": 0, "acks": 0,
                               "dupacks": 0}
    assert all(v == 0 for v in s["rr"]["tcp_server"].values())
    per = t["per_instance"]                    # each netperf's own figures
    assert sorted(per) == [f"rr#{k}" for k in range(8)]
    assert sum(v["transactions"] for v in per.values()) == t["transactions"]
    assert all(v["rtt_us"]["p50"] <= v["rtt_us"]["p99"] <= v["rtt_us"]["max"]
               for v in per.values())
    assert s["balanced"] and s["tx_balanced"] and "consumed_by_tcp" not in s
    servers = {k: v for k, v in s["senders"].items() if k.startswith("netserver#")}
    assert sorted(servers) == [f"netserver#{k}" for k in range(8)]
    assert all(v["sent"] > 30 for v in servers.values())
    tcp = snmp(tmp_path / "r", "Tcp")
    assert tcp["CurrEstab"] == 8 and tcp["RetransSegs"] == 0
    assert tcp["InSegs"] == s["delivered"] + sum(s["in_flight_by_place"].get(k, 0)
                                                  for k in ("socket_queue",))
    assert tcp["OutSegs"] == s["sent"]                     # a response per request read
    # the TCP server costs more than UDP_RR's: tcp_sendmsg, tcp_ack, a process per
    # connection (a context switch per request)
    udp = run_inline(tmp_path / "u", 'duration="3ms"', 'flows.0.proto="udp_rr"',
                     'apps.0.socket.proto="udp"', file=TCP_RR)["rr"]["rr"]
    assert udp["transactions"] > 1.3 * t["transactions"]
    # its config.toml runs again to the same result (one [[apps]] entry, not eight)
    cfg = (tmp_path / "r" / "config.toml").read_text()
    assert cfg.count("[[apps]]") == 1 and 'name = "netserver"' in cfg
    again = run_inline(tmp_path / "again", file=str(tmp_path / "r" / "config.toml"))
    assert again["rr"] == json.loads((tmp_path / "r" / "summary.json").read_text())["rr"]


def test_an_instance_that_stops_acks_its_last_response(tmp_path):
    """No next request will carry the ACK: the delayed ACK sends it (41 ms later), so the
    server has nothing to send again."""
    s = run_inline(tmp_path / "r", 'duration="50ms"', 'flows.0.stop="2ms"', file=TCP_RR)
    t = s["rr"]["rr"]
    assert t["outstanding"] == 0 and t["client_tcp"]["acks"] == 8
    assert s["rr"]["tcp_server"]["pure_acks_in"] == 8 == s["consumed_by_tcp"]


def test_think_time_past_the_delayed_ack(tmp_path):
    """A think time longer than the delayed-ACK timer (TCP_ATO_MIN, 41 ms with the
    wheel): the client ACKs each response on its own, the server's TCP takes the pure
    ACK (tcp_ack) and the books count it consumed, not read."""
    f = config_file(tmp_path, "think", {
        "seed": 1, "duration": "130ms", "cpus": 1, "nic": {"model": "e810", "combined": 1},
        "flows": [{"name": "rr", "proto": "tcp_rr", "src": "10.0.0.2:40000",
                   "dst": "10.0.0.1:9000", "think": "50ms"}],
        "apps": [{"name": "netserver", "cpu": 0, "serve": "rr",
                  "socket": {"proto": "tcp", "bind": "0.0.0.0:9000"}}]})
    s = run_inline(tmp_path / "r", file=f)
    t = s["rr"]["rr"]
    assert t["transactions"] == 3 and t["client_tcp"]["acks"] == 2
    assert s["rr"]["tcp_server"]["pure_acks_in"] == 2 == s["consumed_by_tcp"]
    assert s["flows"][0]["consumed"] == 2 and s["balanced"]
    ext = (tmp_path / "r" / "proc/net/netstat").read_text().splitlines()
    names, vals = ext[0].split()[1:], ext[1].split()[1:]
    assert dict(zip(names, vals))["TCPPureAcks"] == "2"


@pytest.fixture(scope="module")
def lossy(tmp_path_factory):
    """A flood on the interrupt's CPU for the first 10 ms makes the ring drop requests
    of connections whose servers run on the other CPU; the run goes on past the loss
    probe at 208 ms after the last loss."""
    d = tmp_path_factory.mktemp("lossy")
    f = config_file(d, "lossy", {
        "seed": 1, "duration": "225ms", "cpus": 2, "nic": {"model": "e810", "combined": 1},
        "flows": [{"name": "rr", "proto": "tcp_rr", "src": "10.0.0.2:40000",
                   "dst": "10.0.0.1:9000", "instances": 4, "think": "2ms"},
                  {"name": "flood", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9",
                   "rate": "4Mpps", "arrival": "poisson", "stop": "10ms"}],
        "apps": [{"name": "netserver", "cpu": 1, "serve": "rr",
                  "socket": {"proto": "tcp", "bind": "0.0.0.0:9000"}}]})
    return d, run_inline(d / "r", file=f)


def test_a_lost_request_is_recovered_by_the_loss_probe(lossy):
    """A request lost: the client's probe sends it again ≈ 208 ms later (2·srtt + 200 ms
    capped by the RTO, then the wheel's rounding). It also acknowledged the last
    response, so the server's probe sends that response again, which the client, having
    had it, answers with a duplicate ACK."""
    d, s = lossy
    t = s["rr"]["total"]
    rr_drops = sum(f["dropped"] for f in s["flows"] if f["name"].startswith("rr#"))
    assert rr_drops >= 1 and t["client_tcp"]["probes"] == rr_drops
    assert t["client_tcp"]["timeouts"] == 0                # the probes got through
    assert 200_000 <= t["rtt_us"]["max"] <= 209_000
    # the instances that lost a request are the ones whose slowest transaction took 200 ms
    per = s["rr"]["rr"]["per_instance"]
    assert {f["name"] for f in s["flows"] if f["name"] in per and f["dropped"]} == \
        {k for k, v in per.items() if v["rtt_us"]["max"] > 200_000}
    srv = s["rr"]["tcp_server"]
    assert srv["loss_probes"] == t["client_tcp"]["dupacks"] == srv["pure_acks_in"] >= 1
    assert srv["retransmits"] == srv["loss_probes"] and srv["timeouts"] == 0
    assert s["balanced"] and s["tx_balanced"]
    tcp = snmp(d / "r", "Tcp")
    assert tcp["RetransSegs"] == srv["retransmits"]


def test_identical_in_both_modes(tmp_path):
    run_both_modes(tmp_path, "--duration", "3ms", "--quiet", file=TCP_RR)


def test_a_lost_response_in_both_modes(tmp_path):
    """A UDP sender on the interrupt's CPU overflows the one TX queue's tiny qdisc for 6
    ms, so some responses are dropped there. The client's probe then sends its request
    again; the server, which had it, drops it as old data and ACKs at once — from the
    CPU that processed it, the hand-off's, while the connection lives on the server's —
    and its own probe sends the response again. rto_min = 5 ms (the route metric, on
    both ends) brings the recovery inside a short run."""
    f = config_file(tmp_path, "txloss", {
        "seed": 1, "duration": "14ms", "cpus": 2,
        "nic": {"model": "i350", "combined": 1, "txqueuelen": 4, "tx_ring": 80},
        "host": {"neigh": {"10.0.0.9": "permanent"}},
        "sysctl": {"net.core.wmem_max": 16_000_000},
        "flows": [{"name": "rr", "proto": "tcp_rr", "src": "10.0.0.2:40000",
                   "dst": "10.0.0.1:9000", "instances": 4, "think": "2ms",
                   "rto_min": "5ms"}],
        "apps": [{"name": "netserver", "cpu": 1, "serve": "rr",
                  "socket": {"proto": "tcp", "bind": "0.0.0.0:9000"}},
                 {"name": "blast", "cpu": 0,
                  "socket": {"proto": "udp", "sndbuf": 8_000_000, "blocking": False},
                  "send": {"dst": "10.0.0.9:7000", "rate": "150kpps", "size": 1514,
                           "stop": "6ms"}}]})
    run_both_modes(tmp_path, "--quiet", file=f)
    s = json.loads((tmp_path / "i" / "summary.json").read_text())
    lost = sum(v["dropped"] for k, v in s["senders"].items() if k.startswith("netserver"))
    srv, t = s["rr"]["tcp_server"], s["rr"]["total"]
    assert lost >= 2 and s["drops"] == {"tcp_old_data": lost}
    assert srv["duplicate_requests"] == lost == t["client_tcp"]["probes"]
    assert srv["loss_probes"] == lost and t["outstanding"] == 0
    assert 5_000 < t["rtt_us"]["max"] < 8_000          # 2·srtt + 5 ms, then the wheel
    assert s["balanced"] and s["tx_balanced"]
    ext = (tmp_path / "i" / "proc/net/netstat").read_text().splitlines()
    assert dict(zip(ext[0].split()[1:], ext[1].split()[1:]))["DelayedACKLost"] == str(lost)


@pytest.mark.parametrize("sets, says", [
    (['flows.0.timeout="1s"'], "not for tcp_rr"),
    (["flows.0.response=1449"], "1 to 1448: one segment"),
    (['flows.0.proto="udp_rr"'], 'no [[flows]] entry with proto = "tcp_rr"'),
    (['observe.pcap=["wire"]'], "not written to pcap yet"),
    (['flows.0.rto_min="500us"'], "1ms to 120s"),
    (['flows.0.proto="udp_rr"', 'flows.0.rto_min="5ms"'], "only for tcp_rr flows"),
])
def test_bad_tcp_rr_settings_are_refused(sets, says):
    assert says in refused(*sets, file=TCP_RR)


def _connection():
    """A TCP_RR connection's server side (cpus.tcp_rr) with the stack, the transmit path
    and the LP's timers as recorders."""
    from types import SimpleNamespace as NS

    from softnet.cpus.stack import Snmp
    from softnet.cpus.tcp_rr import TcpRr, TcpRrSock
    from softnet.engine.skb import SkBuff
    log = {"consumed": 0, "drops": [], "woken": [], "armed": [], "sent": []}
    books = NS(consume=lambda flow: log.__setitem__("consumed", log["consumed"] + 1),
               drop=lambda flow, stage, n=1: log["drops"].append(stage))
    costs = NS(tcp_ack=320, kfree_skb=20, tcp_data_ready=371, softirq_entry=50,
               tcp_send_ack=283)
    stack = NS(costs=costs, books=books, sw_hash=[7], free_cost=lambda skb: 20,
               cpu=NS(sched=NS(wake=log["woken"].append)))
    snmp = Snmp()
    tx = NS(tcp_segment=lambda sk, w, n: SkBuff(1, sk.flow, 66 + n, 768, 0, 0, 0,
                                                sock=sk.index, tcp=w))
    rr = TcpRr(stack, tx, {}, snmp.tcp, snmp.tcpext, MS)
    rr.arm = lambda t, sk, which, gen: log["armed"].append((t, which, gen))
    rr.xmit = lambda cpu, t, skb, sk, cost: log["sent"].append((cpu, t, skb.tcp)) or cost
    sk = TcpRrSock(0, "0.0.0.0", 9000, 100_000, 1, 1, payload=1, hz=1000, response=1,
                   hash_=5, flow=0)
    seg = (lambda w, t=0: SkBuff(w + 100, 0, 67 if w > 0 else 66, 768, 0, t, t, tcp=w))
    return rr, sk, seg, snmp, log


def test_server_segments_and_timers():
    """What a request, a request sent again, a pure ACK and the timers do to the state."""
    from softnet.cpus.tcp_rr import DELACK, RTX
    rr, sk, seg, snmp, log = _connection()
    sk.waiter = "netserver#0"
    # request 1: queued, the reader woken, the delayed ACK armed (40 ms → 41 on the wheel)
    assert rr.rcv(sk, seg(1), 0, 0) == 371
    assert sk.rcv_nxt == 1 and len(sk.receive_queue) == 1 and log["woken"] == ["netserver#0"]
    assert log["armed"][-1] == (41 * MS, DELACK, sk.delack_gen)
    stale = sk.delack_gen
    rr.sent(sk, 10_000)          # the response: its ACK rides on it, the probe is armed
    assert rr.timer(sk, DELACK, stale, 41 * MS, 1) == 0 and not log["sent"]
    assert log["armed"][-1] == (1024 * MS, RTX, sk.snd.gen)   # no RTT sample yet: 1 s
    # request 2 acknowledges response 1 (tcp_ack), then is queued
    assert rr.rcv(sk, seg(2, 40_000), 0, 40_000) == 320 and sk.snd.out == 0
    assert sk.snd.rto.srtt_us == 30 and sk.rcv_nxt == 2
    # request 2 again (its response lost): old data, an ACK at once from the CPU that
    # processed it (cpu 0), costed to it
    cost = rr.rcv(sk, seg(2, 50_000), 0, 50_000)
    assert log["drops"] == ["tcp_old_data"] and log["sent"] == [(0, 50_020, -2)]
    assert cost == 20 + 283 and snmp.tcpext["DelayedACKLost"] == 1
    # response 2, then a pure ACK of it: tcp_ack, consumed
    rr.sent(sk, 60_000)
    assert rr.rcv(sk, seg(-2, 90_000), 0, 90_000) == 320 + 20
    assert log["consumed"] == 1 and sk.snd.out == 0 and snmp.tcpext["TCPPureAcks"] == 1
    # request 3, response 3 lost: the probe sends it again, then the RTO backs off
    rr.rcv(sk, seg(3, 100_000), 0, 100_000)
    rr.sent(sk, 110_000)
    at, which, gen = log["armed"][-1]
    assert which == RTX and at == 208 * MS
    assert rr.timer(sk, RTX, gen, at, 1) == 50 + 283
    assert log["sent"][-1] == (1, at + 50, 3) and snmp.tcpext["TCPLossProbes"] == 1
    at2, _, gen2 = log["armed"][-1]
    assert at2 == 416 * MS
    assert rr.timer(sk, RTX, gen, at2, 1) == 0                # a stale arming: nothing
    rr.timer(sk, RTX, gen2, at2, 1)
    assert snmp.tcpext["TCPTimeouts"] == 1 and snmp.tcp["RetransSegs"] == 2
    # the server slow to answer request 4: its delayed ACK fires
    rr.rcv(sk, seg(4, 500 * MS), 0, 500 * MS)
    t, _, g = log["armed"][-1]
    assert rr.timer(sk, DELACK, g, t, 1) == 50 + 283 and log["sent"][-1] == (1, t + 50, -4)
    assert snmp.tcpext["DelayedACKs"] == 1
    # a full receive queue drops request 5 (TCPRcvQDrop): rcv_nxt stays
    sk.rcvbuf = 0
    rr.rcv(sk, seg(5, 600 * MS), 0, 600 * MS)
    assert log["drops"][-1] == "tcp_rcvq_drop" and sk.rcv_nxt == 4
