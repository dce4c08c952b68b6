"""Memory against run length (issue 9 item 4): one fixed experiment at 1.4 Mpps run for
0.25 s, 1 s and 4 s of simulated time, in process mode and inline; prints every process's
peak RSS (VmHWM) per duration and the ratio longest / shortest. Memory should not depend on
how long a run lasts at a fixed rate, so every ratio should be close to 1.

    python bench/memory.py [--durations 0.25s,1s,4s] [--rate 1.4Mpps] [--file FILE]
                           [--modes process,inline] [--transport pair|zmq]

The experiment is `examples/basic.toml` (one RX queue; its CPU hands every datagram to the
reader on CPU 0) with `flows.0.rate` set to the rate; `--file default` runs the built-in
default experiment (four flows) with its first flow at the rate instead. Process mode
reads each process's peak from the run's engine.json; inline runs in a child process of
its own, which reports its VmHWM. Over ZeroMQ each pipe holds up to its high-water mark of
frames, which a run shorter than about 0.2 s at this rate does not reach: start at 0.25 s.
Memory is only ever measured here, never asserted in tests (tests/test_memory.py checks
the structure instead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

from softnet.coordinator.cli import main as softnet  # noqa: E402

# An inline run in a fresh interpreter that reports its own peak RSS (VmHWM belongs to
# the process image, so the bench's own memory does not count).
_INLINE = """
import sys
from softnet.coordinator.cli import main
code = main(sys.argv[2:])
with open("/proc/self/status") as f:
    hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
with open(sys.argv[1], "w") as f:
    f.write(str(hwm))
sys.exit(code)
"""


def argv(file: str | None, rate: str, duration: str, mode: str, out: str) -> list[str]:
    a = ["run"] + ([file] if file else [])
    return a + ["--set", f"flows.0.rate={rate}", "--duration", duration, "--mode", mode,
                "--out", out, "--quiet", "--force"]


def offered(out: str) -> int:
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)["offered"]


def run_process(file, rate, duration, work, transport=None):
    out = os.path.join(work, f"process-{duration}")
    extra = ["--transport", transport] if transport else []
    code = softnet(argv(file, rate, duration, "process", out) + extra)
    if code != 0:
        raise SystemExit(f"process {duration}: softnet exited {code}")
    with open(os.path.join(out, "engine.json")) as f:
        e = json.load(f)
    rss = {n: p["max_rss_kb"] / 1024 for n, p in e["processes"].items()}
    return rss, offered(out), e["wall_s"]


def run_inline(file, rate, duration, work, transport=None):
    out = os.path.join(work, f"inline-{duration}")
    hwm = os.path.join(work, f"inline-{duration}.hwm")
    p = subprocess.run([sys.executable, "-c", _INLINE, hwm,
                        *argv(file, rate, duration, "inline", out)], cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"inline {duration}: softnet exited {p.returncode}")
    with open(hwm) as f:
        kb = int(f.read())
    with open(os.path.join(out, "engine.json")) as f:
        wall = json.load(f)["wall_s"]
    return {"inline": kb / 1024}, offered(out), wall


def table(mode: str, durations: list[str], runs: list[tuple]) -> float:
    """Print one mode's peaks; return its largest ratio longest / shortest."""
    names = sorted(runs[0][0], key=lambda n: (n != "nic", len(n), n))
    first, last = durations[0], durations[-1]
    print(f"\n{mode}: peak RSS (VmHWM), MiB")
    head = f"  {'process':<8}" + "".join(f"{d:>9}" for d in durations)
    print(head + f"   {last}/{first}")
    worst = 0.0
    for n in names:
        vals = [r[0][n] for r in runs]
        ratio = vals[-1] / vals[0]
        worst = max(worst, ratio)
        print(f"  {n:<8}" + "".join(f"{v:9.1f}" for v in vals) + f"   {ratio:8.2f}")
    print(f"  {'offered':<8}" + "".join(f"{r[1]:9d}" for r in runs) + "   packets")
    print(f"  {'wall s':<8}" + "".join(f"{r[2]:9.1f}" for r in runs))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations", default="0.25s,1s,4s")
    ap.add_argument("--rate", default="1.4Mpps")
    ap.add_argument("--file", default=os.path.join(ROOT, "examples", "basic.toml"),
                    help="experiment file, or 'default' for the built-in experiment")
    ap.add_argument("--modes", default="process,inline")
    ap.add_argument("--transport", choices=("pair", "zmq"),
                    help="process mode's links (default: softnet's own choice)")
    a = ap.parse_args()
    durations = a.durations.split(",")
    file = None if a.file == "default" else a.file
    work = tempfile.mkdtemp(prefix="softnet-bench-memory-")
    print(f"{a.file if file else 'built-in default experiment'} with flows.0.rate="
          f"{a.rate}, {', '.join(durations)} of simulated time; run dirs in {work}")
    worst = {}
    for mode in a.modes.split(","):
        fn = run_process if mode == "process" else run_inline
        runs = [fn(file, a.rate, d, work, a.transport) for d in durations]
        worst[mode] = table(mode, durations, runs)
    print("\nlargest ratio " + f"{durations[-1]}/{durations[0]}: " + ", ".join(
        f"{m} {w:.2f}" for m, w in worst.items()))


if __name__ == "__main__":
    main()
