"""The probe chain a run performs at start-up (coordinator/probe.py): its steps in seed
004's order in summary.json, each vector's handler for the interrupt mode, and the lines
the driver prints in dmesg.txt."""

from helpers import config_file, run_inline

EXP = {"seed": 1, "duration": "1ms", "cpus": 2, "nic": {"model": "i350"},
       "flows": [{"name": "f", "src": "10.0.0.3:50000", "dst": "10.0.0.1:9000",
                  "rate": "100kpps", "size": 64}]}
ORDER = ["pci_enumeration", "driver_match", "igb_probe", "igb_sw_init",
         "igb_init_interrupt_scheme", "register_netdev", "igb_open", "igb_request_irq",
         "napi_enable"]


def _run(tmp_path, tag, **nic):
    f = config_file(tmp_path, tag, {**EXP, "nic": {**EXP["nic"], **nic}})
    return run_inline(tmp_path / tag, file=f), tmp_path / tag


def test_igb_probes_in_order_and_says_how(tmp_path):
    s, d = _run(tmp_path, "msix")
    steps = s["probe"][0]["steps"]
    assert [st["step"] for st in steps] == ORDER
    assert steps[0] == {"step": "pci_enumeration", "pci": "0000:01:00.0", "id": "8086:1521"}
    irqs = steps[7]["irqs"]
    assert irqs[0] == {"irq": 65, "name": "eth0", "handler": "igb_msix_other"}
    assert {i["handler"] for i in irqs[1:]} == {"igb_msix_ring"}
    assert steps[8]["napi"] == len(irqs) - 1
    assert (d / "dmesg.txt").read_text().splitlines() == [
        "igb: Intel(R) Gigabit Ethernet Network Driver",
        "igb: Copyright (c) 2007-2014 Intel Corporation.",
        "igb 0000:01:00.0: Intel(R) Gigabit Ethernet Network Connection",
        "igb 0000:01:00.0: eth0: (PCIe:5.0Gb/s:Width x4) 02:53:4e:00:00:01",
        "igb 0000:01:00.0: Using MSI-X interrupts. 2 rx queue(s), 2 tx queue(s)"]


def test_each_interrupt_mode_its_handler_and_line(tmp_path):
    for mode, handler, says in (("msi", "igb_intr_msi", "MSI"),
                                ("legacy", "igb_intr", "legacy")):
        s, d = _run(tmp_path, mode, int_mode=mode)
        steps = s["probe"][0]["steps"]
        assert steps[4]["int_mode"] == mode and steps[4]["vectors"] == 1
        assert [i["handler"] for i in steps[7]["irqs"]] == [handler]
        assert (d / "dmesg.txt").read_text().splitlines()[-1] == \
            f"igb 0000:01:00.0: Using {says} interrupts. 1 rx queue(s), 1 tx queue(s)"


def test_each_port_is_probed_as_its_own_function(tmp_path):
    s, d = _run(tmp_path, "ports", ports=2)
    assert [p["steps"][0]["pci"] for p in s["probe"]] == ["0000:01:00.0", "0000:01:00.1"]
    assert [p["steps"][5]["name"] for p in s["probe"]] == ["eth0", "eth1"]
    lines = (d / "dmesg.txt").read_text().splitlines()
    assert sum(l.startswith("igb: ") for l in lines) == 2          # module init, once
    assert "igb 0000:01:00.1: eth1: (PCIe:5.0Gb/s:Width x4) 02:53:4e:00:00:02" in lines


def test_ice_requests_its_misc_vector_first(tmp_path):
    s, d = _run(tmp_path, "ice", model="e810")
    irqs = s["probe"][0]["steps"][7]["irqs"]
    assert irqs[0]["name"] == "ice-0000:01:00.0:misc" and irqs[0]["handler"] == "ice_misc_intr"
    assert {i["handler"] for i in irqs[1:]} == {"ice_msix_clean_rings"}
    assert (d / "dmesg.txt").read_text().startswith(
        "ice: Intel(R) Ethernet Connection E800 Series Linux Driver\n")
