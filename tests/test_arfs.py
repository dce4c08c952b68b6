"""The E810 (ice) model: L3/L4 ntuple rules and accelerated RFS (ice_arfs.c, set_rps_cpu)."""

import os

import pytest

from softnet.coordinator.config import arfs_refused_types, load_file, validate
from softnet.coordinator.topology import plan
from softnet.cpus.arfs import Arfs, cpu_rmap
from softnet.cpus.rfs import RfsRx, SockFlowTable
import helpers
from helpers import (NIC_FLOW, NIC_RSS, ROOT, balanced, config_file, run_both_modes,
                     run_inline, softnet)
from softnet.nic.arfs import ArfsTable

ARFS = os.path.join(ROOT, "examples", "arfs.toml")
NTUPLE = os.path.join(ROOT, "examples", "ntuple.toml")
SHORT = "duration=\"3ms\""


# -- validation as ice does it -------------------------------------------------------------
def refused(*sets, file=NTUPLE):
    return helpers.refused(*sets, file=file)


@pytest.mark.parametrize("rule, words", [
    ('{flow_type="udp4", action=1}', ["at least one", "EINVAL"]),
    ('{flow_type="udp4", dst_port=9000, src_port=1, action=1}', ["same input set", "dst_port"]),
    ('{flow_type="udp4", dst_port=9000, action=2}', ["same filter exists"]),
    ('{flow_type="udp4", dst_port=9001, action=4}', ["action", "0 to 3", "-1"]),
    ('{flow_type="udp4", dst_port=9001, action=1, loc=16384}', ["loc", "0 to 16383"]),
    ('{flow_type="udp4", dst_ip="fe80::1", action=1}', ["dst_ip", "IPv4"]),
    ('{flow_type="tcp4", proto=6, dst_port=1, action=1}', ["proto", "ether"]),
    ('{flow_type="ether", proto=2048, action=1}', ["flow_type", "tcp4, udp4"]),
    ('{flow_type="udp4", dst_port=0, action=1}', ["dst_port", "1 to 65535"]),
])
def test_rules_ice_refuses(rule, words):
    msg = refused('nic.rules=[{flow_type="udp4", dst_port=9000, action=3}, ' + rule + ']')
    for w in words:
        assert w in msg, (w, msg)


def test_other_e810_knobs_refused_with_the_reason():
    assert "ntuple = true" in refused("nic.ntuple=false")      # the file's rules need it
    assert "one queue per online CPU" in refused("nic.combined=5")
    assert "2-8160" in refused("nic.adaptive_rx=false", "nic.rx_usecs=0")
    assert "2-8160" in refused("nic.adaptive_rx=false", "nic.rx_usecs=8162")
    # ice_set_rc_coalesce's -EINVAL: the ITR is net_dim's while adaptive-rx is on
    assert "adaptive-rx is on" in refused("nic.rx_usecs=20")
    assert "true or false" in refused("nic.adaptive_rx=1")
    assert "packet-buffer" in refused("nic.rx_packet_buffer=65536")


def test_e810_defaults_and_the_refused_flow_types():
    r = validate(load_file(ARFS))
    nic = r["nic"]
    assert nic["ntuple"] is True                   # NETIF_F_NTUPLE in ice's dflt_features
    assert nic["rx_ring"] == 2048 and nic["rx_usecs"] == 50
    assert nic["adaptive_rx"] is True              # ITR_DYNAMIC: ice's default
    assert nic["rx_flow_hash"]["udp4"] == "sdfn"
    r2 = validate(load_file(ARFS) | {"nic": dict(load_file(ARFS)["nic"], rx_usecs=51,
                                                  rx_ring=100, adaptive_rx=False)})
    assert r2["nic"]["rx_usecs"] == 50 and r2["nic"]["rx_ring"] == 128   # 2 µs, 32 desc
    full = {"flow_type": "udp4", "src_ip": "10.0.0.2", "dst_ip": "10.0.0.1",
            "src_port": 1, "dst_port": 2}
    assert arfs_refused_types([full]) == []
    assert arfs_refused_types([{"flow_type": "udp4", "dst_port": 2},
                               {"flow_type": "ether", "proto": 2048}]) == ["udp4"]


