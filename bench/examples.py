"""Every example, plus the cross-CPU receive case and the misaligned sender, inline and in
process mode, in one sitting: wall time, simulated packets per wall-second, rounds, and
where the busiest LP process spends its wall time per round (model work, lookahead,
framing, transport, waiting, the loop itself).

Each case runs first at its own duration to calibrate, then at a duration where inline
takes about --target seconds (scaled again, up to three times, while start-up still
dominates), in both modes.

    python bench/examples.py [--target 3] [--only basic,router] [--transport pair]

Speed is only ever compared within one run of this script, never asserted in tests.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from runner import run_softnet  # noqa: E402

from softnet.coordinator.config import load_file  # noqa: E402
from softnet.engine.units import fmt_ns, parse_duration  # noqa: E402

SPLIT = ("model", "lookahead", "framing", "transport", "waiting", "loop")


# source ports whose Toeplitz hashes (igb's default key and RETA) put one flow of each
# reader on each RX queue; consecutive ports (40000…40003) all land on one queue, and then
# one CPU does all the receive work
CROSS_PORTS = (7175, 32996, 2881, 59568)


def cross_cpu_receive() -> dict:
    """The most ordinary RSS set-up: 4 UDP flows of 250 kpps hashed on sdfn without regard
    to where the readers sit, a reader pinned on each of 2 CPUs, so half the datagrams are
    processed on one CPU for a socket on the other (each CPU's queue carries one flow of
    each reader)."""
    return {"seed": 3, "duration": "20ms", "cpus": 2,
            "nic": {"model": "i350", "combined": 2, "rx_flow_hash": {"udp4": "sdfn"}},
            "flows": [{"name": f"f{i}", "src": f"10.0.0.2:{CROSS_PORTS[i]}",
                       "dst": f"10.0.0.1:{9000 + i % 2}", "rate": "250kpps", "size": 64,
                       "arrival": "poisson"} for i in range(4)],
            "apps": [{"name": f"reader{c}", "cpu": c,
                      "socket": {"proto": "udp", "bind": f"0.0.0.0:{9000 + c}"},
                      "cost_per_read": "200ns"} for c in range(2)]}


def misaligned_sender() -> dict:
    """A sender on CPU 1 whose TX queue is cleaned by CPU 0 (the default affinity spread,
    hash-based queue choice, no XPS): every datagram crosses CPUs before the wire."""
    return {"seed": 1, "duration": "10ms", "cpus": 2,
            "nic": {"model": "i350", "combined": 1},
            "apps": [{"name": "sender", "cpu": 1,
                      "socket": {"proto": "udp", "sndbuf": 212992, "blocking": True},
                      "send": {"dst": "10.0.0.9:7000", "rate": "120kpps", "size": 1518}}]}


def aligned_sender() -> dict:
    """The same sender on CPU 0, where its TX queue is cleaned."""
    cfg = misaligned_sender()
    cfg["apps"][0]["cpu"] = 0
    return cfg


def cases(only: set[str] | None) -> dict[str, dict]:
    out = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml"))):
        name = os.path.basename(path)[:-5]
        out[name] = load_file(path)
    out["cross_cpu_rx"] = cross_cpu_receive()
    out["sender_misaligned"] = misaligned_sender()
    out["sender_aligned"] = aligned_sender()
    return {k: v for k, v in out.items() if only is None or k in only}


def run(cfg: dict, mode: str, work: str, tag: str, extra: tuple = ()) -> dict:
    s, e, wall, out = run_softnet(cfg, mode, work, tag, extra)
    procs = e["processes"]
    busiest = max(procs, key=lambda n: procs[n].get("wall_s", 0) - procs[n].get("wait_s", 0))
    p = procs[busiest]
    return {"wall": wall, "packets": s.get("offered", 0) + s.get("sent", 0),
            "rounds": max(q.get("rounds", 0) for q in procs.values()),
            "busiest": busiest, "split": p.get("split_s"), "proc_rounds": p.get("rounds", 0),
            "files": {rel: open(os.path.join(out, rel), "rb").read()
                      for rel in ("summary.json", "proc/net/softnet_stat")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=float, default=3.0,
                    help="seconds inline should take at the measured duration")
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument("--transport", default="pair", help="process mode's transport")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="softnet-bench-")
    rows = []
    for name, cfg in cases(set(a.only.split(",")) if a.only else None).items():
        dur = parse_duration(cfg.get("duration", "50ms"))
        cal = run(cfg, "inline", work, f"{name}-cal")
        for _ in range(3):
            # start-up dominates a short calibration run: scale again until inline takes
            # most of the target
            scaled = max(dur, int(dur * a.target / max(cal["wall"], 1e-3)) // 1000 * 1000)
            cfg = {**cfg, "duration": f"{scaled // 1000}us"}
            cal = run(cfg, "inline", work, f"{name}-inline")
            if cal["wall"] >= 0.7 * a.target:
                break
            dur = scaled
        il = cal
        pr = run(cfg, "process", work, f"{name}-process", ("--transport", a.transport))
        same = il["files"] == pr["files"]
        rows.append((name, scaled, il, pr, same))
        print(f"{name}: {fmt_ns(scaled)} inline {il['wall']:.2f} s, process "
              f"{pr['wall']:.2f} s{'' if same else '  RESULTS DIFFER'}", file=sys.stderr)
    print(f"\n| case | simulated | inline s | process s | process/inline | inline pkt/s | "
          f"process pkt/s | rounds | busiest LP: µs per round "
          f"({' / '.join(SPLIT)}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, scaled, il, pr, same in rows:
        sp = pr["split"] or {}
        per = " / ".join(f"{1e6 * sp.get(k, 0) / max(pr['proc_rounds'], 1):.1f}" for k in SPLIT)
        print(f"| {name} | {fmt_ns(scaled)} | {il['wall']:.2f} | {pr['wall']:.2f} | "
              f"{pr['wall'] / il['wall']:.2f} | {il['packets'] / il['wall']:,.0f} | "
              f"{pr['packets'] / pr['wall']:,.0f} | {pr['rounds']:,} | {pr['busiest']}: "
              f"{per} |" + ("" if same else " (results differ!)"))


if __name__ == "__main__":
    main()
