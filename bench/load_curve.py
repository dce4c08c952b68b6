"""CPU use against offered load on one core of an E810, with adaptive interrupt moderation
(net_dim, the driver's default) and with a fixed ITR: the receive path of
`examples/calibration/noports.toml` (every datagram dropped at udp_rcv) at rising rates.
With net_dim the interrupt rate stops following the packet rate as the load grows (each
interrupt amortised over more packets per poll), so the curve bends; with a fixed ITR the
interrupt rate is capped from the start.

    python3 bench/load_curve.py [--rates 50k,100k,…] [--duration 20ms]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402

from softnet.coordinator.config import load_file  # noqa: E402

ROOT = os.path.dirname(HERE)
FILE = os.path.join(ROOT, "examples", "calibration", "noports.toml")
RATES = "50k,100k,200k,400k,800k,1200k,1600k,2000k,2400k,2800k"
MODES = (("adaptive-rx on", []), ("rx-usecs 50", ["nic.adaptive_rx=false",
                                                  "nic.rx_usecs=50"]))


def point(rate: str, sets: list[str], duration: str, d: str, tag: str) -> dict:
    extra = ["--duration", duration]
    for s in [f"flows.0.rate={rate}pps", *sets]:
        extra += ["--set", s]
    s = run_softnet(load_file(FILE), "inline", d, tag, tuple(extra))[0]
    secs = s["duration_ns"] / 1e9
    irqs = sum(v.get("interrupts", 0) for v in s["vectors"].values())
    return {"busy": s["cpu_busy_share"]["cpu0"], "pps": s["drops"].get("udp_no_ports", 0)
            / secs, "irq_s": irqs / secs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default=RATES, help="offered packet rates, comma-separated")
    ap.add_argument("--duration", default="20ms", help="simulated time per point")
    a = ap.parse_args(argv)
    rates = [r.strip() for r in a.rates.split(",")]
    print(f"{'offered':>8} | " + " | ".join(f"{name:^30}" for name, _ in MODES))
    print(f"{'pps':>8} | " + " | ".join(f"{'CPU %':>8} {'through pps':>11} {'irq/s':>9}"
                                         for _ in MODES))
    with tempfile.TemporaryDirectory() as d:
        for r in rates:
            cells = []
            for i, (_, sets) in enumerate(MODES):
                p = point(r, sets, a.duration, d, f"{r}-{i}")
                cells.append(f"{100 * p['busy']:>8.1f} {p['pps']:>11,.0f} {p['irq_s']:>9,.0f}")
            print(f"{r:>8} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