def test_i350_still_refuses_l4_rules_and_has_no_arfs():
    r = softnet("validate", NTUPLE, "--set", "nic.model=\"i350\"")
    assert r.returncode == 2 and "EINVAL" in r.stderr and "e810" in r.stderr, r.stderr


# -- rx_cpu_rmap and ice's aRFS table --------------------------------------------------------
def test_cpu_rmap_nearest_queue():
    assert cpu_rmap(4, [(0, [0]), (1, [1]), (2, [2]), (3, [3])]) == [0, 1, 2, 3]
    # CPUs 2 and 3 own no queue: the same package's first CPU with one (queue 0)
    assert cpu_rmap(4, [(0, [1]), (1, [0])]) == [1, 0, 0, 0]
    # one mask over every CPU: the last queue reported wins everywhere
    assert cpu_rmap(2, [(0, [0, 1]), (1, [0, 1])]) == [1, 1]


def test_ice_table_reaims_active_entries_and_keys_by_flow_id():
    t = ArfsTable(3)
    t.rx_flow_steer(100, 0, 2, 7)
    t.rx_flow_steer(150, 0, 2, 7)                 # same queue: ice returns early
    assert t.flow_queue == [2, -1, -1] and (t.added, t.updated) == (1, 0)
    t.rx_flow_steer(200, 0, 1, 7)                 # re-aimed
    assert t.flow_queue == [1, -1, -1] and t.updated == 1
    t.rx_flow_steer(300, 1, 3, 7)                 # flow 1 shares flow_id 7: flow 0's filter
    assert t.flow_queue == [3, -1, -1] and t.changes[0] == [[100, 2], [200, 1], [300, 3]]


def test_set_rps_cpu_asks_for_the_readers_queue_and_switches_rflow():
    asked = []
    r = RfsRx(0, 4, SockFlowTable(1024, 4), {0: 256})
    r.arfs = Arfs([0, 1, 2, 3], {0: 255, 2: 255}, set(),
                  lambda f, q, fid: asked.append((f, q, fid)), [(5, 2)], False)
    h = 0x00ABC123
    slot, val = r.sock_table.slot_val(h, 2)
    r.sock_table.ents[slot] = val
    cpu, rflow = r.get_rps_cpu(0, None, h, flow=5)
    assert cpu == 2 and asked == [(5, 2, h & 255)] and not r.arfs.may_steer()
    assert r.arfs.rflows[(2, h & 255)] is rflow
    r.get_rps_cpu(0, None, h, flow=5)             # the old queue still feeds: no new record
    assert len(asked) == 1 and r.arfs.calls == 2
    # the reader's queue has no rps_flow_table: no filter (set_rps_cpu: goto out)
    r.sock_table.ents[slot] = r.sock_table.slot_val(h, 3)[1]
    r.done[2] = 10**9
    assert r.get_rps_cpu(0, None, h, flow=5)[0] == 3 and len(asked) == 1
    # a refused flow type (-EOPNOTSUPP) keeps plain RFS
    r2 = RfsRx(0, 4, SockFlowTable(1024, 4), {0: 256})
    r2.arfs = Arfs([0, 1, 2, 3], {0: 255, 2: 255}, {5}, lambda *a: asked.append(a))
    r2.sock_table.ents[slot] = val
    assert r2.get_rps_cpu(0, None, h, flow=5)[0] == 2 and len(asked) == 1


# -- whole runs ------------------------------------------------------------------------------
def test_udp4_rules_steer_and_drop_in_the_nic(tmp_path):
    s = run_inline(tmp_path / "r", SHORT, file=NTUPLE)
    assert balanced(s)
    by = {f["name"]: f for f in s["flows"]}
    assert by["a"]["rx_queue"] == by["b"]["rx_queue"] == 3
    assert by["unwanted"]["rx_queue"] == -1 and by["unwanted"]["delivered"] == 0
    assert s["drops"] == {"nic_ntuple_drop": by["unwanted"]["offered"]}
    assert s["ntuple"]["fdir_sb_match"] == sum(by[n]["offered"] for n in ("a", "b", "unwanted"))
    eth = dict(line.split(":") for line in
               (tmp_path / "r" / "ethtool_S.txt").read_text().splitlines()[1:])
    q3 = int(eth["     rx_queue_3_packets"])
    assert int(eth["     rx_unicast.nic"]) == s["offered"]
    assert q3 == by["a"]["delivered"] + by["b"]["delivered"] > 0
    assert int(eth["     fdir_sb_match.nic"]) == s["ntuple"]["fdir_sb_match"]


