"""Receive livelock: offered against delivered rate on one core, interrupt-driven receive
(`nic.napi = false`) against NAPI with several polling quotas (`nic.napi_weight`), on
`examples/livelock.toml` (an I350 queue, 64-byte datagrams to a port nobody listens on:
delivered = what completed the protocol path, NoPorts). Interrupt-driven receive is run
with no interrupt moderation (an interrupt per frame, as pre-NAPI NICs had) and with a
fixed 50 µs ITR. Prints delivered kpps and the core's share in hard IRQ per point.

    python3 bench/livelock.py [--rates 100k,200k,…] [--duration 5ms] [--slow]

`--slow` runs it on examples/profiles/slow-cpu.toml (the shipped profile at a quarter of
the clock), where NAPI too meets more than the core can take.
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
FILE = os.path.join(ROOT, "examples", "livelock.toml")
# 1,488,095 pps is a 1 Gb/s port's line rate for 64-byte frames
RATES = "100k,200k,400k,600k,800k,1000k,1200k,1488k"
SERIES = (("interrupt-driven", []),
          ("interrupt-driven, ITR 50 µs", ["nic.rx_usecs=50"]),
          ("NAPI, weight 64", ["nic.napi=true"]),
          ("NAPI, weight 4", ["nic.napi=true", "nic.napi_weight=4"]),
          ("NAPI, weight 1", ["nic.napi=true", "nic.napi_weight=1"]))


def point(rate: str, sets: list[str], duration: str, d: str, tag: str,
          profile: str | None) -> tuple[float, float]:
    extra = ["--duration", duration]
    for s in [f"flows.0.rate={rate}pps", *sets]:
        extra += ["--set", s]
    cfg = load_file(FILE)
    if profile:
        cfg["profile"] = profile            # a file: absolute, so the temp copy finds it
    s = run_softnet(cfg, "inline", d, tag, tuple(extra))[0]
    secs = s["duration_ns"] / 1e9
    return (s["drops"].get("udp_no_ports", 0) / secs / 1e3,
            s["cpu_time_ns"]["cpu0"]["hardirq"] / s["duration_ns"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default=RATES, help="offered rates (pps, k = 1000)")
    ap.add_argument("--duration", default="5ms", help="simulated time per point")
    ap.add_argument("--slow", action="store_true",
                    help="the slow-cpu profile (a quarter of the clock)")
    a = ap.parse_args(argv)
    profile = os.path.join(ROOT, "examples", "profiles", "slow-cpu.toml") if a.slow else None
    rates = a.rates.split(",")
    print("delivered kpps (share of the core in hard IRQ)")
    print(f"{'offered kpps':>12} | " + " | ".join(f"{n:>27}" for n, _ in SERIES))
    with tempfile.TemporaryDirectory() as d:
        for r in rates:
            cells = []
            for k, (_, sets) in enumerate(SERIES):
                kpps, hard = point(r, sets, a.duration, d, f"{r}-{k}", profile)
                cells.append(f"{kpps:>18,.0f} ({100 * hard:>4.0f} %)")
            offered = float(r.rstrip("k")) * (1000 if r.endswith("k") else 1) / 1e3
            print(f"{offered:>12,.0f} | " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
