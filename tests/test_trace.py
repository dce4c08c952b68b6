"""The timeline trace (`--trace`, `[observe] trace`): Chrome/Perfetto trace-event JSON with
one process per CPU and a track per context, slices named after kernel functions, nested
strictly, adding up to the CPU time the summary reports."""

import collections
import json

import pytest

from helpers import refused, softnet, summary

from softnet.coordinator.cli import main

CTX = {"hardirq": "hardirq", "softirq": "softirq"}


def _run(out, *extra):
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "3ms", "--set", "flows.0.rate=700kpps", *extra]) == 0


def _ns(us) -> int:
    return round(float(us) * 1000)


def _load(run):
    ev = json.loads((run / "trace.json").read_text())
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    xs = [e for e in ev if e["ph"] == "X"]
    return ev, names, procs, xs


def _context(track: str) -> str:
    return CTX.get(track, "ksoftirqd" if track.startswith("ksoftirqd/") else "task")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("trace")
    _run(d / "t", "--trace")
    _run(d / "plain")
    return d


def test_outermost_slices_add_up_to_the_cpu_time(runs):
    _, names, procs, xs = _load(runs / "t")
    tot = collections.defaultdict(collections.Counter)
    for e in xs:
        if e["args"]["depth"] == 0:
            tot[procs[e["pid"]]][_context(names[(e["pid"], e["tid"])])] += _ns(e["dur"])
    for cpu, t in summary(runs / "t")["cpu_time_ns"].items():
        assert dict(tot[cpu]) == {k: v for k, v in t.items() if k != "idle" and v}, cpu


def test_slices_nest_strictly_on_every_track(runs):
    _nest(_load(runs / "t")[3])


def _nest(xs):
    by_track = collections.defaultdict(list)
    for e in xs:
        by_track[(e["pid"], e["tid"])].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"]),
                                               e["args"]["depth"], e["name"]))
    for track, sl in by_track.items():
        sl.sort(key=lambda x: (x[0], -x[1]))
        stack = []
        for s, e, depth, name in sl:
            while stack and stack[-1][1] <= s:
                stack.pop()
            assert len(stack) == depth, (track, name, s)
            if stack:
                assert stack[-1][0] <= s and e <= stack[-1][1], (track, name, s)
            stack.append((s, e))


def test_kernel_names_and_tracks(runs):
    _, names, procs, xs = _load(runs / "t")
    got = {e["name"] for e in xs}
    for n in ("handle_softirqs", "net_rx_action", "__napi_poll", "igb_poll",
              "igb_clean_rx_irq", "igb_msix_ring", "__schedule"):
        assert n in got, n
    # the CPUs, and the nic's wire where sampled packets arrive
    assert {procs[p] for p, _ in names} == {"cpu0", "cpu1", "cpu2", "cpu3", "nic"}
    assert "server" in names.values() and "ksoftirqd/0" in names.values()
    softirq = [e for e in xs if names[(e["pid"], e["tid"])] == "softirq"]
    # a softirq run, or a producer's spin on a socket another CPU owns, told later and
    # taken outside a softirq run
    assert {e["name"] for e in softirq if e["args"]["depth"] == 0} <= {
        "handle_softirqs", "__udp_enqueue_schedule_skb"}


def test_timestamps_are_exact_ns_in_three_decimals(runs):
    text = (runs / "t" / "trace.json").read_text()
    for line in text.splitlines():
        if '"ph":"X"' in line:
            ts = line.split('"ts":')[1].split(",")[0]
            assert len(ts.split(".")[1]) == 3


def test_nothing_else_changes(runs):
    for f in ("summary.json", "proc/stat", "proc/net/softnet_stat"):
        assert (runs / "t" / f).read_bytes() == (runs / "plain" / f).read_bytes(), f
    assert not (runs / "plain" / "trace.json").exists()


