"""The probe chain as a run performs it at start-up (devices-probe-kernels.md §3; seed 004):
PCI enumeration finds each function, the driver is matched by its id table, its probe()
does the software init and settles the interrupt capability (MSI-X, else MSI, else legacy
INTx: `nic.int_mode`), register_netdev names the interface, and open requests each
vector's IRQ with the handler of that mode and enables NAPI. The outcome — the vectors,
their IRQs, chips and handlers — is the plan's (`topology.assign_vectors`); this module
reports it: `probe` for summary.json, step by step, and `dmesg` for the lines those
drivers print (as `dmesg -t` shows them, without timestamps).

May import: the standard library, this package's pcap (the host's MAC address) and
topology (a PCI function's name), and `cpus.kernel` (which kernel is the default).
"""

from __future__ import annotations

from softnet.cpus.kernel import DEFAULT_KERNEL

from .pcap import host_mac
from .topology import pci_function


def _handler(drv: dict, mode: str, vector: dict) -> str:
    """request_irq's handler for this vector: under MSI-X the "other" one's, a queue
    vector's (or, where the driver has one for each, an RX or a TX vector's), else the one
    handler of the mode."""
    h = drv["handler"]
    if mode != "msix":
        return h[mode]
    if not (vector["rx_queues"] or vector["tx_queues"]):
        return h["other"]
    if "msix" in h:
        return h["msix"]
    return h["rx"] if vector["rx_queues"] else h["tx"]


def probe(r: dict, vectors: list[dict]) -> list[dict]:
    """One entry per PCI function: what each step of the chain did."""
    nic = r["nic"]
    model = nic["_model"]
    drv = model["probe"]
    mode = nic["int_mode"]
    out = []
    for p, ifname in enumerate(nic.get("port_names", [nic["ifname"]])):
        vecs = [v for v in vectors if v["port"] == p]
        nq = nic["combined"]
        out.append({"steps": [
            {"step": "pci_enumeration", "pci": pci_function(model["pci_requester_id"] + p), "id": model["pci_id"]},
            {"step": "driver_match", "driver": model["driver"], "id_table": drv["id_table"]},
            {"step": drv["probe"]},
            {"step": drv["sw_init"], "rx_queues": nq, "tx_queues": nq},
            {"step": drv["interrupt_scheme"], "int_mode": mode, "vectors": len(vecs)},
            {"step": "register_netdev", "name": ifname},
            {"step": drv["open"]},
            {"step": drv["request_irq"], "irqs": [
                {"irq": v["irq"], "name": v["name"],
                 # without NAPI every queue vector has the interrupt-driven handler
                 "handler": _handler(drv, mode, v) if nic["napi"] or not (
                     v["rx_queues"] or v["tx_queues"]) else "e1000_intr"}
                for v in vecs]},
            # one NAPI per vector whose handler schedules it (e1000e's TX vector cleans
            # in the hard IRQ; none without NAPI)
            {"step": "napi_enable", "napi": sum(
                1 for v in vecs if nic["napi"] and (v["rx_queues"] or (
                    v["tx_queues"] and "tx" not in drv["handler"])))},
        ]})
    return out


def _itr_words(param: int | None) -> str:
    """e1000e_check_options' words for InterruptThrottleRate (its default is 3)."""
    words = {0: "turned off", 1: "set to dynamic mode",
             3: "set to dynamic conservative mode"}
    param = 3 if param is None else param
    return words.get(param, f"set to {param}")


def dmesg(r: dict, vectors: list[dict]) -> str:
    """The lines the driver prints from module init to the end of probe, per function."""
    nic = r["nic"]
    model = nic["_model"]
    drv = model["probe"]
    name = model["driver"]
    # `banner` is the default kernel's; an older kernel's where its driver was read
    kernel = r["kernel"]
    banner = drv["banner"] if kernel == DEFAULT_KERNEL else drv.get("banners", {}).get(kernel, [])
    lines = [f"{name}: {line}" for line in banner]                 # pr_info at module init
    mode_name = {"msix": "MSI-X", "msi": "MSI", "legacy": "legacy"}[nic["int_mode"]]
    for p, ifname in enumerate(nic.get("port_names", [nic["ifname"]])):
        fn = pci_function(model["pci_requester_id"] + p)
        mac = ":".join(f"{b:02x}" for b in host_mac(p))
        nq = nic["combined"]
        mine = list(drv["probe_lines"])
        if "int_mode_line" in drv and nic["int_mode"] != model["int_modes"][0]:
            # a module parameter that forces the mode says so after the ITR's line
            mine.insert(1, drv["int_mode_line"])
        for line in mine:
            lines.append(f"{name} " + line.format(
                fn=fn, ifname=ifname, mac=mac, mode=mode_name, rxq=nq, txq=nq,
                multiqueue="Enabled" if nq > 1 else "Disabled",
                itr_words=_itr_words(nic.get("interrupt_throttle_rate")),
                int_mode_value=drv.get("int_mode_values", {}).get(nic["int_mode"])))
    return "".join(f"{line}\n" for line in lines)