def test_arfs_moves_each_flow_to_its_readers_queue(tmp_path):
    s = run_inline(tmp_path / "a", SHORT, file=ARFS)
    assert balanced(s) and s["arfs"]["filters_added"] == 3
    for f in s["flows"]:
        reader_cpu = int(f["socket"][1:])          # r1 on CPU 1, …; queue i is on CPU i
        assert f["rx_queue"] != reader_cpu         # RSS put it elsewhere …
        assert f["arfs"]["rx_queue"] == reader_cpu  # … the filter moved it
        assert len(f["arfs"]["queue_changes"]) == 1
        assert f["reordered"] == 0
    # without aRFS the same flows stay on their RSS queues and RFS hands each packet over
    # with an RPS IPI; with it, each reader's CPU polls its own queue
    n = run_inline(tmp_path / "n", SHORT, "nic.ntuple=false", file=ARFS)
    assert "arfs" not in n and all("arfs" not in f for f in n["flows"])
    ipis = lambda x: sum(v["received_rps"] for v in x["softnet"].values())
    assert ipis(s) <= 3 < ipis(n)
    for f in s["flows"]:
        sk = s["sockets"][f["socket"]]["processed_by_cpu"]
        assert sk[str(f["arfs"]["rx_queue"])] >= f["delivered"] - 1


def test_partial_udp4_rule_keeps_arfs_off_for_udp4(tmp_path):
    s = run_inline(tmp_path / "p", SHORT,
                   'nic.rules=[{flow_type="udp4", dst_port=5555, action=0}]', file=ARFS)
    assert balanced(s)
    assert all(f["arfs"]["queue_changes"] == [] for f in s["flows"])
    assert any("not for udp4" in n for n in s["notes"])


def test_arfs_links_exist_only_when_arfs_can_happen():
    r = validate(load_file(ARFS))
    p = plan(r)
    # ice's names and affinity hints: queue i's vector on CPU i, the misc vector first
    assert [(v["name"], v["cpu"]) for v in p.vectors] == [
        ("ice-0000:01:00.0:misc", 0), ("ice-eth0-TxRx-0", 0), ("ice-eth0-TxRx-1", 1),
        ("ice-eth0-TxRx-2", 2), ("ice-eth0-TxRx-3", 3)]
    nic_in = [l for spec in p.lps for l in spec["out_links"] if l["dst"] == "nic"]
    assert nic_in and all(l["carries"] == ["arfs"] and l["kind"] == "pcie" for l in nic_in)
    from softnet.coordinator.config import apply_sets
    for sets in (["nic.ntuple=false"], ["sysctl.\"net.core.rps_sock_flow_entries\"=0"]):
        p = plan(validate(apply_sets(load_file(ARFS), sets)))
        assert not p.arfs
        assert not [l for spec in p.lps for l in spec["out_links"] if l["dst"] == "nic"]
    # RFS on the I350 (igb has no ndo_rx_flow_steer): the nic keeps no inputs
    p = plan(validate(load_file(os.path.join(ROOT, "examples", "rfs.toml"))))
    assert not p.arfs and not [l for spec in p.lps for l in spec["in_links"]
                               if spec["name"] == "nic"]


# two CPUs, one flow that RSS puts on queue 0 and its reader on CPU 1 (queue 1): the
# filter, the held frames and the cpu->nic promises, cheaply enough for process mode
SMALL = ['duration="2ms"', "cpus=2", "nic.combined=2",
         'nic.rps_flow_cnt={"rx-0"=2048, "rx-1"=2048}',
         'flows=[{name="to-r1", src="10.0.0.2:40001", dst="10.0.0.1:9001", rate="200kpps", '
         'arrival="poisson"}]',
         'apps=[{name="r1", cpu=1, socket={proto="udp", bind="0.0.0.0:9001", '
         'connect="10.0.0.2:40001"}, cost_per_read="500ns"}]']


def test_arfs_process_and_inline_identical(tmp_path):
    args = [a for x in SMALL for a in ("--set", x)]
    run_both_modes(tmp_path, *args, file=ARFS)
    s = run_inline(tmp_path / "again", *SMALL, file=ARFS)
    f, = s["flows"]
    assert (f["rx_queue"], f["arfs"]["rx_queue"]) == (0, 1) and f["reordered"] == 0