def test_identical_in_both_modes(runs, tmp_path):
    r = softnet("run", "--mode", "process", "--out", str(tmp_path / "p"), "--quiet",
                "--duration", "3ms", "--set", "flows.0.rate=700kpps", "--trace")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p" / "trace.json").read_bytes() == \
        (runs / "t" / "trace.json").read_bytes()


def test_a_window_and_a_cap(tmp_path):
    _run(tmp_path / "w", "--trace", "--set", 'observe.trace_window=["1ms", "1500us"]')
    _, _, _, xs = _load(tmp_path / "w")
    assert xs
    for e in xs:
        assert 1_000_000 <= _ns(e["ts"]) and _ns(e["ts"]) + _ns(e["dur"]) <= 1_500_000
    _run(tmp_path / "c", "--trace", "--ftrace", "--set", "observe.trace_max=20")
    ev, _, _, xs = _load(tmp_path / "c")
    assert 0 < len(xs) <= 20 * 4
    assert "cut at trace_max" in ev[0]["args"]["name"]
    _nest(xs)                                   # what was kept still nests
    depth = 0
    for line in (tmp_path / "c" / "ftrace.txt").read_text().splitlines()[4:]:
        depth += line.endswith("{") - line.endswith("}")
        assert depth >= 0
    assert depth == 0


def test_ice_functions_under_their_own_names(tmp_path):
    from helpers import ROOT
    out = tmp_path / "e810"
    assert main(["run", f"{ROOT}/examples/ntuple.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "1ms", "--trace"]) == 0
    names = {e["name"] for e in _load(out)[3]}
    assert {"ice_msix_clean_rings", "ice_napi_poll", "ice_clean_rx_irq"} <= names
    assert not any(n.startswith("igb_") for n in names)


@pytest.mark.parametrize("sets, says", [
    (["observe.trace=true", 'observe.trace_window=["2ms", "1ms"]'], "after the start"),
    (['observe.trace_window=["1ms", "2ms"]'], "need trace = true"),
    (["observe.trace=1"], "observe.trace"),
])
def test_bad_trace_settings_are_refused(sets, says):
    assert says in refused(*sets)


def test_drops_are_instants_and_occupancies_counters(runs):
    ev, _, _, _ = _load(runs / "t")
    drops = collections.Counter()
    for e in ev:
        if e["ph"] == "i" and e["cat"] == "drop":
            assert e["s"] == "p"
            drops[e["name"]] += e["args"]["packets"]
    s = summary(runs / "t")
    assert s["drops"] and dict(drops) == s["drops"]
    counters = collections.defaultdict(list)
    for e in ev:
        if e["ph"] == "C":
            counters[(e["pid"], e["name"])].append(e["args"]["value"])
    assert any(n == "server rmem_alloc" for _, n in counters)
    assert any(n.endswith("ring backlog") for _, n in counters)
    for vals in counters.values():              # only changes are written, per CPU
        assert all(a != b for a, b in zip(vals, vals[1:]))


def test_only_the_cpus_asked_for(tmp_path):
    _run(tmp_path / "c", "--trace", "--ftrace", "--set", "observe.trace_cpus=[0, 2]")
    ev, _, procs, xs = _load(tmp_path / "c")
    assert {procs[e["pid"]] for e in xs} <= {"cpu0", "cpu2", "nic"}
    assert "CPUs 0, 2 only" in ev[0]["args"]["name"]
    text = (tmp_path / "c" / "ftrace.txt").read_text()
    assert " 0) " in text and " 2) " in text and " 1) " not in text
    assert "from 0 to 3" in refused("observe.trace=true", "observe.trace_cpus=[0, 9]")


def test_sampled_packets_are_followed_from_the_wire_to_the_read(tmp_path):
    _run(tmp_path / "a", "--trace", "--set", "observe.trace_sample=10")
    ev, names, procs, xs = _load(tmp_path / "a")
    spans = collections.defaultdict(list)
    for e in xs:
        spans[(e["pid"], e["tid"])].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])))
    flows = collections.defaultdict(list)
    for e in ev:
        if e["ph"] in "stf":
            assert e["cat"] == "packet" and e["name"] == "packet"
            # every step of an arrow sits in a slice of its track (that is what it binds to)
            assert any(s <= _ns(e["ts"]) <= end for s, end in spans[(e["pid"], e["tid"])])
            flows[e["id"]].append(e)
    assert len(flows) >= 5
    for pid, steps in flows.items():
        assert pid % 10 == 0
        kinds = [e["ph"] for e in steps]
        assert kinds[0] == "s" and kinds[-1] == "f" and set(kinds[1:-1]) <= {"t"}
        assert procs[steps[0]["pid"]] == "nic"
        assert names[(steps[-1]["pid"], steps[-1]["tid"])] == "server"
        assert [e["ts"] for e in steps] == sorted(e["ts"] for e in steps)
    _run(tmp_path / "n", "--trace", "--set", "observe.trace_sample=0")
    assert not [e for e in _load(tmp_path / "n")[0] if e["ph"] in "stf"]


