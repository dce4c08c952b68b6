"""The experiments where the kernel shares state between CPUs (shared-state-dim-rr.md §1,
§2), with what softnet charges for it (a socket's and a TX queue's locks and lines), so
each prints softnet's figures and the counters that explain them:

- one UDP socket fed by 1, 2, 4 and 8 producer CPUs (an E810 queue on each, the reader
  on CPU 0): delivered, RcvbufErrors, the reader's and the producers' CPU, and the
  socket's lock (time spun, line transfers per packet, busylock acquisitions);
- RPS on a single-queue NIC under UDP_RR (64 instances, one server per CPU in a reuseport
  group, and one instance alone), without and with rps_cpus;
- RPS on a single-queue NIC under TCP_RR with 256 connections on 8 CPUs (netserver's
  processes spread over them), where the interrupt's CPU is what saturates without RPS;
- XPS on and off with a sender on each of 4 CPUs sharing 4 TX queues: the queues' line
  transfers and spins, and the CPUs' time.

    python3 bench/shared_state.py [--duration 10ms]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402


def one_socket(producers: int, duration: str) -> dict:
    """An E810 queue per producer CPU (1..n), 16 flows per queue at 1 Mpps each queue, all
    for one socket read on CPU 0."""
    n = producers
    flows = [{"name": f"f{i}", "src": f"10.0.{i // 200}.{2 + i % 200}:{40000 + i}",
              "dst": "10.0.0.1:9000", "rate": f"{1_000_000 / 16:.0f}pps", "size": 64}
             for i in range(16 * n)]
    return {"seed": 3, "duration": duration, "cpus": n + 1,
            "nic": {"model": "e810", "combined": n},
            "irq": {"smp_affinity": {f"ice-eth0-TxRx-{q}": f"{1 << (q + 1):x}"
                                     for q in range(n)}},
            "flows": flows,
            "apps": [{"name": "reader", "cpu": 0,
                      "socket": {"proto": "udp", "bind": "0.0.0.0:9000",
                                 "rcvbuf": 4_000_000}}]}


def rps_rr(instances: int, rps: bool, duration: str) -> dict:
    cfg = {"seed": 1, "duration": duration, "cpus": 4,
           "nic": {"model": "i350", "combined": 1, "rx_flow_hash": {"udp4": "sdfn"}},
           "flows": [{"name": "rr", "proto": "udp_rr", "src": "10.0.0.2:40000",
                      "dst": "10.0.0.1:9000", "instances": instances}],
           "apps": [{"name": f"srv{c}", "cpu": c, "serve": "rr",
                     "socket": {"proto": "udp", "bind": "0.0.0.0:9000", "reuseport": True}}
                    for c in range(4)]}
    if rps:
        cfg["nic"]["rps_cpus"] = {"rx-0": "f"}
    return cfg


def rps_tcp_rr(cpus: int, per_cpu: int, rps: bool, duration: str) -> dict:
    """A tcp_rr flow of per_cpu connections to a port per CPU, that port's netserver
    processes on that CPU (netserver forks one per connection; the scheduler spreads them),
    one I350 queue whose vector is on CPU 0."""
    cfg = {"seed": 1, "duration": duration, "cpus": cpus,
           "nic": {"model": "i350", "combined": 1},
           "irq": {"smp_affinity": {"eth0-TxRx-0": "1"}},
           "flows": [{"name": f"rr{c}", "proto": "tcp_rr", "src": f"10.0.0.2:{40000 + 1000 * c}",
                      "dst": f"10.0.0.1:{9000 + c}", "instances": per_cpu}
                     for c in range(cpus)],
           "apps": [{"name": f"srv{c}", "cpu": c, "serve": "rr",
                     "socket": {"proto": "tcp", "bind": f"0.0.0.0:{9000 + c}"}}
                    for c in range(cpus)]}
    if rps:
        cfg["nic"]["rps_cpus"] = {"rx-0": f"{(1 << cpus) - 1:x}"}
    return cfg


def xps(on: bool, duration: str) -> dict:
    cfg = {"seed": 1, "duration": duration, "cpus": 4,
           "nic": {"model": "i350", "combined": 4},
           "host": {"neigh": {"10.2.0.9": "permanent"}},
           "apps": [{"name": f"tx{c}", "cpu": c,
                     "socket": {"proto": "udp", "sndbuf": 4_000_000},
                     "send": {"dst": f"10.2.0.9:{7000 + c}", "rate": "150kpps",
                              "size": 64}} for c in range(4)]}
    if on:
        cfg["nic"]["xps_cpus"] = {f"tx-{q}": f"{1 << q:x}" for q in range(4)}
    return cfg


def run(cfg: dict, d: str, tag: str) -> dict:
    return run_softnet(cfg, "inline", d, tag)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="10ms", help="simulated time per run")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        print("one socket, n producer CPUs (1 Mpps offered per producer)")
        print(f"{'producers':>9} {'delivered pps':>14} {'RcvbufErrors/s':>15} "
              f"{'reader CPU %':>12} {'producer CPU %':>14} {'spun µs/ms':>10} "
              f"{'transfers/pkt':>13} {'busylock %':>10}")
        for n in (1, 2, 4, 8):
            s = run(one_socket(n, a.duration), d, f"sock{n}")
            secs = s["duration_ns"] / 1e9
            lk = s["sockets"]["reader"]["lock"]
            offered = max(1, s["sockets"]["reader"]["enqueued"]
                          + s["drops"].get("udp_rcvbuf_errors", 0))
            prod = sum(s["cpu_busy_share"][f"cpu{c}"] for c in range(1, n + 1)) / n
            print(f"{n:>9} {s['delivered'] / secs:>14,.0f} "
                  f"{s['drops'].get('udp_rcvbuf_errors', 0) / secs:>15,.0f} "
                  f"{100 * s['cpu_busy_share']['cpu0']:>12.1f} {100 * prod:>14.1f} "
                  f"{lk['spin_ns'] / 1e3 / (secs * 1e3):>10.1f} "
                  f"{lk['line_transfers'] / offered:>13.2f} "
                  f"{100 * lk['busylock'] / offered:>10.1f}")
        print("\nUDP_RR on a single-queue I350, 4 CPUs, a server per CPU")
        print(f"{'instances':>9} {'RPS':>4} {'transactions/s':>15} {'RTT p50 µs':>11}")
        for inst in (1, 64):
            for rps in (False, True):
                t = run(rps_rr(inst, rps, a.duration), d, f"rr{inst}{rps}")["rr"]["total"]
                print(f"{inst:>9} {'on' if rps else 'off':>4} {t['tps']:>15,.0f} "
                      f"{t['rtt_us'].get('p50', 0):>11}")
        print("\nTCP_RR on a single-queue I350, 8 CPUs, 32 connections to a server port per CPU")
        print(f"{'RPS':>4} {'transactions/s':>15} {'RTT p50 µs':>11} {'IRQ CPU %':>9} "
              f"{'other CPUs % (mean)':>19}")
        for rps in (False, True):
            s = run(rps_tcp_rr(8, 32, rps, a.duration), d, f"tcprr{rps}")
            t = s["rr"]["total"]
            irq = "cpu0"
            rest = [v for k, v in s["cpu_busy_share"].items() if k != irq]
            print(f"{'on' if rps else 'off':>4} {t['tps']:>15,.0f} "
                  f"{t['rtt_us'].get('p50', 0):>11} "
                  f"{100 * s['cpu_busy_share'][irq]:>9.1f} {100 * sum(rest) / len(rest):>19.1f}")
        print("\na sender on each of 4 CPUs, 4 TX queues (150 kpps each)")
        print(f"{'XPS':>4} {'on wire pps':>12} {'CPU % (mean)':>13} {'queues used':>11} "
              f"{'line transfers/pkt':>18} {'HARD_TX_LOCK/pkt':>16} {'spun µs':>8}")
        for on in (False, True):
            s = run(xps(on, a.duration), d, f"xps{on}")
            secs = s["duration_ns"] / 1e9
            busy = sum(s["cpu_busy_share"].values()) / len(s["cpu_busy_share"])
            locks = [q["lock"] for q in s["tx_queues"].values()]
            print(f"{'on' if on else 'off':>4} {s['on_wire'] / secs:>12,.0f} "
                  f"{100 * busy:>13.1f} {len(locks):>11} "
                  f"{sum(k['line_transfers'] for k in locks) / max(1, s['sent']):>18.2f} "
                  f"{sum(k['xmit_lock_transfers'] for k in locks) / max(1, s['sent']):>16.3f} "
                  f"{sum(k['spin_ns'] for k in locks) / 1e3:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
