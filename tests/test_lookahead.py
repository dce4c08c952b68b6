"""The lookahead (cpus/lookahead.py, and the nic's promises): on every link, kind by kind,
no record leaves stamped below a promise its sender made on that link before — neither the
link's promise nor a per-kind bound (`until`). Checked where records are sent, on every
example, so a broken bound is named at its sender rather than found (or missed) later at
the receiver."""

import glob
import json
import os

import numpy as np
import pytest

from helpers import ROOT
from test_tx import TWO_SENDERS

from softnet.coordinator.cli import main
from softnet.cpus.lp import CpuLP
from softnet.engine.lp import SyncDriver
from softnet.engine.records import KINDS
from softnet.nic import lp as nic_lp
from softnet.nic.lp import NicLP

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml")))
# what fits a short run: rfs_migrate's reader moves sooner; a sender whose TX queue the
# other CPU cleans (datagrams cross as xq, freed memory comes back as wf)
EXTRA = {"rfs_migrate": ("rfs_migrate", ["--set", 'apps.0.migrate=[{ at = "1ms", cpu = 2 }, '
                                         '{ at = "2ms", cpu = 3 }]']),
         "sender_misaligned": ("sender", ["--set", 'irq.smp_affinity."eth0-tx-0"="2"']),
         # … and its qdisc overflows: the queue's CPU frees the refused datagrams (wf)
         "sender_misaligned_qdisc_full": ("sender", [
             "--set", 'irq.smp_affinity."eth0-tx-0"="2"', "--set", "nic.txqueuelen=8",
             "--set", "nic.tx_ring=80"]),
         # IP fragments handed over to the queue's CPU, whose qdisc refuses some: the rest
         # of a failed datagram is freed as it comes (free_dead → wf)
         "fragments_misaligned_qdisc_full": ("udp_gso", [
             "--set", "apps.0.socket.udp_segment=0", "--set", "apps.0.send.payload=4000",
             "--set", "apps.0.cpu=1", "--set", "nic.xps_cpus={}", "--set", "nic.txqueuelen=5",
             "--set", "net.core.wmem_max=8000000", "--set", "apps.0.socket.sndbuf=4000000"]),
         "two_senders_one_queue": ("two_senders_one_queue", []),
         "mover_at_2005400ns": ("mover_at_2005400ns", []),
         "mover_at_2025300ns": ("mover_at_2025300ns", []),
         # both CPUs forward onto both ports' queues: each queue's producer half where it
         # is cleaned, the other CPU hands over, and cleans end mid-poll (tc)
         "router2_rps": ("router2", ["--set", 'nic.rps_cpus={"rx-0"="3"}',
                                     "--set", "net.core.netdev_max_backlog=2"]),
         # the reader on the RX queue's CPU: nothing crosses between CPUs
         "basic_rx_only": ("basic", ["--set", "apps.0.cpu=2"]),
         "rps_both_ways_quantum_10us": ("rps_both_ways", ["--quantum", "10us"]),
         "rps_both_ways_quantum_100us": ("rps_both_ways", ["--quantum", "100us"]),
         # interrupt-driven receive: the hard IRQ's handler, in steps, hands frames to
         # other CPUs' backlogs and cleans TX rings
         "rps_both_ways_no_napi": ("rps_both_ways", ["--set", "nic.napi=false"]),
         "rps_both_ways_no_napi_quantum_10us": ("rps_both_ways", [
             "--set", "nic.napi=false", "--quantum", "10us"]),
         "router2_no_napi": ("router2", ["--set", 'nic.rps_cpus={"rx-0"="3"}',
                                         "--set", "nic.napi=false"]),
         # e1000e's one vector under MSI, its dynamic ITR written from the poll
         "e1000e_msi_dynamic": ("e1000e", ["--set", 'nic.int_mode="msi"',
                                           "--set", "nic.rx_usecs=1",
                                           "--set", 'irq.smp_affinity={"eth0"="1"}']),
         # ixgbe's adaptive ITR, written from the poll (its floor), under MSI-X and INTx
         "ixgbe_adaptive": ("udp_rr", ["--set", 'nic.model="82599"', "--set",
                                       "nic.combined=1"]),
         "ixgbe_legacy": ("udp_rr", ["--set", 'nic.model="82599"', "--set",
                                     'nic.int_mode="legacy"', "--set", "nic.combined=1"])}


