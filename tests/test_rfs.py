"""RFS (kernel-spec §7.3), connected sockets, SO_REUSEPORT and SO_INCOMING_CPU."""

import os

from softnet.cpus.rfs import RPS_NO_CPU, HeadReports, RfsRx, SockFlowTable
from softnet.engine.skb import SkBuff
from helpers import ROOT, balanced, run_both_modes, run_inline, softnet

RFS = os.path.join(ROOT, "examples", "rfs.toml")


def test_sock_table_slot_and_ident():
    t = SockFlowTable(32768, 4)
    assert t.mask == 32767 and t.cpu_mask == 3
    assert t.slot_val(0xABCD1234, 2) == (0x1234, 0xABCD1236)
    assert SockFlowTable(3000, 6).mask == 4095 and SockFlowTable(3000, 6).cpu_mask == 7


def rx(map_=(5, 6)):
    r = RfsRx(0, 8, SockFlowTable(1024, 8), {0: 256})
    return r, list(map_)


def test_no_table_entry_falls_back_to_rps():
    r, m = rx()
    assert r.get_rps_cpu(0, m, 0x80000000) == (6, None)
    assert r.get_rps_cpu(0, None, 0x80000000) == (-1, None)
    assert r.get_rps_cpu(1, m, 0x80000000) == (6, None)     # queue without a flow table


def test_a_table_line_written_elsewhere_is_fetched_once():
    """rps_sock_flow_table is one array: a line (16 slots) a reader on another CPU wrote
    costs the next lookup here a transfer, the lookups after it nothing."""
    r, m = rx()
    r.xfer = 42
    h = 0x12340007
    slot, val = r.sock_table.slot_val(h, 3)
    r.sock_table.ents[slot] = val
    r.sock_table.dirty.add((slot ^ 1) >> 4)          # a neighbouring slot's write
    assert r.get_rps_cpu(0, m, h)[0] == 3 and r.line_cost == 42 and r.fetched == 1
    assert r.get_rps_cpu(0, m, h)[0] == 3 and r.line_cost == 0
    r.sock_table.dirty.add(slot + 16 >> 4)            # another line: not this lookup's
    assert r.get_rps_cpu(0, m, h)[0] == 3 and r.line_cost == 0 and r.fetched == 1


def test_entry_of_another_flow_in_the_slot_is_ignored():
    r, m = rx()
    h = 0x12340007
    slot, val = r.sock_table.slot_val(h ^ 0x10000000, 3)    # same slot, other high bits
    r.sock_table.ents[slot] = val
    assert r.get_rps_cpu(0, m, h) == (m[(h * 2) >> 32], None)


def test_migration_waits_until_the_old_cpu_has_processed_the_flow():
    r, m = rx()
    h = 0x00ABC123
    slot, val = r.sock_table.slot_val(h, 3)
    r.sock_table.ents[slot] = val
    cpu, rflow = r.get_rps_cpu(0, m, h)           # first sight: straight to the reader
    assert cpu == 3 and rflow.cpu == 3 and r.migrations == 0
    for _ in range(5):
        r.stamp(SkBuff(1, 0, 60, 2304, 0, 0, 0), rflow)
    assert rflow.last_seq == 5
    r.sock_table.ents[slot] = r.sock_table.slot_val(h, 4)[1]   # the reader moved to CPU 4
    r.done[3] = 4                                  # CPU 3 still holds the fifth packet
    assert r.get_rps_cpu(0, m, h)[0] == 3 and r.migrations == 0
    r.done[3] = 5
    cpu, rflow2 = r.get_rps_cpu(0, m, h)
    assert cpu == 4 and rflow2 is rflow and rflow.last_seq is None and r.migrations == 1
    assert RPS_NO_CPU > 8


def test_head_reports_never_run_ahead_of_a_queued_packet():
    out = []
    hr = HeadReports(lambda src, done: out.append(done))
    sk = [SkBuff(i, 0, 60, 2304, 0, 0, 0, rps_src=1, rps_seq=i) for i in range(1, 5)]
    hr.queued(sk[0])
    hr.queued(sk[1])
    hr.dropped(sk[2])            # packet 1 and 2 still queued: nothing to report yet
    assert out == []
    hr.processed(sk[0])
    assert out == [1]
    hr.processed(sk[1])
    assert out == [1, 3]         # the dropped one is gone too
    hr.dropped(sk[3])
    assert out == [1, 3, 4]


def test_rfs_moves_processing_to_the_readers_cpu(tmp_path):
    on = run_inline(tmp_path / "on", "nic.rps_cpus={}", file=RFS)
    off = run_inline(tmp_path / "off", "nic.rps_cpus={}", "net.core.rps_sock_flow_entries=0",
                     file=RFS)
    assert balanced(on) and balanced(off)
    for name, s in on["sockets"].items():
        mine = s["processed_by_cpu"].get(str(s["cpu"]), 0)
        assert mine > 0.99 * s["enqueued"] and s["incoming_cpu"] == s["cpu"]
        assert off["sockets"][name]["processed_by_cpu"] == {"0": off["sockets"][name]["enqueued"]}
        assert off["sockets"][name]["incoming_cpu"] == 0
    assert all(f["reordered"] == 0 for f in on["flows"])
    assert sum(v["table_writes"] for v in on["rfs"].values()) == 3


