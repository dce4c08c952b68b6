"""ixgbe's ATR on an 82599 under TCP_RR: 4 CPUs, 4 queues, 32 connections to a server port
per CPU (that port's netserver processes on that CPU), with ATR (the default) and with
`ntuple` on (perfect-filter mode: ATR off, RSS alone). Prints transactions/s, the median
RTT, the share of requests whose protocol processing ran on their server's CPU, the
filters ATR wrote, and the CPUs' mean busy share.

    python3 bench/atr.py [--duration 10ms]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402

CPUS = 4


def experiment(atr: bool, duration: str) -> dict:
    return {"seed": 1, "duration": duration, "cpus": CPUS,
            "nic": {"model": "82599", "combined": CPUS, "ntuple": not atr},
            "flows": [{"name": f"rr{c}", "proto": "tcp_rr",
                       "src": f"10.0.0.2:{40000 + 1000 * c}", "dst": f"10.0.0.1:{9000 + c}",
                       "instances": 32 // CPUS} for c in range(CPUS)],
            "apps": [{"name": f"srv{c}", "cpu": c, "serve": "rr",
                      "socket": {"proto": "tcp", "bind": f"0.0.0.0:{9000 + c}"}}
                     for c in range(CPUS)]}


def local_share(s: dict) -> float:
    """Of the segments the servers' connections received, the share processed on the
    server's own CPU."""
    local = total = 0
    for name, sk in s["sockets"].items():
        by = sk.get("processed_by_cpu", {})
        total += sum(by.values())
        local += by.get(str(sk["cpu"]), 0)
    return local / total if total else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="10ms", help="simulated time per run")
    a = ap.parse_args(argv)
    print(f"{'ATR':>4} {'transactions/s':>15} {'RTT p50 µs':>11} {'on server CPU %':>15} "
          f"{'filters':>8} {'CPU % (mean)':>12}")
    with tempfile.TemporaryDirectory() as d:
        for atr in (False, True):
            s = run_softnet(experiment(atr, a.duration), "inline", d, f"atr{atr}")[0]
            t = s["rr"]["total"]
            busy = sum(s["cpu_busy_share"].values()) / len(s["cpu_busy_share"])
            print(f"{'on' if atr else 'off':>4} {t['tps']:>15,.0f} "
                  f"{t['rtt_us'].get('p50', 0):>11} {100 * local_share(s):>15.1f} "
                  f"{s.get('atr', {}).get('filters_written', 0):>8} {100 * busy:>12.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