# A reader moving to a CPU that owned no socket, while RPS hands its datagrams to a third
# CPU that passes them on (sk): a hand-off reaches the owner at its landing, so the new
# owner may get one sent up to a link latency before its move (found in review: the bound
# once forgot that latency).
MOVER = """
seed = 3
duration = "6ms"
cpus = 4
[nic]
model = "i350"
combined = 1
rx_usecs = 10
rps_cpus = { "rx-0" = "2" }
[irq.smp_affinity]
"eth0-rx-0" = "1"
"eth0-tx-0" = "1"
[[flows]]
name = "stream"
src = "10.0.0.2:40001"
dst = "10.0.0.1:9001"
rate = "1Mpps"
arrival = "poisson"
[[apps]]
name = "mover"
cpu = 2
socket = { proto = "udp", bind = "0.0.0.0:9001" }
cost_per_read = "100ns"
migrate = [{ at = "MOVE", cpu = 3 }, { at = "2600us", cpu = 2 }]
[[apps]]
name = "s"
cpu = 0
send = { dst = "10.0.0.9:7000", rate = "20kpps", size = 200 }
"""

# RPS each way between two CPUs, a sender keeping the nic ahead, and a quantum that rounds
# a backlog enqueue's stamp up: frames still on the PCIe link below that stamp must bound
# the next enqueue (found in review: a backlog packet waiting as an event once hid them)
RPS_BOTH_WAYS = """
seed = 3
duration = "10ms"
cpus = 2
[nic]
model = "i350"
combined = 2
rps_cpus = { "rx-0" = "2", "rx-1" = "1" }
[irq.smp_affinity]
"eth0-rx-0" = "1"
"eth0-tx-0" = "1"
"eth0-rx-1" = "2"
"eth0-tx-1" = "2"
[[flows]]
name = "a"
src = "10.0.0.2:40001"
dst = "10.0.0.1:9001"
rate = "30kpps"
arrival = "poisson"
[[flows]]
name = "b"
src = "10.0.0.3:40007"
dst = "10.0.0.1:9001"
rate = "30kpps"
arrival = "poisson"
[[flows]]
name = "c"
src = "10.0.0.4:40011"
dst = "10.0.0.1:9001"
rate = "30kpps"
arrival = "poisson"
[[flows]]
name = "d"
src = "10.0.0.5:40013"
dst = "10.0.0.1:9001"
rate = "30kpps"
arrival = "poisson"
[[apps]]
name = "r"
cpu = 0
socket = { proto = "udp", bind = "0.0.0.0:9001" }
cost_per_read = "100ns"
[[apps]]
name = "s"
cpu = 1
socket = { proto = "udp" }
send = { dst = "10.0.0.9:7000", rate = "20kpps", size = 200 }
"""

# experiments that are not examples: two senders on different CPUs share tx-0 (the one
# on the other CPU hands its datagrams over, xq)
TEXTS = {"two_senders_one_queue": TWO_SENDERS,
         "mover_at_2005400ns": MOVER.replace("MOVE", "2005400ns"),
         "mover_at_2025300ns": MOVER.replace("MOVE", "2025300ns"),
         "rps_both_ways": RPS_BOTH_WAYS}


def _run(tmp_path, name: str, duration: str = "3ms") -> int:
    file, sets = EXTRA.get(name, (name, []))
    path = os.path.join(ROOT, "examples", f"{file}.toml")
    if file in TEXTS:
        path = tmp_path / f"{file}.toml"
        path.write_text(TEXTS[file])
    return main(["run", str(path), "--mode", "inline",
                 "--quiet", "--duration", duration, *sets, "--out", str(tmp_path / name)])


class BrokenPromise(AssertionError):
    pass


@pytest.fixture
def promises_checked(monkeypatch):
    """Wrap SyncDriver.step: every record sent must respect what went before it."""
    made: dict[tuple[SyncDriver, str], dict] = {}     # by driver: each run its own
    seen = {"records": 0, "kinds": set()}
    step = SyncDriver.step

    def checked(self):
        frames = step(self)
        for dst, f in frames:
            last = made.setdefault((self, dst), {"link": -1, "until": {}})
            payload = f.payload if isinstance(f.payload, dict) else {}
            sent = [(kind, body[1] if kind == "txc" else (stamp,))
                    for kind, stamp, _seq, body in payload.get("cpu") or ()]
            if payload.get("rx") is not None:          # the nic's frames, as columns
                sent.append(("rx", np.frombuffer(payload["rx"][0], np.int64).tolist()))
            for kind, stamps in sent:
                bound = max(last["link"], last["until"].get(kind, -1))
                if stamps and min(stamps) < bound:
                    raise BrokenPromise(f"{f.src}->{dst}: a {kind} record stamped "
                                        f"{min(stamps)} after a promise of {bound} "
                                        f"(link {last['link']}, kind "
                                        f"{last['until'].get(kind)})")
                seen["records"] += 1
                seen["kinds"].add(kind)
            # what this frame promises holds for everything sent after it
            last["link"] = max(last["link"], f.promise)
            for k, v in (payload.get("until") or {}).items():
                last["until"][k] = max(last["until"].get(k, -1), v)
            if payload.get("rx_until") is not None:    # the nic's bound for frames alone
                last["until"]["rx"] = max(last["until"].get("rx", -1), payload["rx_until"])
        return frames

    monkeypatch.setattr(SyncDriver, "step", checked)
    return seen


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: os.path.basename(p)[:-5])
def test_no_record_leaves_below_a_promise(tmp_path, promises_checked, example):
    assert _run(tmp_path, os.path.basename(example)[:-5]) == 0
    assert promises_checked["records"] > 0


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_no_record_leaves_below_a_promise_in_the_variants(tmp_path, promises_checked, name):
    assert _run(tmp_path, name) == 0
    assert promises_checked["records"] > 0


