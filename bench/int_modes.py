"""Each device in each interrupt mode the probe can end with (`nic.int_mode`): one flow of
64-byte datagrams to a reader on the other CPU, the NIC's vectors on the first. Prints the
vectors the probe requested, the interrupts per second, the hard-IRQ time per interrupt
(MSI and INTx read ICR/EICR across PCIe), the CPUs' busy share and what the reader got.

    python3 bench/int_modes.py [--rate 300k] [--duration 10ms]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402

MODELS = ("i350", "82574l", "82599")
MODES = ("msix", "msi", "legacy")


def experiment(model: str, mode: str, rate: str, duration: str) -> dict:
    queue = {"i350": "eth0-rx-0", "82574l": "eth0-rx-0", "82599": "eth0-TxRx-0"}[model]
    return {"seed": 1, "duration": duration, "cpus": 2,
            "nic": {"model": model, "combined": 1, "int_mode": mode},
            # the receive interrupt on CPU 0, whatever it is called in this mode
            "irq": {"smp_affinity": {queue if mode == "msix" else "eth0": "1"}},
            "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                       "rate": f"{rate}pps", "size": 64}],
            "apps": [{"name": "r", "cpu": 1,
                      "socket": {"proto": "udp", "bind": "0.0.0.0:9000"}}]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", default="300k", help="offered rate (pps, k = 1000)")
    ap.add_argument("--duration", default="10ms", help="simulated time per run")
    a = ap.parse_args(argv)
    print(f"{'device':>7} {'mode':>6} {'vectors':>7} {'irq/s':>9} {'ns per irq':>10} "
          f"{'CPU0 %':>7} {'CPU1 %':>7} {'read pps':>10}")
    with tempfile.TemporaryDirectory() as d:
        for model in MODELS:
            for mode in MODES:
                s = run_softnet(experiment(model, mode, a.rate, a.duration), "inline", d,
                                f"{model}-{mode}")[0]
                secs = s["duration_ns"] / 1e9
                irqs = sum(v.get("interrupts", 0) for v in s["vectors"].values())
                hard = sum(t["hardirq"] for t in s["cpu_time_ns"].values())
                busy = s["cpu_busy_share"]
                print(f"{model:>7} {mode:>6} {len(s['vectors']):>7} {irqs / secs:>9,.0f} "
                      f"{hard / max(1, irqs):>10,.0f} {100 * busy['cpu0']:>7.1f} "
                      f"{100 * busy['cpu1']:>7.1f} {s['delivered'] / secs:>10,.0f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
