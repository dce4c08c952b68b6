"""Request/response under loss: a UDP flood on the interrupt's CPU for the first 10 ms of
a 225 ms run makes the ring drop some requests of 4 instances (think time 2 ms) whose
servers run on the other CPU. TCP_RR recovers each loss by the loss probe ≈ 208 ms later
(shared-state-dim-rr.md §5.2); UDP_RR stalls the instance for good, or until netperf's
`-e` timeout sends a fresh request. Prints, per protocol, the transactions, the RTT's
p50 and max, the requests lost and how they were recovered.

    python3 bench/rr_loss.py
"""

from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402


def lossy(proto: str, timeout: str | None = None) -> dict:
    rr = {"name": "rr", "proto": proto, "src": "10.0.0.2:40000", "dst": "10.0.0.1:9000",
          "instances": 4, "think": "2ms"}
    if timeout:
        rr["timeout"] = timeout
    return {"seed": 1, "duration": "225ms", "cpus": 2,
            "nic": {"model": "e810", "combined": 1},
            "flows": [rr, {"name": "flood", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9",
                           "rate": "4Mpps", "arrival": "poisson", "stop": "10ms"}],
            "apps": [{"name": "netserver", "cpu": 1, "serve": "rr",
                      "socket": {"proto": proto[:3], "bind": "0.0.0.0:9000"}}]}


def main() -> int:
    print(f"{'test':<22} {'transactions':>12} {'RTT p50 µs':>10} {'RTT max µs':>11} "
          f"{'lost':>5} {'recovered by':<40} {'waiting at end':>14}")
    with tempfile.TemporaryDirectory() as d:
        for tag, proto, timeout in (("TCP_RR", "tcp_rr", None),
                                    ("UDP_RR", "udp_rr", None),
                                    ("UDP_RR -e (50 ms)", "udp_rr", "50ms")):
            s = run_softnet(lossy(proto, timeout), "inline", d, tag.split()[0])[0]
            t = s["rr"]["total"]
            lost = sum(f["dropped"] for f in s["flows"] if f["name"].startswith("rr#"))
            if proto == "tcp_rr":
                c, srv = t["client_tcp"], s["rr"]["tcp_server"]
                how = (f"{c['probes']} client + {srv['loss_probes']} server probes, "
                       f"{c['timeouts'] + srv['timeouts']} RTOs")
            else:
                how = f"{t['timeouts']} receive timeouts"
            print(f"{tag:<22} {t['transactions']:>12} {t['rtt_us'].get('p50', 0):>10} "
                  f"{t['rtt_us'].get('max', 0):>11,.0f} {lost:>5} {how:<40} "
                  f"{t['outstanding']:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
