"""softnet's figures next to the published ones its cost profile was built from
(shared/reference/calibration.md, the profile's [sources]): the experiments in
`examples/calibration/`, each run once, the rate a core gets through printed beside the
published rate. Every cost the profile holds is a piece of these totals, so they show
whether the pieces add back up: what a drop stage frees, which TX steps a forward takes.

    python3 bench/calibration.py [--duration 50ms] [--mode inline|process]
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
CAL = os.path.join(ROOT, "examples", "calibration")

# (file, what is counted, published pps, source): calibration.md A's host and kernel, the
# profile's own
FIGURES = (
    ("raw_drop.toml", "nf_raw_drop", 5_051_787,
     "XDP paper bench01: iptables raw drop, E5-1650 v4 + CX-5, 4.18"),
    ("filter_drop.toml", "nf_filter_drop", 3_319_718,
     "XDP paper bench01: iptables filter drop, E5-1650 v4 + CX-5, 4.18"),
    ("forward.toml", "forwarded", 1_739_672,
     "XDP paper bench04: Linux forward, E5-1650 v4 + CX-5, 4.18"),
)
# the same host on another kernel and NIC (5.1, i40e): the UDP steps' figures were cut from
# these, as differences within that platform, so the totals are cross-checks
CROSS_CHECKS = (
    ("noports.toml", "udp_no_ports", 3_326_983,
     "cpumap02: UdpNoPorts, E5-1650 v4 + XL710, 5.1"),
    ("sink.toml", "delivered", 2_311_585,
     "cpumap02: udp_sink on another CPU, E5-1650 v4 + XL710, 5.1"),
)


def counted(s: dict, what: str) -> int:
    if what in ("forwarded", "delivered"):
        return s[what]
    return s["drops"].get(what, 0)


def rate(path: str, what: str, duration: str, mode: str, d: str, tag: str) -> float:
    """Packets per simulated second through the stage `what`."""
    s = run_softnet(load_file(path), mode, d, tag, ("--duration", duration))[0]
    return counted(s, what) * 1e9 / s["duration_ns"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="50ms", help="simulated time per run")
    ap.add_argument("--mode", default="inline", choices=("inline", "process"))
    a = ap.parse_args(argv)
    print(f"{'experiment':<14} {'counted':<13} {'softnet pps':>12} {'published':>12} "
          f"{'ratio':>6}  source")
    with tempfile.TemporaryDirectory() as d:
        for title, figures in (("", FIGURES), ("cross-checks (another kernel and NIC):",
                                               CROSS_CHECKS)):
            if title:
                print(title)
            for name, what, published, source in figures:
                got = rate(os.path.join(CAL, name), what, a.duration, a.mode, d, name[:-5])
                print(f"{name[:-5]:<14} {what:<13} {got:>12,.0f} {published:>12,} "
                      f"{got / published:>6.3f}  {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