def test_a_remote_sender_whose_qdisc_overflows(tmp_path, promises_checked):
    """The queue's CPU frees the other CPU's refused datagrams (qdisc_drop → sock_wfree →
    wf) as well as its completed ones: the wf bound's drop arm is exercised, not only its
    clean arm."""
    assert _run(tmp_path, "sender_misaligned_qdisc_full", "5ms") == 0
    with open(tmp_path / "sender_misaligned_qdisc_full" / "summary.json") as f:
        s = json.load(f)
    assert s["tx_drops"].get("qdisc_drop", 0) > 0, s["tx_drops"]
    assert "wf" in promises_checked["kinds"]


def _nic_promises_too_much(monkeypatch) -> None:
    """The nic promises 300 µs more than it may, in small windows, so it hands its frames
    over in many frames, each after a promise."""
    monkeypatch.setattr(nic_lp, "TARGET_FRAMES_PER_WINDOW", 40)
    rx_promise = NicLP._rx_promise
    monkeypatch.setattr(NicLP, "_rx_promise",
                        lambda self, dst, safe: rx_promise(self, dst, safe) + 300_000)


def test_the_check_catches_a_nic_promise_too_high(tmp_path, promises_checked, monkeypatch):
    """The nic's frames alone (no CPU sends anything on): caught at the nic."""
    _nic_promises_too_much(monkeypatch)
    with pytest.raises(BrokenPromise, match="nic->cpu"):
        _run(tmp_path, "basic_rx_only")


def test_the_check_catches_a_promise_too_high(tmp_path, promises_checked, monkeypatch):
    """A CPU that promises 5 µs more than it may: the check names the broken bound."""
    promise = CpuLP.promise
    monkeypatch.setattr(CpuLP, "promise",
                        lambda self, dst, safe: promise(self, dst, safe) + 5_000)
    with pytest.raises(BrokenPromise, match="after a promise of"):
        _run(tmp_path, "rfs")


def test_the_check_catches_a_wfree_bound_too_high(tmp_path, promises_checked, monkeypatch):
    """sock_wfree's own bound (cleaned completions, refused hand-offs) 20 µs too high:
    caught at the queue's CPU, on the wf kind."""
    wfree = CpuLP._wfree_earliest

    def too_high(self, safe):
        b = wfree(self, safe)
        return None if b is None else b + 20_000
    monkeypatch.setattr(CpuLP, "_wfree_earliest", too_high)
    with pytest.raises(BrokenPromise, match="a wf record"):
        _run(tmp_path, "sender_misaligned")


def test_the_check_catches_a_clean_bound_too_high(tmp_path, promises_checked, monkeypatch):
    """The bound of what a TX clean sends (a clean's `tc` to the producer half, sock_wfree)
    20 µs too high: caught at the cleaning CPU."""
    clean = CpuLP._clean_earliest
    monkeypatch.setattr(CpuLP, "_clean_earliest",
                        lambda self, safe, tc=False: clean(self, safe, tc) + 20_000)
    with pytest.raises(BrokenPromise, match="a (tc|wf) record"):
        _run(tmp_path, "sender_misaligned")


def test_the_checked_runs_cover_every_record_kind(tmp_path, promises_checked):
    for name in ("rfs_migrate", "arfs", "router", "sender_misaligned", "rfs",
                 "two_senders_one_queue"):
        assert _run(tmp_path, name, "10ms") == 0
    assert promises_checked["kinds"] == set(KINDS)


def test_a_frame_behind_its_receivers_clock_stops_the_run(tmp_path, monkeypatch):
    """Without the sender-side check, the receiving CPU refuses the late frame itself."""
    _nic_promises_too_much(monkeypatch)
    with pytest.raises(RuntimeError, match="arrived after advancing"):
        _run(tmp_path, "basic_rx_only")
