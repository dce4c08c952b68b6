"""ixgbe's Application Targeted Routing on the 82599 (devices-probe-kernels.md §2.1, §2.2):
every 20th packet a TX ring sends that is a TCP segment writes a Flow Director signature
filter steering its flow's receive to that ring's queue; with ATR each queue's vector and
XPS map get the CPU of its index; fdir_match/fdir_miss count the lookups; `ethtool -K
ntuple on` turns it off."""

from helpers import (NIC_FLOW, NIC_RSS, balanced, config_file, ethtool, run_both_modes,
                     run_inline)

from softnet.cpus.gro import NORMAL, TCP, GroFlow
from softnet.cpus.ixgbe import ATR_SAMPLE_RATE, IxgbeTx
from softnet.cpus.tx import TxRing
from softnet.nic.atr import AtrTable

EXP = {"seed": 1, "duration": "5ms", "cpus": 2, "nic": {"model": "82599"},
       "flows": [{"name": "rr", "proto": "tcp_rr", "src": "10.0.0.2:40000",
                  "dst": "10.0.0.1:9000", "instances": 8, "request": 1, "response": 1}],
       "apps": [{"name": "netserver", "cpu": 1, "serve": "rr",
                 "socket": {"proto": "tcp", "bind": "0.0.0.0:9000"}}]}


class Skb:
    def __init__(self, flow, tcp, sock=0):
        self.flow, self.tcp, self.sock = flow, tcp, sock


class FakeTx:
    cpu = None
    costs = type("C", (), {"igb_tx_doorbell": 48})()
    gro_flows = [GroFlow(NORMAL, 0, 28, 18, False), GroFlow(TCP, 0, 52, 1448, False)]


def test_a_ring_samples_every_twentieth_packet_if_it_is_tcp():
    drv = IxgbeTx(FakeTx())
    ring = TxRing(3, 512)
    costs = [drv.ixgbe_atr(ring, Skb(i % 4, 0 if i < 25 else i)) for i in range(60)]
    # UDP packets count but write nothing: the first TCP segment at or past 20 samples
    # (the 26th), then every 20th
    assert [i for i, c in enumerate(costs) if c] == [25, 45]
    assert ring.fdir == [25 % 4, 45 % 4] and ring.atr_count == 60 - 46
    assert costs[25] == 48 and ATR_SAMPLE_RATE == 20
    # a forwarded TCP segment samples too (the count restarts) but keeps no filter: its
    # flow back is not one softnet offers; a forwarded UDP datagram only counts
    ring = TxRing(0, 512)
    ring.atr_count = 19
    assert drv.ixgbe_atr(ring, Skb(0, 0, sock=-1)) == 0 and ring.atr_count == 20
    assert drv.ixgbe_atr(ring, Skb(1, 0, sock=-1)) == 48
    assert ring.atr_count == 0 and ring.fdir == []


def test_the_table_steers_from_each_write_and_counts_per_port():
    import numpy as np
    t = AtrTable(3, nports=2)
    t.steer(100, 1, 5)
    t.steer(200, 1, 5)                         # a rewrite to the same queue changes nothing
    t.steer(300, 1, 2)
    assert t.flow_queue == [-1, 2, -1] and t.changes[1] == [[100, 5], [300, 2]]
    t.lookups(np.array([True, False, True]), np.array([0, 0, 1]))
    assert t.match == [1, 1] and t.miss == [1, 0]
    assert t.result() == {"filters_written": 3, "fdir_match": [1, 1], "fdir_miss": [1, 0]}


def _run(tmp_path, tag, **nic):
    cfg = {**EXP, "nic": {**EXP["nic"], **nic}}
    return run_inline(tmp_path / tag, file=config_file(tmp_path, tag, cfg)), tmp_path / tag


def test_requests_follow_their_responses_to_the_servers_queue(tmp_path):
    s, d = _run(tmp_path, "atr")
    assert balanced(s)
    # each queue's vector on the CPU of its index, and XPS: the server on CPU 1 answers
    # on TX queue 1 only
    assert s["vectors"]["eth0-TxRx-0"]["cpu"] == 0 and s["vectors"]["eth0-TxRx-1"]["cpu"] == 1
    e = ethtool(d)
    assert e["tx_queue_1_packets"] > 0 and e["tx_queue_0_packets"] == 0
    atr = s["atr"]
    assert atr["filters_written"] > 0 and atr["fdir_match"] > 0
    assert e["rx_queue_1_packets"] > 0
    moved = [f for f in s["flows"] if f.get("atr")]
    assert moved and all(f["atr"]["rx_queue"] == 1 for f in moved)
    assert any(f["rx_queue"] == 0 for f in moved)           # RSS had them elsewhere
    # every received frame was looked up: a filter's, or RSS's
    assert atr["fdir_match"] + atr["fdir_miss"] == s["offered"]
    assert e["fdir_match"] == atr["fdir_match"] and e["fdir_miss"] == atr["fdir_miss"]
    # with ntuple on (perfect-filter mode) ATR is off: the flows stay on RSS's queues,
    # and CPU 0 processes more of them; XPS still maps queue N to CPU N
    s2, d2 = _run(tmp_path, "perfect", ntuple=True)
    assert "atr" not in s2 and not any(f.get("atr") for f in s2["flows"])
    e2 = ethtool(d2)
    assert e2["fdir_miss"] == 0 and e2["tx_queue_0_packets"] == 0
    assert s2["softnet"]["cpu0"]["processed"] > s["softnet"]["cpu0"]["processed"]


