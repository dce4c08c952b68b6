"""A small model of process mode's speed-up on more cores, fed from measurements taken here.

It measures, in one sitting on this machine, the feed-forward scaling experiment
(bench/experiments.py `rss_scaling`: one queue and one reader per CPU, 300 kpps per CPU)
with 1 and 2 CPUs in process mode and inline, and the engine-only hop (two LPs bouncing a
token, bench/pingpong.py's case). From each LP process's own split of its wall time
(engine.json `processes.*.split_s`) it takes:

- w_cpu: one CPU LP's busy seconds per simulated second (model work, lookahead, framing,
  transport, loop: everything but waiting);
- w_nic1: the nic LP's busy seconds per simulated second per CPU it feeds (the nic
  generates and classifies every frame, so its work grows with the CPUs);
- r: rounds per simulated second of the busiest LP, and h: the wall cost of one hand-over
  between processes on their own cores (the measured hop minus the work inside it);
- w_inline: inline seconds per simulated second per CPU (the same work in one process).

and predicts, for N simulated CPUs on N + 1 real cores:

    inline(N)  = N · w_inline
    process(N) = max(w_cpu, N · w_nic1) + r · h
    speed-up   = inline(N) / process(N)

Assumptions, stated because they decide the answer: traffic per CPU stays fixed as N grows
(weak scaling), so a CPU LP's work does not change; the nic's work is linear in the frames
it generates; the CPUs do not talk to each other (feed-forward; cross-CPU traffic adds
rounds on 42 ns links, which this model does not cover); rounds per simulated second do not
grow with N; every process has a core of its own, so hand-overs cost the spinning hop, not a
wake-up; no memory-bandwidth or cache effects between cores. On this 2-core machine the
measurements themselves run with processes sharing cores, so w_cpu and w_nic1 include some
of that sharing; the prediction is for the model, not a promise.

    python bench/speedup_model.py [--packets 200000]

Speed is only ever compared within one run of this script, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from experiments import rss_scaling  # noqa: E402
from runner import run_softnet  # noqa: E402

from softnet.coordinator.launch import run_process_mode  # noqa: E402

PER_CPU_PPS = 300_000
SIZES = (4, 8, 16, 64)


def busy(p: dict) -> float:
    sp = p.get("split_s") or {}
    return sum(v for k, v in sp.items() if k != "waiting")


def hop_cost(rounds: int = 20000, latency: int = 100) -> tuple[float, float]:
    """(wall µs per hop, busy µs per hop) of two LPs bouncing a token, no model work."""
    links = [{"src": "a", "dst": "b", "latency": latency, "kind": "interconnect"},
             {"src": "b", "dst": "a", "latency": latency, "kind": "interconnect"}]
    specs = [{"name": n, "index": i, "factory": "toy_lp:build",
              "args": {"peer": peer, "serve": n == "a", "work": 0, "tick": False},
              "out_links": [l for l in links if l["src"] == n],
              "in_links": [l for l in links if l["dst"] == n]}
             for i, (n, peer) in enumerate((("a", "b"), ("b", "a")))]
    res, _ = run_process_mode(specs, rounds * latency)
    wall = max(r["engine"]["wall_s"] for r in res.values())
    work = busy(res["a"]["engine"])
    return 1e6 * wall / rounds, 1e6 * work / rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000, help="packets per measured run")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="softnet-bench-")
    hop, hop_busy = hop_cost()
    h = max(0.0, hop - hop_busy) / 1e6          # a hand-over's own wall cost, seconds
    print(f"engine hop: {hop:.1f} µs wall, {hop_busy:.1f} µs of it busy → hand-over "
          f"{1e6 * h:.1f} µs")
    meas = {}
    for n in (1, 2):
        dur_ms = max(1, round(a.packets / (PER_CPU_PPS * n) * 1000))
        cfg = rss_scaling(n, PER_CPU_PPS * n, f"{dur_ms}ms")
        sim_s = dur_ms / 1000
        _, ei, _, _ = run_softnet(cfg, "inline", work, f"inline{n}")
        _, ep, _, _ = run_softnet(cfg, "process", work, f"process{n}")
        procs = ep["processes"]
        cpus = [p for name, p in procs.items() if name != "nic"]
        meas[n] = {"w_inline": ei["wall_s"] / sim_s / n,
                   "w_cpu": max(busy(p) for p in cpus) / sim_s,
                   "w_nic1": busy(procs["nic"]) / sim_s / n,
                   "r": max(p["rounds"] for p in procs.values()) / sim_s,
                   "process": ep["wall_s"] / sim_s, "inline": ei["wall_s"] / sim_s}
        m = meas[n]
        print(f"measured, {n} CPU: inline {m['inline']:.2f} s per simulated s, process "
              f"{m['process']:.2f}; w_cpu {m['w_cpu']:.2f}, w_nic per CPU {m['w_nic1']:.3f}, "
              f"{m['r']:,.0f} rounds per simulated s")
    m = meas[2]
    print("\n| simulated CPUs (real cores) | inline s per sim s | process s per sim s | "
          "speed-up | bound by |")
    print("|---|---|---|---|---|")
    for n in SIZES:
        inline = n * m["w_inline"]
        work_cpu, work_nic = m["w_cpu"], n * m["w_nic1"]
        process = max(work_cpu, work_nic) + m["r"] * h
        bound = "the nic" if work_nic > work_cpu else "each CPU"
        print(f"| {n} ({n + 1}) | {inline:.2f} | {process:.2f} | {inline / process:.1f}× | "
              f"{bound} |")


if __name__ == "__main__":
    main()
