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
sys.path.insert(0, HERE)

from softnet.coordinator.launch import (TRANSPORTS, run_inline_mode,  # noqa: E402
                                        run_process_mode)
from softnet.engine.events import PRIO_LINK, EventQueue  # noqa: E402
from softnet.engine.lp import LogicalProcess  # noqa: E402


class Ping(LogicalProcess):
    """Each bounce takes no time: the token crosses a link, comes back, crosses again."""

    def __init__(self, name, index, args):
        self.name, self.index = name, index
        self.peer = args["peer"]
        self.ev = EventQueue(index)
        self.out = []
        self.seq = 0
        self.bounces = 0
        if args.get("serve"):
            self.ev.schedule(0, self._bounce, 0)

    def _bounce(self, t, hops):
        self.bounces += 1
        self.seq += 1
        self.out.append((self.out_links[self.peer].deliver(t), self.seq, hops + 1))

    def receive(self, src, payload):
        for stamp, seq, hops in payload:
            self.ev.schedule_keyed(stamp, PRIO_LINK, 99, seq, self._bounce, hops)

    def advance(self, safe):
        while self.ev.next_time() < safe:
            t, *_, h, arg = self.ev.pop()
            h(t, arg)

    def take_outbox(self, dst):
        out, self.out = self.out, []
        return out or None

    def result(self):
        return {"bounces": self.bounces}


def build(name, index, args):
    return Ping(name, index, args)


def specs(latency: int) -> list[dict]:
    links = [{"src": "a", "dst": "b", "latency": latency, "kind": "interconnect"},
             {"src": "b", "dst": "a", "latency": latency, "kind": "interconnect"}]
    return [{"name": n, "index": i, "factory": "pingpong:build",
             "args": {"peer": peer, "serve": n == "a"},
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
