"""`examples/kernels.toml` on each kernel: two queues' interrupts on CPU 0, a reader on
CPU 1 that cannot keep up. Prints what was delivered, where the rest was dropped and the
counter that saw it, CPU 0's time squeezes and NET_RX softirqs, and its softirq share
(both contexts).

    python3 bench/kernels.py [--duration 20ms]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402

KERNELS = ("3.10", "3.13", "6.6")


def _snmp_udp(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "proc/net/snmp")) as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def _net_rx(run_dir: str) -> int:
    with open(os.path.join(run_dir, "proc/softirqs")) as f:
        row = next(l for l in f if l.strip().startswith("NET_RX:"))
    return int(row.split()[1])              # CPU 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="20ms", help="simulated time per run")
    a = ap.parse_args(argv)
    with open(os.path.join(HERE, "..", "examples", "kernels.toml"), "rb") as f:
        base = tomllib.load(f)
    print(f"{'kernel':>6} {'delivered/s':>12} {'dropped/s':>10} {'drop stage':>20} "
          f"{'InErrors':>9} {'RcvbufErr':>9} {'squeezes':>8} {'NET_RX':>7} {'CPU0 si %':>9}")
    with tempfile.TemporaryDirectory() as d:
        for k in KERNELS:
            s, _, _, out = run_softnet({**base, "kernel": k, "duration": a.duration},
                                       "inline", d, f"k{k}")
            secs = s["duration_ns"] / 1e9
            udp = _snmp_udp(out)
            t = s["cpu_time_ns"]["cpu0"]
            si = 100 * (t["softirq"] + t["ksoftirqd"]) / s["duration_ns"]
            stages = ", ".join(sorted(s["drops"])) or "-"
            print(f"{k:>6} {s['delivered'] / secs:>12,.0f} "
                  f"{sum(s['drops'].values()) / secs:>10,.0f} {stages:>20} "
                  f"{udp['InErrors']:>9} {udp['RcvbufErrors']:>9} "
                  f"{s['softnet']['cpu0']['time_squeeze']:>8} {_net_rx(out):>7} {si:>9.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
