"""ixgbe on the 82599 (devices-probe-kernels.md §2): a TxRx vector per queue and the other
vector last, the RETA over at most 16 RSS indices, the adaptive ITR of ixgbe_update_itr
and ixgbe_set_itr, ethtool -S in ixgbe's order with all 64 queues, its dmesg."""

import pytest

from helpers import config_file, refused, run_both_modes, run_inline

from softnet.cpus.ixgbe import (IXGBE_ITR_ADAPTIVE_LATENCY as LAT, ixgbe_itr_ns,
                                ixgbe_update_itr)
from softnet.nic.device import default_reta, load_model

EXP = {"seed": 1, "duration": "4ms", "cpus": 4, "nic": {"model": "82599"},
       "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                  "rate": "1000kpps", "size": 64}],
       "apps": [{"name": "r", "cpu": 1, "socket": {"proto": "udp", "bind": "0.0.0.0:9000",
                                                   "rcvbuf": 4000000}}]}


def _run(tmp_path, tag, **nic):
    cfg = {**EXP, "nic": {**EXP["nic"], **nic}}
    return run_inline(tmp_path / tag, file=config_file(tmp_path, tag, cfg)), tmp_path / tag


def test_vectors_reta_and_what_it_prints(tmp_path):
    s, d = _run(tmp_path, "x")
    assert list(s["vectors"]) == [f"eth0-TxRx-{q}" for q in range(4)] + ["eth0"]
    irqs = s["probe"][0]["steps"][7]["irqs"]
    assert {i["handler"] for i in irqs[:4]} == {"ixgbe_msix_clean_rings"}
    assert irqs[4] == {"irq": 69, "name": "eth0", "handler": "ixgbe_msix_other"}
    assert (d / "dmesg.txt").read_text().splitlines() == [
        "ixgbe: Intel(R) 10 Gigabit PCI Express Network Driver",
        "ixgbe: Copyright (c) 1999-2016 Intel Corporation.",
        "ixgbe 0000:03:00.0: Multiqueue Enabled: Rx Queue count = 4, Tx Queue count = 4 "
        "XDP Queue count = 0",
        "ixgbe 0000:03:00.0: 32.000 Gb/s available PCIe bandwidth (5.0 GT/s PCIe x8 link)",
        "ixgbe 0000:03:00.0: 02:53:4e:00:00:01",
        "ixgbe 0000:03:00.0: Intel(R) 10 Gigabit Network Connection"]
    # 20 queues: the RETA still spreads over the first 16 only (ATR steers to the others)
    reta = default_reta(load_model("82599"), 20)
    assert max(reta) == 15 and reta[:17] == list(range(16)) + [0]
    lines = (d / "ethtool_S.txt").read_text().splitlines()[1:]
    names = [l.split(":")[0].strip() for l in lines]
    assert names[:8] == ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_pkts_nic",
                         "tx_pkts_nic", "rx_bytes_nic", "tx_bytes_nic"]
    assert names[56:58] == ["tx_queue_0_packets", "tx_queue_0_bytes"]
    assert names[-4:] == ["rx_pb_6_pxon", "rx_pb_6_pxoff", "rx_pb_7_pxon", "rx_pb_7_pxoff"]
    assert len(names) == 56 + 2 * 64 + 2 * 64 + 32
    vals = {k: int(v) for k, v in (l.strip().split(": ") for l in lines)}
    assert vals["rx_packets"] == sum(vals[f"rx_queue_{q}_packets"] for q in range(64)) > 0
    assert vals["rx_no_buffer_count"] == 0            # RNBC is read on the 82598 only
    assert vals["rx_pkts_nic"] >= vals["rx_packets"]


def test_ixgbe_update_itr_each_branch():
    assert ixgbe_itr_ns(200) == 50_000 and ixgbe_itr_ns(203) == 50_000   # & 0xFF8
    assert ixgbe_update_itr(200, 126 | LAT, 10, 640, True, False) == 10 | LAT   # stale
    assert ixgbe_update_itr(200, 126 | LAT, 0, 0, False, False) == 52 | LAT    # idle: +2
    assert ixgbe_update_itr(200, 0, 20, 1280, False, False) == 52             # < 48: +2
    assert ixgbe_update_itr(200, 0, 60, 3840, False, False) == 50             # goldilocks
    assert ixgbe_update_itr(200, 0, 120, 7680, False, False) == 25            # halve
    # 256 or more of 60-byte frames: bulk, 5120 / 512 rounded up, times 2 µs; of 64
    # bytes, (64 * 40 + 2720) / 512 rounded up, times 2
    assert ixgbe_update_itr(200, 0, 300, 18000, False, False) == 20
    assert ixgbe_update_itr(200, 0, 300, 19200, False, False) == 22
    # a few small ones: latency, the size's delay halved (5280 / 2 → 6 steps)
    assert ixgbe_update_itr(200, 0, 2, 128, False, False) == LAT | 12
    # 1 Gb/s: divided by 128, capped at 8064
    assert ixgbe_update_itr(200, 0, 300, 300 * 1500, False, True) == 0 + 126


def test_a_heavy_queue_moves_its_itr(tmp_path):
    s, _ = _run(tmp_path, "heavy")
    busy = next(v for v in s["vectors"].values() if v.get("interrupts"))
    assert busy["itr_val"] != 200 and busy["interval_ns"] == ixgbe_itr_ns(busy["itr_val"])
    fixed, _ = _run(tmp_path, "fixed", rx_usecs=100)
    busy = next(v for v in fixed["vectors"].values() if v.get("interrupts"))
    assert busy["itr_val"] == 400 and busy["interval_ns"] == 100_000


@pytest.mark.parametrize("mode", ["msix", "legacy"])
def test_identical_in_both_modes(tmp_path, mode):
    f = config_file(tmp_path, mode, {**EXP, "nic": {"model": "82599", "int_mode": mode}})
    run_both_modes(tmp_path, "--duration", "2ms", file=f)


def test_refused(tmp_path):
    f = config_file(tmp_path, "r", EXP)
    # ixgbe_set_rxfh: the RETA may name only the first 16 queues
    assert "'equal 17' needs 1..16" in refused(
        "cpus=20", "nic.combined=20", 'nic.indir="equal 17"', file=f)
    assert "ixgbe accepts 0 (off), 1 (adaptive) or 2-1022 µs" in \
        refused("nic.rx_usecs=2000", file=f)
    assert "nic.combined = 5: must be 1-4" in refused("nic.combined=5", file=f)
