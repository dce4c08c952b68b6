"""Drivers as ops tables (cpus/host.py DRIVERS): a device data file names its driver, and
the CPU runs that driver's hard-IRQ handler and NAPI poll. ice (E810) differs from igb
where the kernel's do: it gives RX buffers back once per poll, after its loop, instead of
every 16 descriptors — so a small ring under overload loses more frames at the ring."""

import json

from helpers import run_inline

from softnet.coordinator import config
from softnet.cpus.host import DRIVERS
from softnet.cpus.ice import IceDriver
from softnet.cpus.igb import IgbDriver
from softnet.nic import device
from softnet.nic.device import available_models, load_model

OVERLOAD = """
seed = 1
duration = "5ms"
cpus = 1
[nic]
model = "e810"
combined = 1
rx_ring = 64
adaptive_rx = false                # a fixed 50 µs ITR: what differs is the refill
[[flows]]
proto = "udp"
src = "10.0.0.2:40000"
dst = "10.0.0.1:9000"
rate = "3Mpps"
size = 64
arrival = "poisson"
[[apps]]
name = "r"
cpu = 0
socket = { proto = "udp", bind = "0.0.0.0:9000" }
"""


def test_every_device_names_a_driver_with_both_ops():
    for name in available_models():
        drv = DRIVERS[load_model(name)["driver"]]
        assert callable(drv.msix_ring) and callable(drv.poll)
    assert DRIVERS["igb"] is IgbDriver and DRIVERS["ice"] is IceDriver
    assert IceDriver.poll is IceDriver.ice_napi_poll
    assert IgbDriver.poll is IgbDriver.igb_poll


def test_ice_refills_once_per_poll_and_loses_more_at_a_small_ring(tmp_path, monkeypatch):
    f = tmp_path / "ice.toml"
    f.write_text(OVERLOAD)
    ice = run_inline(tmp_path / "ice", file=str(f))
    assert load_model("e810")["rx_buffer_write"] == 0
    load = device.load_model

    def igb_like_refill(name):
        m = load(name)
        m["rx_buffer_write"] = 16          # what igb does: every IGB_RX_BUFFER_WRITE
        return m
    monkeypatch.setattr(config, "load_model", igb_like_refill)   # where a run reads it
    batched = run_inline(tmp_path / "batched", file=str(f))
    assert ice["offered"] == batched["offered"]
    ring_ice = ice["drops"].get("nic_rx_queue_drop", 0)
    ring_batched = batched["drops"].get("nic_rx_queue_drop", 0)
    assert ring_ice > 1.5 * ring_batched > 0, (ice["drops"], batched["drops"])
    with open(tmp_path / "ice" / "summary.json") as fh:
        assert json.load(fh)["balanced"]


def _tx(drv_class, ring=64):
    from test_tx_units import FakeCpu

    from softnet.cpus.books import Books
    from softnet.cpus.stack import Snmp
    from softnet.cpus.tx import Tx, TxQueue
    cpu = FakeCpu()
    txq = TxQueue(0, ring, 1000, 1000)
    txq.dql.limit = txq.dql.adj_limit = 10**6           # keep BQL out of the way
    tx = Tx(cpu, {0: txq}, 1, None, Snmp(), Books(1, 1), 64)
    rung = []
    tx.doorbell = lambda t, q, pkts, clean, fdir=(): rung.extend(clean)
    tx.wfree_remote = lambda t, sock, truesize: None
    drv = drv_class(tx)
    return cpu, drv, txq, rung


def _write_back(txq, rung, n):
    """The device writes back the next n descriptors rung (what the txc filing does)."""
    for _ in range(n):
        txq.ring.in_flight.append(rung.pop(0))
        txq.ring.hw_done += 1


def test_ice_takes_no_context_descriptor_for_checksum_offload():
    """ice puts checksum offload in the data descriptor: a 1518-byte datagram takes one
    descriptor (igb: two, with the context descriptor); a UDP GSO skb takes a context
    descriptor on both; ice wants a cache line (8) and a context descriptor free too."""
    from softnet.cpus.ice import ICE_DESC_NEEDED, IceTx
    from softnet.cpus.igb_tx import IgbTx
    from softnet.engine.skb import SkBuff
    dgram = SkBuff(1, 0, 1514, 2304, 0, 0, 0, sock=0)
    gso = SkBuff(2, 0, 61818 + 42, 70000, 0, 0, 0, sock=0, gso_size=1472, gso_segs=42)
    igb = _tx(IgbTx)[1]
    ice = _tx(IceTx)[1]
    assert igb.tx_descriptors(dgram) == (2, 4)
    assert ice.tx_descriptors(dgram) == (1, 10)
    # headers + two 32 KiB page fragments (3 descriptors each at 12 KiB) + the context one
    assert ice.tx_descriptors(gso) == (1 + 3 + 3 + 1, 1 + 3 + 3 + 9)
    assert igb.tx_descriptors(gso)[0] == 1 + 2 + 1
    assert ice.desc_needed == ICE_DESC_NEEDED == 26 and igb.desc_needed == 21
    arp = SkBuff(3, 0, 42, 768, 0, 0, 0, sock=-2)
    assert ice.bytecount(arp) == 60 and igb.bytecount(arp) == 42   # ETH_ZLEN


def test_an_ice_ring_stops_later_for_small_datagrams_and_wakes_at_its_threshold():
    from conftest import drive

    from softnet.cpus.ice import IceTx
    from softnet.cpus.igb_tx import IgbTx
    from softnet.engine.skb import SkBuff
    sent = {}
    for cls in (IgbTx, IceTx):
        cpu, drv, txq, rung = _tx(cls, ring=64)
        n = 0
        while not txq.drv_xoff:
            drive(cpu, drv.start_xmit(txq, SkBuff(n, 0, 1514, 2304, 0, 0, 0, sock=0), False))
            n += 1
        sent[cls] = (n, txq.ring.desc_unused())
        if cls is IceTx:
            # TX_WAKE_THRESHOLD = 2 × ICE_DESC_NEEDED = 52 free: 26 cleaned leave 51 free
            _write_back(txq, rung, 26)
            drive(cpu, drv.igb_clean_tx_irq(txq, 256))
            assert txq.drv_xoff and txq.ring.desc_unused() == 51
            _write_back(txq, rung, 1)
            drive(cpu, drv.igb_clean_tx_irq(txq, 256))
            assert not txq.drv_xoff and txq.ring.restart_queue == 1
    # igb: 2 each, stops below 21 free of 63 → 22; ice: 1 each, stops below 26 → 38
    assert sent[IgbTx] == (22, 19) and sent[IceTx] == (38, 25)
