"""Device models (data files in `nic/devices/`) and what the driver derives from them at
probe time: queue pairing, MSI-X vector layout and names, the default RETA.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from softnet.engine.units import parse_bitrate

U32_MAX = 2**32 - 1


def available_models() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("softnet.nic.devices").iterdir()
                  if p.name.endswith(".toml"))


def load_model(name: str) -> dict:
    path = resources.files("softnet.nic.devices") / f"{name}.toml"
    if not path.is_file():
        raise KeyError(name)
    model = tomllib.loads(path.read_text())
    model["line_rate_bps"] = parse_bitrate(model["line_rate"], f"{name}.line_rate")
    return model


@dataclass(frozen=True, slots=True)
class Vector:
    """One MSI-X vector as the driver requested it (spec §3.1)."""
    entry: int            # MSI-X table entry; 0 is the "other" cause
    name: str             # action name in /proc/interrupts
    rx_queues: tuple[int, ...]
    tx_queues: tuple[int, ...]


def queues_paired(model: dict, rss_queues: int) -> bool:
    rule = model["queue_pairs"]
    if rule == "when_over_half":      # igb_set_flag_queue_pairs
        return rss_queues > model["max_rss_queues"] // 2
    if rule == "never":
        return False
    if rule == "always":
        return True
    raise ValueError(f"device model {model['name']}: unknown queue_pairs rule {rule!r}")


def vector_layout(model: dict, ifname: str, rss_queues: int,
                  int_mode: str = "msix") -> list[Vector]:
    """igb_alloc_q_vectors + igb_request_msix: vector 0 is the "other" cause named after the
    interface; paired queues share `<if>-TxRx-<i>`; unpaired, RX vectors come first. A model
    may name its vectors otherwise (`vector_names`, e.g. ice's "ice-<if>-TxRx-<i>").
    Without MSI-X (igb_set_interrupt_capability's msi_only) one queue pair and one vector,
    requested under the interface's name, take every cause."""
    if int_mode != "msix":
        return [Vector(0, ifname, (0,), (0,))]
    names = model.get("vector_names", {})
    pci = model.get("pci_address", "")
    misc = names.get("misc", "{ifname}").format(ifname=ifname, pci=pci)
    last = model.get("misc_vector") == "last"      # e1000e: RxQ0, TxQ0, then "other"
    vecs = [] if last else [Vector(0, misc, (), ())]
    if queues_paired(model, rss_queues):
        txrx = names.get("txrx", "{ifname}-TxRx-{q}")
        for q in range(rss_queues):
            vecs.append(Vector(len(vecs), txrx.format(ifname=ifname, q=q), (q,), (q,)))
    else:
        for q in range(rss_queues):
            vecs.append(Vector(len(vecs), f"{ifname}-rx-{q}", (q,), ()))
        for q in range(rss_queues):
            vecs.append(Vector(len(vecs), f"{ifname}-tx-{q}", (), (q,)))
    if last:
        vecs.append(Vector(len(vecs), misc, (), ()))
    if len(vecs) > model["msix_entries"]:
        raise ValueError(f"{model['name']} has {model['msix_entries']} MSI-X entries; "
                         f"{rss_queues} queues need {len(vecs)}")
    return vecs


def default_reta(model: dict, nqueues: int) -> list[int]:
    size = model["reta_size"]
    if model["reta_layout"] == "blocks":           # igb_setup_mrqc
        return [j * nqueues // size for j in range(size)]
    # ethtool_rxfh_indir_default; ixgbe spreads over at most its RSS indices
    n = min(nqueues, model.get("rss_indices_max", nqueues))
    return [j % n for j in range(size)]


def parse_indir(text: str, size: int, nqueues: int) -> list[int]:
    """`ethtool -X` forms: "equal N", "weight W0 W1 …", "default"; the fill is ethtool's
    own (fill_indir_table in ethtool.c). Numbers are ASCII digits only (ethtool's get_u32
    refuses signs, `_` and other scripts' digits, which int() would take)."""
    words = text.split(" ")
    if words == ["default"]:
        return []
    if any(not (w.isascii() and w.isdigit()) for w in words[1:]) or \
            any(len(w) > 10 or int(w) > U32_MAX for w in words[1:]):
        raise ValueError(f"{text!r}: use 'equal N', 'weight W0 W1 …' or 'default', with "
                         f"numbers from 0 to {U32_MAX} separated by single spaces")
    if len(words) == 2 and words[0] == "equal":
        n = int(words[1])
        if not 1 <= n <= nqueues:
            raise ValueError(f"'equal {n}' needs 1..{nqueues} (the number of RX queues)")
        return [i % n for i in range(size)]
    if len(words) >= 2 and words[0] == "weight":
        weights = [int(w) for w in words[1:]]
        if len(weights) > nqueues:
            raise ValueError(f"{len(weights)} weights for {nqueues} RX queues")
        if sum(weights) == 0:
            raise ValueError("weights must not be all zero")
        total = sum(weights)
        table, partial, j = [], 0, -1
        for i in range(size):
            while i >= size * partial // total:
                j += 1
                partial += weights[j]
            table.append(j)
        return table
    raise ValueError(f"{text!r}: use 'equal N', 'weight W0 W1 …' or 'default'")