def test_transmit_counters(tmp_path):
    from helpers import ROOT
    out = tmp_path / "s"
    assert main(["run", f"{ROOT}/examples/sender.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "2ms", "--trace"]) == 0
    names = {e["name"] for e in _load(out)[0] if e["ph"] == "C"}
    assert {"tx-0 qdisc backlog", "tx-0 BQL limit", "tx-0 BQL inflight"} <= names
    assert any(n.endswith("ITR interval") for n in names)


def _back_to_back(tmp_path, duration: str, *extra):
    """A sender on one CPU sending 64-byte datagrams as fast as it can, traced."""
    f = tmp_path / "b2b.toml"
    f.write_text(f'duration = "{duration}"\ncpus = 1\n[nic]\ncombined = 1\n[[apps]]\n'
                 'name = "blast"\ncpu = 0\nsocket = { proto = "udp", sndbuf = 4000000 }\n'
                 'send = { dst = "10.2.0.9:7001", size = 64 }\n')
    out = tmp_path / "r"
    assert main(["run", str(f), "--mode", "inline", "--out", str(out), "--quiet",
                 "--trace", *extra]) == 0
    return out


def test_one_slice_per_call_even_back_to_back(tmp_path):
    """Sends with nothing between them: each udp_sendmsg call is a slice of its own (the
    generator, not the name, tells one call from the next)."""
    out = _back_to_back(tmp_path, "200us")
    calls = [e for e in _load(out)[3] if e["name"] == "udp_sendmsg"]
    assert summary(out)["sent"] > 10
    assert len(calls) >= summary(out)["sent"]


def _args_of(xs, name):
    return [e["args"] for e in xs if e["name"] == name and len(e["args"]) > 1]


def test_slices_carry_their_tracepoints_arguments(runs):
    """A call's arguments are on its last piece, so each call counts once: the polls'
    work adds up to the packets the rings gave, and every hard IRQ names its vector."""
    from helpers import ethtool
    _, _, _, xs = _load(runs / "t")
    polls = _args_of(xs, "__napi_poll")
    stats = ethtool(runs / "t")
    ring = sum(v for k, v in stats.items() if k.startswith("rx_queue_") and
               k.endswith("_packets"))
    assert ring and sum(a["work"] for a in polls) == ring
    assert all(a["budget"] == 64 and 0 <= a["work"] <= 64 and a["napi"].startswith("eth0-")
               for a in polls)
    rx = _args_of(xs, "net_rx_action")
    assert sum(a["work"] for a in rx) == ring
    assert sum(a["polls"] for a in rx) == len(polls)
    irqs = collections.Counter(e["args"]["irq"] for e in xs if e["name"] == "igb_msix_ring")
    proc = {}
    for line in (runs / "t" / "proc" / "interrupts").read_text().splitlines()[1:]:
        f = line.split()
        if f[-1].startswith("eth0-"):
            proc[f[-1]] = sum(int(x) for x in f[1:5])
    assert dict(irqs) == {k: v for k, v in proc.items() if v}


def test_a_squeeze_and_a_transmit_clean_are_marked(tmp_path):
    from helpers import ROOT, ethtool
    _run(tmp_path / "s", "--trace", "--set", 'sysctl."net.core.netdev_budget"=20')
    xs = _load(tmp_path / "s")[3]
    squeezed = sum(int(line.split()[2], 16) for line in
                   (tmp_path / "s" / "proc/net/softnet_stat").read_text().splitlines())
    assert squeezed and \
        sum(a.get("time_squeeze", 0) for a in _args_of(xs, "net_rx_action")) == squeezed
    assert main(["run", f"{ROOT}/examples/sender.toml", "--mode", "inline", "--out",
                 str(tmp_path / "tx"), "--quiet", "--duration", "1ms", "--trace"]) == 0
    cleans = _args_of(_load(tmp_path / "tx")[3], "igb_clean_tx_irq")
    stats = ethtool(tmp_path / "tx")
    assert cleans and sum(a["packets"] for a in cleans) == stats["tx_queue_0_packets"]
    assert sum(a["bytes"] for a in cleans) == stats["tx_queue_0_bytes"]


def _arrows(ev):
    flows = collections.defaultdict(list)
    for e in ev:
        if e["ph"] in "stf":
            flows[e["id"]].append(e)
    return flows


def test_sends_are_followed_to_the_wire(tmp_path):
    """One send in `trace_sample` (by its id): sendmsg on the sender's track, the driver's
    transmit, the nic's `wire out` track as its frame leaves; sends leave in order, so
    the sampled ones on the wire are the first on_wire of them."""
    out = _back_to_back(tmp_path, "300us", "--set", "observe.trace_sample=5")
    ev, names, procs, xs = _load(out)
    s = summary(out)
    on_wire = s["on_wire"]
    flows = _arrows(ev)
    # an arrow needs a second step: the sends still queued at the end have none
    assert s["sent"] // 5 - s["tx_in_flight"] <= len(flows) <= s["sent"] // 5
    assert on_wire >= 10
    ends = 0
    for pid, steps in flows.items():
        assert len(steps) >= 2
        assert (pid & ((1 << 40) - 1)) % 5 == 0
        assert names[(steps[0]["pid"], steps[0]["tid"])] == "blast"
        assert [e["ts"] for e in steps] == sorted(e["ts"] for e in steps)
        if steps[-1]["ph"] == "f":
            ends += 1
            assert [e["ph"] for e in steps] == ["s", "t", "f"]
            assert names[(steps[-1]["pid"], steps[-1]["tid"])] == "eth0 wire out"
    assert ends == on_wire // 5
    wire = [e for e in xs if names[(e["pid"], e["tid"])] == "eth0 wire out"]
    assert len(wire) == ends and all(e["name"] == "blast" for e in wire)


def test_forwarded_packets_are_followed_through_and_a_flow_filter(tmp_path):
    from helpers import ROOT
    out = tmp_path / "fw"
    assert main(["run", f"{ROOT}/examples/router.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "1ms", "--trace", "--set",
                 "observe.trace_sample=10"]) == 0
    ev, names, procs, xs = _load(out)
    flows = _arrows(ev)
    assert len(flows) >= 20
    seen = set()
    for pid, steps in flows.items():
        assert pid % 10 == 0 and [e["ph"] for e in steps] == ["s", "t", "t", "f"]
        assert names[(steps[0]["pid"], steps[0]["tid"])].endswith(" wire in")
        assert names[(steps[-1]["pid"], steps[-1]["tid"])].endswith(" wire out")
        assert [e["ts"] for e in steps] == sorted(e["ts"] for e in steps)
        seen.add(next(e["name"] for e in xs if procs[e["pid"]] == "nic" and
                      e["ts"] <= steps[0]["ts"] <= e["ts"] + e["dur"] and
                      (e["pid"], e["tid"]) == (steps[0]["pid"], steps[0]["tid"])))
    assert len(seen) == 2                       # both of the router's flows
    one = sorted(seen)[0]
    assert main(["run", f"{ROOT}/examples/router.toml", "--mode", "inline", "--out",
                 str(tmp_path / "one"), "--quiet", "--duration", "1ms", "--trace", "--set",
                 "observe.trace_sample=10", "--set", f'observe.trace_flows=["{one}"]']) == 0
    ev1, names1, procs1, xs1 = _load(tmp_path / "one")
    assert f"drops and arrows of {one} only; one packet in 10 followed" in \
        ev1[0]["args"]["name"]
    assert {e["name"] for e in xs1 if procs1[e["pid"]] == "nic"} == {one}
    assert 0 < len(_arrows(ev1)) < len(flows)
    assert set(_arrows(ev1)) < set(flows)
    # the slices are the CPUs' time, whichever flow it was spent on: all still there
    assert len(xs1) - len([e for e in xs1 if procs1[e["pid"]] == "nic"]) == \
        len(xs) - len([e for e in xs if procs[e["pid"]] == "nic"])
    assert "a flow or sender of this experiment" in refused(
        "observe.trace=true", 'observe.trace_flows=["nope"]')


def test_a_flow_filter_keeps_only_its_drops():
    from softnet.cpus.trace import CpuTrace
    t = CpuTrace(0, 100, 1000, flows={1}, senders={0})
    for flow in (0, 1, -1, -2):                 # -1 - sender for a sender's datagram
        t.drop(5, "stage", flow, 1)
    t.drop(100, "stage", 1, 1)                  # after the window
    assert t.export()["instants"] == [(5, "stage", 1, 1), (5, "stage", -1, 1)]


def test_interrupts_raised_and_ipis_sent_are_instants(tmp_path):
    """An interrupt is an instant on the hardirq track when raised, and a hard IRQ slice
    when taken (at the next step boundary): one slice per raise, none before it; each
    RPS IPI sent is an instant on its sender, and arrives as a CAL that counts
    received_rps."""
    from helpers import ROOT
    out = tmp_path / "r"
    assert main(["run", f"{ROOT}/examples/rfs.toml", "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "2ms", "--trace"]) == 0
    ev, names, procs, xs = _load(out)
    raised = collections.defaultdict(list)
    for e in ev:
        if e["ph"] == "i" and e["cat"] == "irq":
            assert names[(e["pid"], e["tid"])] == "hardirq" and e["s"] == "t"
            raised[(e["pid"], e["name"])].append(_ns(e["ts"]))
    taken = collections.defaultdict(list)
    for e in xs:
        if names[(e["pid"], e["tid"])] == "hardirq":
            taken[(e["pid"], e["args"]["irq"])].append(_ns(e["ts"]))
    assert {k for k, _ in raised} and set(raised) >= set(taken)
    assert any(n.startswith("eth0-") for _, n in raised) and ("CAL" in
                                                               {n for _, n in raised})
    for key, ts in raised.items():
        got = sorted(taken.get(key, []))
        assert 0 <= len(ts) - len(got) <= 1, key       # the last may be taken after the end
        assert all(r <= t for r, t in zip(sorted(ts), got)), key
    sent = [e for e in ev if e["ph"] == "i" and e["cat"] == "ipi"]
    rps = sum(int(line.split()[9], 16) for line in
              (out / "proc/net/softnet_stat").read_text().splitlines())
    assert rps and 0 <= len(sent) - rps <= 4
    assert all(e["name"] == "IPI to " + e["args"]["target"] and
               e["args"]["target"] != procs[e["pid"]] for e in sent)
