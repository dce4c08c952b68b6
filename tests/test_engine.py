"""The engine alone: CMB promises over a cycle of links, identical in both modes."""

import pytest

from softnet.coordinator.launch import run_inline_mode, run_process_mode
from softnet.engine.inline import Deadlock, run_inline
from softnet.engine.lp import LinkSpec, SyncDriver

END = 200_000


def specs(latency=500, quantum=0):
    links = [{"src": "a", "dst": "b", "latency": latency, "kind": "interconnect",
              "quantum": quantum},
             {"src": "b", "dst": "a", "latency": latency, "kind": "interconnect",
              "quantum": quantum}]
    out = []
    for i, (n, peer) in enumerate((("a", "b"), ("b", "a"))):
        out.append({"name": n, "index": i, "factory": "toy_lp:build",
                    "args": {"peer": peer, "work": 300, "serve": n == "a"},
                    "out_links": [l for l in links if l["src"] == n],
                    "in_links": [l for l in links if l["dst"] == n]})
    return out


@pytest.mark.parametrize("transport", ["pair", "zmq"])
def test_cycle_runs_and_modes_agree(transport):
    # two LPs on this machine's two cores: pinned, so the socketpairs spin before blocking
    inline, _ = run_inline_mode(specs(), END)
    proc, _ = run_process_mode(specs(), END, transport=transport)
    for n in ("a", "b"):       # msgpack turns tuples into lists
        assert [tuple(x) for x in proc[n]["log"]] == inline[n]["log"]
    bounces = [e for e in inline["a"]["log"] if e[0] == "bounce"]
    # a bounce every 2 × (work + latency) = 1600 ns, starting at 0
    assert [e[1] for e in bounces[:3]] == [0, 1600, 3200]
    assert len(bounces) == END // 1600 + (END % 1600 > 0)


def test_link_delivery_with_and_without_quantum():
    assert LinkSpec("a", "b", 42, "interconnect").deliver(1000) == 1042
    q = LinkSpec("a", "b", 42, "interconnect", quantum=1000)
    assert q.deliver(0) == 1000 and q.deliver(958) == 1000 and q.deliver(959) == 2000


def test_quantum_rounds_deliveries_and_saves_rounds():
    exact, _ = run_inline_mode(specs(), END)
    inline, _ = run_inline_mode(specs(quantum=1000), END)
    proc, _ = run_process_mode(specs(quantum=1000), END)
    for n in ("a", "b"):
        assert [tuple(x) for x in proc[n]["log"]] == inline[n]["log"]
    # work 300 + latency 500 = 800, rounded up to the next microsecond
    bounces = [e[1] for e in inline["a"]["log"] if e[0] == "bounce"]
    assert bounces[:3] == [0, 2000, 4000]
    assert inline["a"]["engine"]["rounds"] < exact["a"]["engine"]["rounds"]


def test_never_executes_at_or_past_a_promise():
    lps = [__import__("toy_lp").build(s["name"], s["index"], s["args"]) for s in specs()]
    for lp, s in zip(lps, specs()):
        lp.out_links = {l["dst"]: LinkSpec(**l) for l in s["out_links"]}
        lp.in_links = {l["src"]: LinkSpec(**l) for l in s["in_links"]}
    d = SyncDriver(lps[1], END)
    assert d.safe_time() == 500          # before hearing anything: the link latency
    d.step()
    assert all(e[1] < 500 for e in lps[1].log)


def test_inline_detects_deadlock():
    class Stuck:
        name, index, window = "x", 0, None
        out_links = {}
        in_links = {"y": LinkSpec("y", "x", 0, "interconnect")}

        def advance(self, safe):
            pass

        def take_outbox(self, dst):
            return None

        def progress(self):
            return {}
    with pytest.raises(Deadlock):
        run_inline([Stuck()], 1000)