def test_rfs_over_rps_and_modes_identical(tmp_path):
    run_both_modes(tmp_path, "--set", "duration=\"5ms\"", file=RFS)
    s = __import__("json").loads((tmp_path / "p" / "summary.json").read_text())
    assert balanced(s)
    for name, sk in s["sockets"].items():      # after the first read, at the reader
        assert sk["incoming_cpu"] == sk["cpu"]


REUSE = ['apps=[{name="a", cpu=1, socket={proto="udp", bind="0.0.0.0:9000", reuseport=true}},'
         '{name="b", cpu=2, socket={proto="udp", bind="0.0.0.0:9000", reuseport=true}},'
         '{name="c", cpu=3, socket={proto="udp", bind="0.0.0.0:9000", reuseport=true, '
         'connect="10.0.0.2:40000"}}]',
         "flows=[" + ",".join(f'{{src="10.0.0.2:{40000 + i}", dst="10.0.0.1:9000", '
                              f'rate="10kpps"}}' for i in range(16)) + "]",
         'duration="5ms"']


def test_reuseport_group_spreads_flows_and_connected_socket_wins(tmp_path):
    s = run_inline(tmp_path / "r", *REUSE)
    socks = s["sockets"]
    by_flow = {f["name"]: f["socket"] for f in s["flows"]}
    assert socks["c"]["enqueued"] > 0 and by_flow["flow0"] == "c"      # its peer
    assert {by_flow[f"flow{i}"] for i in range(1, 16)} == {"a", "b"}   # the group
    assert socks["c"]["incoming_cpu"] >= 0 and socks["a"]["incoming_cpu"] == -1
    assert balanced(s)


def test_second_bind_without_reuseport_is_refused(tmp_path):
    r = softnet("validate", os.path.join(ROOT, "examples", "basic.toml"), "--set",
                REUSE[0].replace("reuseport=true", "reuseport=false"))
    assert r.returncode == 2 and "EADDRINUSE" in r.stderr and "reuseport" in r.stderr


MIGRATE = os.path.join(ROOT, "examples", "rfs_migrate.toml")


def test_reader_migrations_never_reorder_its_flow(tmp_path):
    """The reader moves 1 → 2 → 3 → 1 → 2 under a 1 Mpps flow: RFS follows every move,
    some lookups must wait for the old CPU to drain, and nothing is reordered."""
    s = run_inline(tmp_path / "m", file=MIGRATE)
    assert balanced(s)
    assert s["rfs"]["cpu0"]["migrations"] == 4
    assert s["rfs"]["cpu0"]["deferred"] > 0          # the rule really held the flow back
    assert all(f["reordered"] == 0 for f in s["flows"])
    mover = s["sockets"]["mover"]
    assert mover["cpu"] == 2 and [c for _, c in mover["timeline"]] == [1, 2, 3, 1, 2]
    # processing followed the reader to each CPU it ran on
    assert all(mover["processed_by_cpu"].get(str(c), 0) > 1000 for c in (1, 2, 3))
    # compare-then-write: one table write per arrival of the reader on a CPU (plus r2's)
    assert {c: v["table_writes"] for c, v in s["rfs"].items() if c != "cpu0"} == \
        {"cpu1": 2, "cpu2": 3, "cpu3": 1}


def test_reader_migrations_both_modes_identical(tmp_path):
    # a shorter run of the same example: process mode meets at every RPS IPI owed
    run_both_modes(tmp_path, "--set", 'duration="6ms"', "--set",
                   'apps.0.migrate=[{at="2ms", cpu=2}, {at="4ms", cpu=3}]', file=MIGRATE)


def test_bad_migrate_entries_are_refused(tmp_path):
    for sets, msg in ((['apps.0.migrate=[{at="30ms", cpu=2}]'], "migrate[0].at"),
                      (['apps.0.migrate=[{at="3ms", cpu=1}]'], "migrate[0].cpu"),
                      (['apps.0.migrate=[{at="3ms", cpu=2}, {at="2ms", cpu=3}]'],
                       "migrate[1].at"),
                      (['apps.0.migrate=[{at="3ms"}]'], "needs at")):
        args = ["run", MIGRATE, "--mode", "inline", "--out", str(tmp_path / "x")]
        for x in sets:
            args += ["--set", x]
        r = softnet(*args)
        assert r.returncode == 2 and msg in r.stderr, (sets, r.stderr)
        assert not (tmp_path / "x").exists()