def test_ntuple_process_and_inline_identical(tmp_path):
    run_both_modes(tmp_path, "--set", 'duration="2ms"', file=NTUPLE)


def test_nic_classifies_each_frame_with_the_filters_live_at_its_arrival():
    import numpy as np

    from softnet.engine.lp import LinkSpec
    from softnet.nic.lp import NicLP
    flow, rss = NIC_FLOW, NIC_RSS
    nic = NicLP("nic", 0, {"duration_ns": 40_000, "series_ns": 0, "capture": None, "trace": None,
                           "pcie_latency_ns": 773,
                           "flows": [flow],
                           "queue_cpu": ["cpu0", "cpu1"], "seed": 1,
                           "line_rate_bps": 10**11, "rss": rss, "lp_index": {"cpu0": 1},
                           # 1 µs jiffies: filters expire 15 µs after going live, the
                           # service timer runs every 10 µs
                           "arfs": {"hz": 10**6, "expire_j": 15,
                                    "service_period_ns": 10_000}})
    nic.out_links = {d: LinkSpec("nic", d, 773, "pcie") for d in ("cpu0", "cpu1")}
    nic.advance(4_003)          # the frame started at 4 µs arrives at 4.006 µs: held
    assert nic.held is not None and nic.held[0].tolist() == [4_006]
    assert nic.promise("cpu0", 4_003) == 4_006 + 773
    nic.receive("cpu0", {"cpu": [("arfs", 12_000, 1, (0, 1, 7))]})
    nic.advance(40_000)
    def arrivals(dst):
        out = nic.take_outbox(dst)
        return np.frombuffer(out["rx"][3], dtype=np.int64) if out else np.empty(0)
    old, new = arrivals("cpu0"), arrivals("cpu1")
    # RSS queue before the filter, the filter's queue from 12 µs, RSS again once the
    # service timer at 30 µs finds it expired (live at jiffy 12, 12 + 15 <= 30)
    assert new.size and 12_000 <= new.min() and new.max() < 30_000
    assert ((old < 12_000) | (old >= 30_000)).all() and (old >= 30_000).any()
    assert old.size + new.size == nic.offered.sum()
    assert nic.filters.changes[0] == [[12_000, 1], [30_000, -1]]
    assert nic.filters.result()["filters_expired"] == 1


def test_udp_filter_expires_after_5s_and_the_flow_is_steered_again(tmp_path):
    # the filter goes live in jiffy 0; ice's service timer (every second) finds it expired
    # at 5 s: the flow is back on its RSS queue until its next packet there asks again
    s = run_inline(tmp_path / "e", *SMALL, 'duration="5005ms"', 'flows.0.rate="2kpps"',
                   'flows.0.arrival="constant"', file=ARFS)
    f, = s["flows"]
    ch = f["arfs"]["queue_changes"]
    assert [c["rx_queue"] for c in ch] == [0 + 1, 0, 1]
    assert ch[1]["t_ns"] == 5_000_000_000 and 0 < ch[2]["t_ns"] - ch[1]["t_ns"] < 2_000_000
    assert s["arfs"]["filters_expired"] == 1 and s["arfs"]["filters_added"] == 2
    assert balanced(s) and f["reordered"] == 0


def test_arfs_with_tcp_rr_clients_in_both_modes(tmp_path):
    """aRFS filters and request/response clients together: the nic holds frames for the
    filters and still promises the CPUs as far as the clients can send (this stopped on
    a frame behind its receiver's clock before)."""
    cfg = {"seed": 1, "duration": "3ms", "cpus": 2,
           "nic": {"model": "e810", "combined": 2, "ntuple": True,
                   "rps_flow_cnt": {"rx-0": 2048, "rx-1": 2048}},
           "sysctl": {"net.core.rps_sock_flow_entries": 32768},
           "flows": [{"name": "rr", "proto": "tcp_rr", "src": "10.0.0.2:40000",
                      "dst": "10.0.0.1:9000", "instances": 8}],
           "apps": [{"name": "netserver", "cpu": 1, "serve": "rr",
                     "socket": {"proto": "tcp", "bind": "0.0.0.0:9000"}}]}
    run_both_modes(tmp_path, file=config_file(tmp_path, "x", cfg))
