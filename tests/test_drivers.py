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