def test_one_queue_or_msi_has_no_atr(tmp_path):
    for tag, nic in (("one", {"combined": 1}), ("msi", {"int_mode": "msi"})):
        s, d = _run(tmp_path, tag, **nic)
        assert "atr" not in s and balanced(s) and ethtool(d)["fdir_miss"] == 0


def test_without_a_tcp_segment_every_frame_misses(tmp_path):
    """UDP only: nothing can write a filter, so no table is kept, and Flow Director's
    hash mode still looks every frame up (FDIRMISS)."""
    cfg = {**EXP, "flows": [{"name": "u", "src": "10.0.0.2:40000", "dst": "10.0.0.1:9000",
                              "rate": "100kpps", "size": 64}],
           "apps": [{"name": "r", "cpu": 1, "socket": {"proto": "udp",
                                                       "bind": "0.0.0.0:9000"}}]}
    s = run_inline(tmp_path / "u", file=config_file(tmp_path, "u", cfg))
    assert "atr" not in s and ethtool(tmp_path / "u")["fdir_miss"] == s["offered"] > 0


def test_a_steered_queue_on_another_cpu_hands_requests_to_the_server(tmp_path):
    """The server (CPU 1) answers on TX queue 1, whose vector is on CPU 2: ATR moves the
    connection there from RSS's queue 0 (CPU 1), and CPU 2 hands each request over."""
    cfg = {**EXP, "duration": "3ms", "cpus": 3, "nic": {"model": "82599", "combined": 2},
           "irq": {"smp_affinity": {"eth0-TxRx-0": "2", "eth0-TxRx-1": "4"}},
           "flows": [dict(EXP["flows"][0], src="10.0.0.2:40001", instances=1)]}
    f = config_file(tmp_path, "hand", cfg)
    s = run_inline(tmp_path / "hand", file=f)
    assert s["flows"][0]["rx_queue"] == 0 and s["flows"][0]["atr"]["rx_queue"] == 1
    assert s["softnet"]["cpu2"]["processed"] > 0 and balanced(s)
    assert s["rr"]["total"]["transactions"] > 0


def test_atr_runs_alike_in_both_modes(tmp_path):
    f = config_file(tmp_path, "x", {**EXP, "duration": "3ms"})
    run_both_modes(tmp_path, file=f)


def test_each_ports_queue_n_is_on_cpu_n(tmp_path):
    """The affinity hint, not the least-loaded CPU: the second port's queue 0 goes to CPU 0
    too (the placement softnet uses without a hint would pick CPU 1 there)."""
    s, _ = _run(tmp_path, "ports", ports=2)
    cpus = {n: v["cpu"] for n, v in s["vectors"].items() if "TxRx" in n}
    assert cpus == {"eth0-TxRx-0": 0, "eth0-TxRx-1": 1, "eth1-TxRx-0": 0, "eth1-TxRx-1": 1}


def test_nic_steers_each_frame_by_the_filters_written_before_it_arrived():
    """A filter that comes with a tail write at 12 µs steers the frames that arrive from
    then on, not those before — and only on the port whose ring wrote it."""
    import numpy as np

    from softnet.engine.lp import LinkSpec
    from softnet.nic.lp import NicLP
    flow, rss = NIC_FLOW, NIC_RSS
    nic = NicLP("nic", 0, {
        "duration_ns": 40_000, "series_ns": 0, "capture": None, "trace": None,
        "pcie_latency_ns": 773, "flows": [flow, dict(flow, sport=40001)],
        "flow_port": [0, 1], "ports": 2, "combined": 2,
        "queue_cpu": ["cpu0", "cpu1", "cpu0", "cpu1"], "seed": 1,
        "line_rate_bps": 10**11, "rss": rss, "lp_index": {"cpu0": 1, "cpu1": 2},
        "atr": True,
        "tx": {"pcie_read_ns": 550, "queue_cpu": {"1": "cpu1"}, "nsenders": 0,
               "arp": {"reply_delay_ns": 0, "notify": []}}})
    nic.out_links = {d: LinkSpec("nic", d, 773, "pcie") for d in ("cpu0", "cpu1")}
    nic.advance(4_003)
    assert nic.held is not None                   # frames wait for the filters before them
    # TX ring 1 (port 0's queue 1) wrote filters for flow 0 (port 0) and flow 1 (port 1)
    nic.receive("cpu1", {"cpu": [("db", 12_000, 1, (1, [(9, 0, -1, 60, 1)], [(2, 1, 60, -1, 768)],
                                                  None, [0, 1]))]})
    nic.advance(40_000)
    out = {d: nic.take_outbox(d) for d in ("cpu0", "cpu1")}
    rows = {d: np.frombuffer(o["rx"][3], dtype=np.int64) if o else np.empty(0)
            for d, o in out.items()}
    flows = {d: np.frombuffer(o["rx"][2], dtype=np.int64) if o else np.empty(0)
             for d, o in out.items()}
    steered = rows["cpu1"][flows["cpu1"] == 0]
    before = rows["cpu0"][flows["cpu0"] == 0]
    assert steered.size and steered.min() >= 12_000 and (before < 12_000).all()
    assert nic.filters.changes == [[[12_000, 1]], []]     # port 1's flow: not its table
    assert nic.filters.match[0] == steered.size and nic.filters.match[1] == 0
    assert sum(nic.filters.match) + sum(nic.filters.miss) == int(nic.offered.sum())
