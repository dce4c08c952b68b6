"""Engine-only round cost: two LPs that do no model work bounce a token over a pair of
links, so every round is one frame each way and nothing else. Prints rounds per
wall-second and wall µs per round, inline and in process mode, for every transport.

    python bench/pingpong.py [--rounds 20000] [--latency 100]

Speed is only ever compared within one run of this script, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# the engine tests' toy LP (tests/toy_lp.py) with no work and no ticks of its own
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from softnet.coordinator.launch import (TRANSPORTS, run_inline_mode,  # noqa: E402
                                        run_process_mode)


def specs(latency: int) -> list[dict]:
    links = [{"src": "a", "dst": "b", "latency": latency, "kind": "interconnect"},
             {"src": "b", "dst": "a", "latency": latency, "kind": "interconnect"}]
    return [{"name": n, "index": i, "factory": "toy_lp:build",
             "args": {"peer": peer, "serve": n == "a", "work": 0, "tick": False},
             "out_links": [l for l in links if l["src"] == n],
             "in_links": [l for l in links if l["dst"] == n]}
            for i, (n, peer) in enumerate((("a", "b"), ("b", "a")))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20000)
    ap.add_argument("--latency", type=int, default=100, help="link latency, ns")
    ap.add_argument("--transports", default=",".join(TRANSPORTS),
                    help=f"process-mode transports to measure (of {', '.join(TRANSPORTS)})")
    a = ap.parse_args()
    end = a.rounds * a.latency
    rows = []
    t0 = time.perf_counter()
    res, _ = run_inline_mode(specs(a.latency), end)
    rows.append(("inline", time.perf_counter() - t0, res))
    for transport in a.transports.split(","):
        res, _ = run_process_mode(specs(a.latency), end, transport=transport)
        # the workers' own loop time: start-up is not a round
        rows.append((f"process/{transport}", max(r["engine"]["wall_s"] for r in res.values()),
                     res))
    # a round: one LP hands the token over and hears it back, so one link latency of
    # simulated time per hop; `rounds` counts each LP's own loop turns
    hops = end // a.latency
    print(f"{'mode':<14} {'hops':>7} {'loop turns':>10} {'wall s':>7} {'µs/hop':>7} "
          f"{'waiting':>8}")
    for mode, wall, res in rows:
        turns = res["a"]["engine"]["rounds"]
        waiting = max(r["engine"]["wait_s"] for r in res.values()) / wall
        print(f"{mode:<14} {hops:>7} {turns:>10} {wall:>7.2f} {1e6 * wall / hops:>7.1f} "
              f"{100 * waiting:>7.0f}%")

if __name__ == "__main__":
    main()
