"""Experiment files: reading, `--set` overrides, validation and defaults.

Keys are the kernel's and the tools' own words (sysctl names, ethtool settings, sysfs
files) so a user can paste them. Everything is checked before any process starts; a bad
value is refused with the key, the value and what is allowed (exit code 2).
"""

from __future__ import annotations

import copy
import ipaddress
import tomllib
from importlib import resources

from softnet.cpus.costs import DEFAULT_PROFILE, ProfileError, load_profile
from softnet.cpus.sock import SOCK_MIN_RCVBUF, effective_rcvbuf
from softnet.cpus.tx import (IP_HLEN, IP_MTU, SOCK_MIN_SNDBUF, UDP_HLEN, UDP_MAX_PAYLOAD,
                     UDP_MAX_SEGMENTS, effective_sndbuf, gso_segments, ip_fragments)
from softnet.engine.units import UnitError, parse_duration, parse_rate
from softnet.nic.device import available_models, load_model, parse_indir, vector_layout
from softnet.nic.toeplitz import parse_hkey

KERNELS = ("6.6",)
HZ_VALUES = (100, 250, 300, 1000)
ARRIVALS = ("constant", "poisson", "onoff")
MAX_CPUS = 64
INT_MAX = 2**31 - 1

# sysctl name -> (default, minimum or None, description of what is allowed)
SYSCTLS = {
    "net.core.netdev_budget": (300, 0, "an integer ≥ 0 (packets per net_rx_action run)"),
    "net.core.netdev_budget_usecs": (None, None, "µs per net_rx_action run; 6.6 refuses "
                                     "less than 2 jiffies"),
    "net.core.netdev_max_backlog": (1000, 0, "an integer ≥ 0"),
    "net.core.dev_weight": (64, 1, "an integer ≥ 1"),
    "net.core.gro_normal_batch": (8, 1, "an integer ≥ 1"),
    "net.core.rmem_default": (212992, SOCK_MIN_RCVBUF, f"an integer ≥ {SOCK_MIN_RCVBUF}"),
    "net.core.rmem_max": (212992, SOCK_MIN_RCVBUF, f"an integer ≥ {SOCK_MIN_RCVBUF}"),
    "net.core.flow_limit_table_len": (4096, 1, "an integer ≥ 1 (buckets per CPU)"),
    "net.core.flow_limit_cpu_bitmap": ("0", None, "a hex CPU mask"),
    # RFS: rps_sock_flow_sysctl rounds up to a power of two; 0 turns RFS off
    "net.core.rps_sock_flow_entries": (0, 0, "an integer from 0 (off) to 536870912 (2^29)"),
    # min, default, max: a TCP socket starts with the default as sk_rcvbuf
    "net.ipv4.tcp_rmem": ("4096 131072 6291456", None, "three integers \"min default max\""),
    "net.core.wmem_default": (212992, SOCK_MIN_SNDBUF, f"an integer ≥ {SOCK_MIN_SNDBUF}"),
    "net.core.wmem_max": (212992, SOCK_MIN_SNDBUF, f"an integer ≥ {SOCK_MIN_SNDBUF}"),
    "net.core.default_qdisc": ("pfifo_fast", None, "pfifo_fast or fq_codel"),
    "net.core.dev_tx_weight": (64, 1, "an integer ≥ 1 (packets per qdisc run)"),
    "net.ipv4.ip_forward": (0, 0, "0 or 1"),
    # bytes of packets a neighbour holds while it resolves (SK_WMEM_MAX in 6.6)
    "net.ipv4.neigh.default.unres_qlen_bytes": (212992, 0, "an integer ≥ 0 (bytes)"),
}
TOP_KEYS = {"seed", "duration", "cpus", "kernel", "hz", "profile", "nic", "irq", "sysctl",
            "routes",
            "flows", "apps", "host", "quantum"}
NIC_KEYS = {"model", "ifname", "combined", "rx_ring", "indir", "hkey", "rx_flow_hash",
            "rx_usecs", "rx_pause", "rx_packet_buffer", "rps_cpus", "rps_flow_cnt", "ntuple",
            "rules", "gro", "tx_ring", "xps_cpus", "txqueuelen", "tx_udp_segmentation",
            "fq_codel", "ports"}
# tc qdisc replace dev eth0 parent :N fq_codel … (every mq child); defaults: fq_codel_init
FQ_CODEL_KEYS = {"limit", "flows", "quantum", "target", "interval", "memory_limit", "ecn",
                 "drop_batch"}
RULE_KEYS = {"flow_type", "proto", "src_ip", "dst_ip", "src_port", "dst_port", "action", "loc"}
FLOW_KEYS = {"name", "proto", "src", "dst", "rate", "size", "arrival", "on", "off", "count",
             "port",
             "start", "stop"}
APP_KEYS = {"name", "cpu", "socket", "cost_per_read", "read_size", "migrate", "send"}
SENDER_SOCKET_KEYS = {"proto", "bind", "sndbuf", "blocking", "connect", "udp_segment"}
SEND_KEYS = {"dst", "rate", "size", "payload", "count", "start", "stop"}
EPHEMERAL_PORT = 32768             # net.ipv4.ip_local_port_range's first port
SOCKET_KEYS = {"proto", "bind", "rcvbuf", "reuseport", "connect", "udp_gro"}
# Header bytes below the payload of a frame (Ethernet 14 + FCS 4 + IPv4 20 + L4): a TCP
# segment carries the timestamp option (32-byte header), so a 1518-byte frame holds a
# 1448-byte MSS.
L4_HDR = {"udp": 8, "tcp": 32}
FRAME_OVERHEAD = 14 + 4 + 20


class ConfigError(ValueError):
    """A refused experiment; the message names the key, the value and what is allowed."""


def _fail(key: str, value, allowed: str):
    raise ConfigError(f"{key} = {value!r}: {allowed}")


def default_experiment_text() -> str:
    return (resources.files("softnet.coordinator") / "default.toml").read_text()


def load_file(path: str | None) -> dict:
    if path is None:
        return tomllib.loads(default_experiment_text())
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file")
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}")


def apply_sets(raw: dict, sets: list[str]) -> dict:
    """--set KEY=VALUE. KEY is a dotted path (nic.rx_ring, flows.0.rate, apps.0.socket.rcvbuf);
    a sysctl name (net.core.…) goes under [sysctl]; IRQs as irq.smp_affinity.eth0-rx-0.
    VALUE is read as TOML, else taken as a string."""
    raw = copy.deepcopy(raw)
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, text = item.split("=", 1)
        key = key.strip()
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        if key.startswith("sysctl."):       # the file's spelling: sysctl."net.core.x"
            key = key[len("sysctl."):].strip('"')
        if key.startswith("net."):
            raw.setdefault("sysctl", {})[key] = value
            continue
        parts = key.split(".")
        node = raw
        for i, p in enumerate(parts[:-1]):
            nxt = int(p) if p.isdigit() else p
            if isinstance(node, list):
                if not isinstance(nxt, int) or nxt >= len(node):
                    raise ConfigError(f"--set {key}: no element {p} in {'.'.join(parts[:i])}")
                node = node[nxt]
            else:
                node = node.setdefault(nxt, {})
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"--set {key}: no element {last}")
            node[int(last)] = value
        else:
            node[last] = value
    return raw


def _unknown(section: str, given: dict, allowed: set) -> None:
    for k in given:
        if k not in allowed:
            where = f"{section}.{k}" if section else k
            raise ConfigError(f"{where}: unknown key; allowed here: {', '.join(sorted(allowed))}")


def _int(key, v, lo=None, hi=None, what=None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(key, v, what or "must be an integer")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
        _fail(key, v, what or f"must be an integer {rng}")
    return v


def _dur(key, v) -> int:
    try:
        return parse_duration(v, key)
    except UnitError as e:
        raise ConfigError(str(e))


def _endpoint(key, text, allow_any=False) -> tuple[str, int]:
    if not isinstance(text, str):
        _fail(key, text, "must be 'ADDRESS:PORT' (IPv6 as '[ADDR]:PORT')")
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    try:
        addr = ipaddress.ip_address(host)
        p = int(port)
    except ValueError:
        _fail(key, text, "must be 'ADDRESS:PORT' with an IP address and a port 1-65535")
    if not 0 < p < 65536:
        _fail(key, text, "port must be 1-65535")
    if addr.is_unspecified and not allow_any:
        _fail(key, text, "the address must not be unspecified here")
    return str(addr), p


def _mask(key, text, ncpus) -> list[int]:
    if not isinstance(text, str):
        _fail(key, text, "must be a hex CPU mask string such as \"1\", \"f\" or \"ff,ffffffff\"")
    try:
        m = int(text.replace(",", ""), 16)
    except ValueError:
        _fail(key, text, "must be a hex CPU mask such as \"1\", \"f\" or \"ff,ffffffff\"")
    cpus = [c for c in range(m.bit_length()) if m >> c & 1]
    if not cpus:
        _fail(key, text, "names no CPU")
    if cpus[-1] >= ncpus:
        _fail(key, text, f"names CPU {cpus[-1]}, but the host has CPUs 0-{ncpus - 1}")
    return cpus


def validate(raw: dict) -> dict:
    """Check everything; return the resolved experiment with every default filled in."""
    _unknown("", raw, TOP_KEYS)
    r: dict = {}
    r["seed"] = _int("seed", raw.get("seed", 1), 0, 2**63 - 1)
    r["duration"] = raw.get("duration", "50ms")
    r["duration_ns"] = _dur("duration", r["duration"])
    if r["duration_ns"] <= 0:
        _fail("duration", r["duration"], "must be longer than 0")
    ncpus = r["cpus"] = _int("cpus", raw.get("cpus", 4), 1, MAX_CPUS)
    # Relaxed synchronisation (design §3): cross-CPU deliveries rounded up to a multiple
    # of the quantum. "0" is exact.
    r["quantum"] = raw.get("quantum", "0")
    r["quantum_ns"] = 0 if r["quantum"] in ("0", 0) else _dur("quantum", r["quantum"])
    if not 0 <= r["quantum_ns"] <= 1_000_000:
        _fail("quantum", r["quantum"], "0 (exact) or a duration up to 1ms, e.g. \"1us\"")
    kernel = str(raw.get("kernel", "6.6"))
    if kernel not in KERNELS:
        _fail("kernel", raw.get("kernel"), f"supported kernels: {', '.join(KERNELS)}")
    r["kernel"] = kernel
    hz = r["hz"] = raw.get("hz", 1000)
    if hz not in HZ_VALUES:
        _fail("hz", hz, f"CONFIG_HZ must be one of {', '.join(map(str, HZ_VALUES))}")
    r["profile"] = raw.get("profile", DEFAULT_PROFILE)
    try:
        load_profile(r["profile"])
    except ProfileError as e:
        _fail("profile", r["profile"], str(e))

    r["nic"] = nic = _validate_nic(raw.get("nic", {}), ncpus)
    r["irq"] = {"smp_affinity": _validate_affinity(raw.get("irq", {}), nic, ncpus)}
    r["sysctl"] = _validate_sysctl(raw.get("sysctl", {}), hz)
    _validate_fq_codel(raw.get("nic", {}).get("fq_codel"), nic,
                       r["sysctl"]["net.core.default_qdisc"])
    r["host"] = host = _validate_host(raw.get("host", {}))
    r["flows"] = _validate_flows(raw.get("flows", []), r["duration_ns"], nic)
    r["routes"] = _validate_routes(raw.get("routes", []), nic)
    r["apps"] = _validate_apps(raw.get("apps", []), ncpus, host, r["sysctl"],
                               r["duration_ns"])
    return r


def _validate_fq_codel(f, nic: dict, qdisc: str) -> None:
    """nic.fq_codel: tc's fq_codel options for every TX queue's qdisc, checked as
    fq_codel_change does (L6.6 net/sched/sch_fq_codel.c); only with default_qdisc =
    fq_codel. Times are durations (tc's target/interval); memory_limit is bytes."""
    if f is None and qdisc != "fq_codel":
        nic.pop("fq_codel", None)
        return
    if qdisc != "fq_codel":
        _fail("nic.fq_codel", f, 'sysctl."net.core.default_qdisc" = "fq_codel" to go with it')
    f = {} if f is None else f
    if not isinstance(f, dict):
        _fail("nic.fq_codel", f, "a table such as { target = \"5ms\", interval = \"100ms\" }")
    _unknown("nic.fq_codel", f, FQ_CODEL_KEYS)
    out = {"limit": _int("nic.fq_codel.limit", f.get("limit", 10240), 1, (1 << 32) - 1,
                         "an integer ≥ 1 (packets)"),
           "flows": _int("nic.fq_codel.flows", f.get("flows", 1024), 1, 65536,
                         "an integer from 1 to 65536"),
           "quantum": _int("nic.fq_codel.quantum", f.get("quantum", 1514), 256, 1 << 20,
                           "an integer from 256 to 1048576 (bytes)")}
    for k, default in (("target", "5ms"), ("interval", "100ms")):
        v = f.get(k, default)
        if _dur(f"nic.fq_codel.{k}", v) < 1000:
            _fail(f"nic.fq_codel.{k}", v, "a duration of at least 1us (tc's unit)")
        out[k] = v
    out["memory_limit"] = _int("nic.fq_codel.memory_limit", f.get("memory_limit", 32 << 20),
                               1, 1 << 31, "an integer from 1 to 2147483648 (bytes)")
    ecn = f.get("ecn", True)
    if not isinstance(ecn, bool):
        _fail("nic.fq_codel.ecn", ecn, "true or false (ecn | noecn)")
    out["ecn"] = ecn
    out["drop_batch"] = _int("nic.fq_codel.drop_batch", f.get("drop_batch", 64), 1,
                             (1 << 32) - 1, "an integer ≥ 1")
    nic["fq_codel"] = out
    nic["_fq_codel"] = {"limit": out["limit"], "flows": out["flows"],
                        "quantum": out["quantum"],
                        "target_us": _dur("", out["target"]) // 1000,
                        "interval_us": _dur("", out["interval"]) // 1000,
                        "memory_limit": out["memory_limit"], "ecn": ecn,
                        "drop_batch": out["drop_batch"]}


def _validate_nic(n: dict, ncpus: int) -> dict:
    if not isinstance(n, dict):
        _fail("nic", n, "must be a table")
    _unknown("nic", n, NIC_KEYS)
    out: dict = {}
    name = n.get("model", "i350")
    if name not in available_models():
        _fail("nic.model", name, f"available device models: {', '.join(available_models())}")
    model = load_model(name)
    out["model"] = name
    out["ifname"] = n.get("ifname", "eth0")
    if not isinstance(out["ifname"], str) or not out["ifname"] or len(out["ifname"]) > 15:
        _fail("nic.ifname", out["ifname"], "an interface name of 1-15 characters")
    maxq = model["max_rss_queues"]
    why = f"{name} supports {maxq} RSS queues"
    if model.get("queues_max_online_cpus") and ncpus < maxq:
        maxq, why = ncpus, f"{model['driver']} offers at most one queue per online CPU"
    # igb: rss_queues = min(max_rss_queues, num_online_cpus)
    out["combined"] = _int("nic.combined", n.get("combined", min(maxq, ncpus)), 1, maxq,
                           f"must be 1-{maxq} ({why})")
    ring = model["rx_ring"]
    rx_ring = _int("nic.rx_ring", n.get("rx_ring", ring["default"]), ring["min"], ring["max"],
                   f"must be an integer from {ring['min']} to {ring['max']} ({name})")
    # igb: ALIGN(count, REQ_RX_DESCRIPTOR_MULTIPLE = 8); ice: ICE_REQ_DESC_MULTIPLE = 32
    mult = ring.get("multiple", 8)
    out["rx_ring"] = min(-(-rx_ring // mult) * mult, ring["max"])
    indir = n.get("indir", "default")
    try:
        table = parse_indir(indir, model["reta_size"], out["combined"]) if isinstance(indir, str) \
            else _fail("nic.indir", indir, "a string")
    except ValueError as e:
        _fail("nic.indir", indir, str(e))
    out["indir"] = indir
    out["reta"] = table or None
    hkey = n.get("hkey")
    if hkey is not None:
        try:
            key = parse_hkey(hkey) if isinstance(hkey, str) else _fail("nic.hkey", hkey, "a string")
        except ValueError as e:
            _fail("nic.hkey", hkey, str(e))
        if len(key) != model["rss_key_bytes"]:
            _fail("nic.hkey", hkey, f"{name} takes a {model['rss_key_bytes']}-byte key "
                  f"(got {len(key)} bytes)")
    out["hkey"] = hkey
    fh = dict(model["rx_flow_hash_default"])
    given = n.get("rx_flow_hash", {})
    if not isinstance(given, dict):
        _fail("nic.rx_flow_hash", given, "a table such as { udp4 = \"sdfn\" }")
    for ft, fields in given.items():
        allowed = model["rx_flow_hash_allowed"].get(ft)
        if allowed is None:
            _fail(f"nic.rx_flow_hash.{ft}", fields,
                  f"flow types: {', '.join(model['rx_flow_hash_allowed'])}")
        if fields not in allowed:
            _fail(f"nic.rx_flow_hash.{ft}", fields, f"{name} accepts {' or '.join(allowed)}")
        fh[ft] = fields
    out["rx_flow_hash"] = fh
    if model.get("itr") == "fixed":
        # ice with adaptive-rx off: 2 µs granularity, odd values rounded down (ITR_REG_ALIGN)
        gran, top = model["itr_granularity"], model["itr_max"]
        usecs = _int("nic.rx_usecs", n.get("rx_usecs", model["itr_setting_default"]), gran,
                     top, f"{model['driver']} (adaptive-rx off, as softnet models it): "
                     f"{gran}-{top} µs; 0 (no moderation) and net_dim are not modelled")
        usecs -= usecs % gran
    else:
        usecs = _int("nic.rx_usecs", n.get("rx_usecs", model["itr_setting_default"]), 0,
                     10000)
        if usecs == 2 or 3 < usecs < 10:
            _fail("nic.rx_usecs", usecs, "igb accepts 0 (off), 1 (dynamic), 3 (dynamic "
                  "conservative) or 10-10000 µs")
    out["rx_usecs"] = usecs
    pause = n.get("rx_pause", False)
    if not isinstance(pause, bool):
        _fail("nic.rx_pause", pause, "true or false (ethtool -A eth0 rx on|off)")
    out["rx_pause"] = pause
    if "rx_packet_buffer" in model:
        out["rx_packet_buffer"] = _int("nic.rx_packet_buffer",
                                       n.get("rx_packet_buffer", model["rx_packet_buffer"]),
                                       2048, 1 << 20)
    elif "rx_packet_buffer" in n:
        _fail("nic.rx_packet_buffer", n["rx_packet_buffer"], f"{name} drops a frame with no "
              "free descriptor at its queue; softnet has no packet-buffer model for it")
    out["rps_cpus"] = _queue_masks(n, "rps_cpus", "rx", out["combined"], ncpus)
    cnt = n.get("rps_flow_cnt", {})
    if not isinstance(cnt, dict):
        _fail("nic.rps_flow_cnt", cnt, 'a table such as { "rx-0" = 2048 }')
    out["rps_flow_cnt"] = {}
    for q, v in cnt.items():
        key = f"nic.rps_flow_cnt.{q}"
        if not (q.startswith("rx-") and q[3:].isdigit() and int(q[3:]) < out["combined"]):
            _fail(key, v, f"RX queues are rx-0 … rx-{out['combined'] - 1}")
        # store_rps_dev_flow_table_cnt: rounded up to a power of two, 0 frees the table
        _int(key, v, 0, 1 << 29, "an integer from 0 (off) to 536870912 (2^29)")
        if v:
            out["rps_flow_cnt"][q] = v
    out["ntuple"], out["rules"] = _validate_rules(n, model, out["combined"])
    tring = model["tx_ring"]
    tx_ring = _int("nic.tx_ring", n.get("tx_ring", tring["default"]), tring["min"],
                   tring["max"], f"must be an integer from {tring['min']} to {tring['max']} "
                   f"({name})")
    mult = tring.get("multiple", 8)           # igb: ALIGN(count, REQ_TX_DESCRIPTOR_MULTIPLE)
    out["tx_ring"] = min(-(-tx_ring // mult) * mult, tring["max"])
    out["txqueuelen"] = _int("nic.txqueuelen", n.get("txqueuelen", 1000), 0, INT_MAX,
                             "an integer ≥ 0 (ip link set eth0 txqueuelen N)")
    # ethtool -K eth0 tx-udp-segmentation on|off (NETIF_F_GSO_UDP_L4): on by default where
    # the driver sets it in netdev->features
    uso = n.get("tx_udp_segmentation", model.get("gso_udp_l4", False))
    if not isinstance(uso, bool):
        _fail("nic.tx_udp_segmentation", uso, "true or false (ethtool -K eth0 "
              "tx-udp-segmentation on|off)")
    if uso and not model.get("gso_udp_l4", False):
        _fail("nic.tx_udp_segmentation", uso, f"{name} cannot segment UDP (no "
              "NETIF_F_GSO_UDP_L4 in hw_features)")
    out["tx_udp_segmentation"] = uso
    out["xps_cpus"] = _queue_masks(n, "xps_cpus", "tx", out["combined"], ncpus)
    gro = n.get("gro", True)
    if not isinstance(gro, bool):
        _fail("nic.gro", gro, "true or false (ethtool -K eth0 gro on|off)")
    out["gro"] = gro
    nports = n.get("ports", 1)
    maxp = model.get("ports", 1)
    out["ports"] = _int("nic.ports", nports, 1, maxp,
                        f"1 to {maxp} ({name} has {maxp} port{'s' if maxp > 1 else ''})")
    out["port_names"] = port_names(out["ifname"], out["ports"])
    if out["ports"] > 1 and model.get("ntuple", {}).get("arfs"):
        _fail("nic.ports", nports, f"one port with {name} (its aRFS is modelled for one)")
    out["_model"] = model
    return out



def _queue_masks(n: dict, name: str, kind: str, combined: int, ncpus: int) -> dict:
    """`nic.rps_cpus` / `nic.xps_cpus`: a CPU mask per queue (`rx-N` / `tx-N`), as in
    /sys/class/net/eth0/queues/<queue>/<name>; a mask of "0" turns the queue's map off."""
    table = n.get(name, {})
    if not isinstance(table, dict):
        _fail(f"nic.{name}", table, f'a table such as {{ "{kind}-0" = "1" }}')
    out = {}
    for q, mask in table.items():
        key = f"nic.{name}.{q}"
        if not (q.startswith(f"{kind}-") and q[3:].isdigit() and int(q[3:]) < combined):
            _fail(key, mask, f"{kind.upper()} queues are {kind}-0 … {kind}-{combined - 1}")
        if isinstance(mask, str) and set(mask) <= {"0", ","}:
            continue
        _mask(key, mask, ncpus)
        out[q] = mask
    return out

def _validate_rules(n: dict, model: dict, nq: int) -> tuple[bool, list[dict]]:
    """`ntuple` (ethtool -K eth0 ntuple on|off) and [[nic.rules]] (ethtool -U eth0 …),
    checked as the device's driver checks them (capabilities in the device file)."""
    cap = model.get("ntuple", {})
    name = model["name"]
    nt = n.get("ntuple", cap.get("default", False))
    if not isinstance(nt, bool):
        _fail("nic.ntuple", nt, "true or false (ethtool -K eth0 ntuple on|off)")
    if nt and not cap:
        _fail("nic.ntuple", nt, f"{name} has no ntuple filters")
    rules = []
    etypes: set[int] = set()
    locs: set[int] = set()
    input_sets: dict[str, tuple] = {}           # flow type -> the fields its rules name
    seen: set[tuple] = set()
    for i, key, r in _tables("nic.rules", n.get("rules", []), RULE_KEYS):
        if not nt:
            raise ConfigError(f"{key}: rules need `ntuple = true` (turning ntuple off "
                              f"removes every rule: {model['driver']}_set_features)")
        ft = r.get("flow_type")
        if ft not in cap.get("flow_types", []):
            hint = ""
            if ft in L4_FLOW_TYPES and not cap.get("arfs"):
                hint = (f"; {model['driver']} refuses L3/L4 rules (EINVAL), and aRFS needs a "
                        "device with L4 filters and ndo_rx_flow_steer, such as "
                        "model = \"e810\" (ice)")
            _fail(f"{key}.flow_type", ft,
                  f"{name} accepts flow_type {', '.join(cap.get('flow_types', []))}{hint}")
        out = {"flow_type": ft}
        if ft == "ether":
            for k in ("src_ip", "dst_ip", "src_port", "dst_port"):
                if k in r:
                    _fail(f"{key}.{k}", r[k], "an ether rule matches only proto (EtherType)")
            proto = r.get("proto")
            if isinstance(proto, str):
                try:
                    proto = int(proto, 0)
                except ValueError:
                    pass
            out["proto"] = _int(f"{key}.proto", proto, 0x600, 0xFFFF,
                                "an EtherType such as 0x0800 (IPv4) or \"0x86dd\" (IPv6)")
            etypes.add(out["proto"])
            if len(etypes) > cap["etype_filters"]:
                _fail(f"{key}.proto", r.get("proto"), f"{name} has {cap['etype_filters']} "
                      "EtherType filters (\"etype filters are all used\")")
        else:
            _l4_rule_fields(key, r, ft, out, model)
            fields = tuple(k for k in L4_FIELDS if k in out)
            first = input_sets.setdefault(ft, fields)
            if fields != first:
                _fail(key, {k: r[k] for k in fields}, f"{model['driver']} keeps one input set "
                      f"per flow type and {ft} rules already match on {', '.join(first)} "
                      "(\"Flow director filters on each port must have the same input "
                      "set\", EINVAL)")
            ident = (ft,) + tuple(out[k] for k in fields)
            if ident in seen:
                _fail(key, {k: r[k] for k in fields}, "the same filter exists already "
                      "(ice_fdir_is_dup_fltr, EINVAL)")
            seen.add(ident)
        act = r.get("action")
        if act == -1 and not cap.get("drop"):
            _fail(f"{key}.action", act, f"{model['driver']} cannot drop (action -1 is "
                  "EINVAL); an RX queue index")
        drop = " or -1 (drop, RX_CLS_FLOW_DISC)" if cap.get("drop") else ""
        out["action"] = _int(f"{key}.action", act, -1 if cap.get("drop") else 0, nq - 1,
                             f"an RX queue from 0 to {nq - 1}{drop}")
        loc = _int(f"{key}.loc", r.get("loc", i), 0, cap["max_rules"] - 1,
                   f"a rule location from 0 to {cap['max_rules'] - 1}")
        if loc in locs:
            _fail(f"{key}.loc", loc, "another rule already uses this location")
        locs.add(loc)
        out["loc"] = loc
        rules.append(out)
    return nt, sorted(rules, key=lambda x: x["loc"])


L4_FLOW_TYPES = ("udp4", "tcp4", "udp6", "tcp6", "ip4", "ip6")
L4_FIELDS = ("src_ip", "dst_ip", "src_port", "dst_port")


def _l4_rule_fields(key: str, r: dict, ft: str, out: dict, model: dict) -> None:
    """The fields of a tcp4/udp4/tcp6/udp6 rule; at least one (ice_set_fdir_ip4_seg refuses
    a rule that matches nothing, EINVAL)."""
    if "proto" in r:
        _fail(f"{key}.proto", r["proto"], f"a {ft} rule matches src_ip, dst_ip, src_port "
              "and dst_port; proto is for flow_type \"ether\"")
    version = 6 if ft.endswith("6") else 4
    for k in ("src_ip", "dst_ip"):
        if k in r:
            try:
                a = ipaddress.ip_address(r[k]) if isinstance(r[k], str) else None
            except ValueError:
                a = None
            if a is None or a.version != version:
                _fail(f"{key}.{k}", r[k], f"an IPv{version} address for flow_type {ft}")
            out[k] = str(a)
    for k in ("src_port", "dst_port"):
        if k in r:
            out[k] = _int(f"{key}.{k}", r[k], 1, 65535, "a port from 1 to 65535")
    if not any(k in out for k in L4_FIELDS):
        raise ConfigError(f"{key}: a {ft} rule must name at least one of "
                          f"{', '.join(L4_FIELDS)} ({model['driver']}: EINVAL)")


def arfs_refused_types(rules: list[dict]) -> list[str]:
    """Flow types whose ethtool rules do not name the whole 4-tuple: ice then clears the
    type's perfect-filter bit and ice_rx_flow_steer refuses it (-EOPNOTSUPP)."""
    return sorted({r["flow_type"] for r in rules if r["flow_type"] in L4_FLOW_TYPES
                   and not all(k in r for k in L4_FIELDS)})


def _validate_affinity(irq: dict, nic: dict, ncpus: int) -> dict:
    if not isinstance(irq, dict):
        _fail("irq", irq, "a table with an smp_affinity table")
    _unknown("irq", irq, {"smp_affinity"})
    given = irq.get("smp_affinity", {})
    names = [v.name for pn in nic.get("port_names", [nic["ifname"]])
             for v in vector_layout(nic["_model"], pn, nic["combined"])]
    out: dict[str, str] = {}
    aliased: list[str] = []
    for name, mask in given.items():
        key = f"irq.smp_affinity.{name}"
        _mask(key, mask, ncpus)
        if name in names:
            out[name] = mask
            continue
        # igb pairs queues only above half its maximum: "TxRx" then means both vectors
        hit = False
        for pn in nic.get("port_names", [nic["ifname"]]):
            pre = f"{pn}-TxRx-"
            if name.startswith(pre) and name[len(pre):].isdigit():
                q = name[len(pre):]
                rx, tx = f"{pn}-rx-{q}", f"{pn}-tx-{q}"
                if rx in names and tx in names:
                    out.setdefault(rx, mask)
                    out.setdefault(tx, mask)
                    aliased.append(name)
                    hit = True
        if hit:
            continue
        _fail(key, mask, f"no such IRQ; the NIC has: {', '.join(names)}")
    nic["_notes"] = [] if not aliased else [
        f"{nic['model']} with {nic['combined']} queues does not pair queues (igb pairs only "
        f"above {nic['_model']['max_rss_queues'] // 2}): the affinity of "
        f"{', '.join(aliased)} was applied to the -rx- and -tx- vectors of the same queue"]
    return out


def _validate_sysctl(s: dict, hz: int) -> dict:
    if not isinstance(s, dict):
        _fail("sysctl", s, "a table of sysctl names")
    out = {}
    min_usecs = 2 * 1_000_000 // hz
    for k, v in s.items():
        if k not in SYSCTLS:
            raise ConfigError(f"sysctl.{k}: unknown sysctl; supported: {', '.join(SYSCTLS)}")
    for k, (default, lo, what) in SYSCTLS.items():
        v = s.get(k, default)
        if k == "net.core.flow_limit_cpu_bitmap":
            if not isinstance(v, str):
                _fail(f'sysctl."{k}"', v, "a hex CPU mask string such as \"f\" or \"0\"")
            try:
                int(v.replace(",", ""), 16)
            except ValueError:
                _fail(f'sysctl."{k}"', v, "a hex CPU mask string such as \"f\" or \"0\"")
        elif k == "net.core.default_qdisc":
            if v not in ("pfifo_fast", "fq_codel"):
                _fail(f'sysctl."{k}"', v, "pfifo_fast (the 6.6 default) or fq_codel; other "
                      "qdiscs are not modelled")
        elif k == "net.ipv4.ip_forward":
            if v not in (0, 1):
                _fail(f'sysctl."{k}"', v, "0 or 1")
        elif k == "net.ipv4.tcp_rmem":
            words = v.split() if isinstance(v, str) else []
            if len(words) != 3 or not all(w.isdigit() for w in words) \
                    or not int(words[0]) <= int(words[1]) <= int(words[2]):
                _fail(f'sysctl."{k}"', v, 'three integers "min default max" with min ≤ '
                      'default ≤ max, e.g. "4096 131072 6291456"')
        elif k == "net.core.netdev_budget_usecs":
            v = s.get(k, min_usecs)
            _int(f'sysctl."{k}"', v, min_usecs, INT_MAX,
                 f"must be an integer from {min_usecs} (2 jiffies at HZ={hz}; 6.6's minimum)")
        else:
            _int(f'sysctl."{k}"', v, lo, INT_MAX, f"must be {what}")
        out[k] = v
    return out


def _validate_host(h: dict) -> dict:
    if not isinstance(h, dict):
        _fail("host", h, "a table")
    _unknown("host", h, {"addresses", "neigh", "arp_reply_delay"})
    addrs = h.get("addresses", ["10.0.0.1"])
    if not isinstance(addrs, list) or not addrs:
        _fail("host.addresses", addrs, "a non-empty list of the host's IP addresses")
    out = []
    for a in addrs:
        try:
            out.append(str(ipaddress.ip_address(a)))
        except ValueError:
            _fail("host.addresses", a, "must be IP addresses")
    # the neighbour table at the start: `ip neigh add 10.0.0.9 lladdr … nud permanent`;
    # any other next hop starts unresolved and is resolved with ARP on first use
    neigh = h.get("neigh", {})
    if not isinstance(neigh, dict):
        _fail("host.neigh", neigh, 'a table such as { "10.0.0.9" = "permanent" }')
    nout = {}
    for ip, state in neigh.items():
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            _fail(f'host.neigh."{ip}"', state, "keys are IPv4 addresses of neighbours")
        if state not in ("permanent", "reachable"):
            _fail(f'host.neigh."{ip}"', state, '"permanent" (a static entry) or "reachable" '
                  "(resolved before the run); leave a neighbour out to resolve it with ARP")
        nout[ip] = state
    # how long the neighbour takes to answer an ARP request, after the request's last bit
    # reaches it (0: at once, as fast as its own wire allows)
    delay = h.get("arp_reply_delay", "0us")
    return {"addresses": out, "neigh": nout, "arp_reply_delay": delay,
            "arp_reply_delay_ns": _dur("host.arp_reply_delay", delay)}


def _tables(name: str, value, allowed: set):
    """The entries of an array of tables ([[name]]), each checked for unknown keys."""
    if not isinstance(value, list):
        _fail(name, value, f"an array of tables ([[{name}]])")
    for i, t in enumerate(value):
        key = f"{name}[{i}]"
        if not isinstance(t, dict):
            _fail(key, t, "a table")
        _unknown(key, t, allowed)
        yield i, key, t


def port_names(ifname: str, n: int) -> list[str]:
    """eth0, eth1, …: the netdevs of the device's ports (one PCI function each)."""
    stem = ifname.rstrip("0123456789")
    base = int(ifname[len(stem):]) if ifname != stem else None
    if base is None:
        return [ifname] + [f"{ifname}{i}" for i in range(1, n)]
    return [f"{stem}{base + i}" for i in range(n)]


def _validate_routes(routes, nic: dict) -> list[dict]:
    """`ip route add 10.2.0.0/16 dev eth1`: where packets for other hosts leave (longest
    prefix wins); without a matching route they leave by the first port."""
    out = []
    names = nic["port_names"]
    for i, key, rt in _tables("routes", routes, {"dst", "dev"}):
        try:
            net = ipaddress.IPv4Network(rt.get("dst"), strict=False)
        except (ValueError, TypeError):
            _fail(f"{key}.dst", rt.get("dst"), "an IPv4 prefix such as \"10.2.0.0/16\"")
        dev = rt.get("dev")
        if dev not in names:
            _fail(f"{key}.dev", dev, f"a port of the NIC: {', '.join(names)}")
        out.append({"dst": str(net), "dev": dev, "port": names.index(dev)})
    return out


def route_port(routes: list[dict], ip: str) -> int:
    """fib lookup: the port of the longest matching prefix, else port 0."""
    addr = ipaddress.IPv4Address(ip)
    best, plen = 0, -1
    for rt in routes:
        net = ipaddress.IPv4Network(rt["dst"])
        if addr in net and net.prefixlen > plen:
            best, plen = rt["port"], net.prefixlen
    return best


def _validate_flows(flows, duration_ns: int, nic: dict) -> list[dict]:
    out = []
    for i, key, f in _tables("flows", flows, FLOW_KEYS):
        r = {"name": f.get("name", f"flow{i}")}
        r["port"] = _int(f"{key}.port", f.get("port", 0), 0, nic["ports"] - 1,
                         f"the port it arrives on, 0 to {nic['ports'] - 1} "
                         f"({', '.join(nic['port_names'])})")
        proto = f.get("proto", "udp")
        if proto not in L4_HDR:
            _fail(f"{key}.proto", proto, "udp, or tcp (an in-order bulk stream of segments "
                  "at the given rate)")
        r["proto"] = proto
        for side in ("src", "dst"):
            if side not in f:
                raise ConfigError(f"{key}.{side}: missing; give 'ADDRESS:PORT'")
        r["src"], r["dst"] = f["src"], f["dst"]
        r["src_ip"], r["sport"] = _endpoint(f"{key}.src", f["src"])
        r["dst_ip"], r["dport"] = _endpoint(f"{key}.dst", f["dst"])
        if ipaddress.ip_address(r["src_ip"]).version != ipaddress.ip_address(r["dst_ip"]).version:
            _fail(f"{key}.dst", f["dst"], "must be the same IP version as src")
        least = max(64, FRAME_OVERHEAD + L4_HDR[proto] + 1)
        r["size"] = _int(f"{key}.size", f.get("size", 64 if proto == "udp" else 1518),
                         least, 1518, f"Ethernet frame size incl. FCS: {least}-1518 bytes "
                         f"for {proto} (MTU 1500)")
        if ipaddress.ip_address(r["src_ip"]).version != 4 and proto == "tcp":
            _fail(f"{key}.src", f["src"], "TCP flows are IPv4")
        if "rate" not in f:
            raise ConfigError(f"{key}.rate: missing; e.g. '200kpps' or '100Mbit'")
        r["rate"] = f["rate"]
        try:
            kind, num = parse_rate(f["rate"], f"{key}.rate")
        except UnitError as e:
            raise ConfigError(str(e))
        # a bit rate is of Ethernet frames (L2, FCS included)
        r["pps"] = num if kind == "pps" else num / (r["size"] * 8)
        if r["pps"] <= 0:
            _fail(f"{key}.rate", f["rate"], "must be greater than 0")
        arr = f.get("arrival", "constant")
        if arr not in ARRIVALS:
            _fail(f"{key}.arrival", arr, f"one of {', '.join(ARRIVALS)}")
        r["arrival"] = arr
        if arr == "onoff":
            for k in ("on", "off"):
                if k not in f:
                    raise ConfigError(f"{key}.{k}: arrival 'onoff' needs on and off durations")
            r["on"], r["off"] = f["on"], f["off"]
            r["on_ns"], r["off_ns"] = _dur(f"{key}.on", f["on"]), _dur(f"{key}.off", f["off"])
            if r["on_ns"] <= 0:
                _fail(f"{key}.on", f["on"], "must be longer than 0")
        r["count"] = _int(f"{key}.count", f["count"], 1) if "count" in f else None
        r["start"] = f.get("start", "0ns")
        r["start_ns"] = _dur(f"{key}.start", r["start"])
        if r["start_ns"] >= duration_ns:
            _fail(f"{key}.start", r["start"], "must be before the end of the run")
        r["stop"] = f.get("stop")
        r["stop_ns"] = _dur(f"{key}.stop", r["stop"]) if r["stop"] is not None else None
        if r["stop_ns"] is not None and r["stop_ns"] <= r["start_ns"]:
            _fail(f"{key}.stop", r["stop"], "must be after start")
        out.append(r)
    return out


def _validate_apps(apps, ncpus: int, host: dict, sysctl: dict,
                   duration_ns: int) -> list[dict]:
    out = []
    bound: dict[int, str] = {}
    names = set()
    for i, key, a in _tables("apps", apps, APP_KEYS):
        r = {"name": a.get("name", f"app{i}")}
        if r["name"] in names:
            _fail(f"{key}.name", r["name"], "app names must be unique")
        names.add(r["name"])
        r["cpu"] = _int(f"{key}.cpu", a.get("cpu", 0), 0, ncpus - 1,
                        f"must be a CPU from 0 to {ncpus - 1}")
        if "send" in a:
            out.append(_validate_sender(i, key, a, r, host, sysctl, duration_ns))
            continue
        s = a.get("socket")
        if not isinstance(s, dict):
            raise ConfigError(f"{key}.socket: missing; e.g. "
                              "{ proto = \"udp\", bind = \"0.0.0.0:9000\" }")
        _unknown(f"{key}.socket", s, SOCKET_KEYS)
        proto = s.get("proto", "udp")
        if proto not in L4_HDR:
            _fail(f"{key}.socket.proto", proto, "udp or tcp")
        if "bind" not in s:
            raise ConfigError(f"{key}.socket.bind: missing; e.g. \"0.0.0.0:9000\"")
        ip, port = _endpoint(f"{key}.socket.bind", s["bind"], allow_any=True)
        if not ipaddress.ip_address(ip).is_unspecified and ip not in host["addresses"]:
            _fail(f"{key}.socket.bind", s["bind"], f"not a local address (EADDRNOTAVAIL); "
                  f"host.addresses = {host['addresses']}")
        reuse = s.get("reuseport", False)
        if not isinstance(reuse, bool):
            _fail(f"{key}.socket.reuseport", reuse, "true or false (SO_REUSEPORT)")
        if proto == "tcp":
            # an established connection accepted from a listener on bind: apps on one
            # port each read one of its connections
            for k in ("reuseport", "connect", "udp_gro"):
                if k in s:
                    _fail(f"{key}.socket.{k}", s[k], "a UDP socket option; a TCP app reads "
                          "one accepted connection of the flow to its port")
        elif port in bound and not (reuse and bound[port][1]):
            _fail(f"{key}.socket.bind", s["bind"], f"port {port} is already bound by "
                  f"{bound[port][0]} (EADDRINUSE; set reuseport = true on every socket of "
                  "the group for SO_REUSEPORT)")
        if proto == "udp":
            bound[port] = (r["name"], reuse)
        conn = s.get("connect")
        if conn is not None:
            cip, cport = _endpoint(f"{key}.socket.connect", conn)
            if cport == 0 or ipaddress.ip_address(cip).is_unspecified:
                _fail(f"{key}.socket.connect", conn, "a peer address and port, e.g. "
                      "\"10.0.0.2:40000\"")
            r["rem_ip"], r["rem_port"] = cip, cport
        else:
            r["rem_ip"] = r["rem_port"] = None
        so = s.get("rcvbuf")
        if so is not None:
            _int(f"{key}.socket.rcvbuf", so, 0, INT_MAX, "SO_RCVBUF value, an integer ≥ 0")
        gro = s.get("udp_gro", False)
        if not isinstance(gro, bool):
            _fail(f"{key}.socket.udp_gro", gro, "true or false (setsockopt UDP_GRO)")
        r["socket"] = {"proto": proto, "bind": s["bind"], "rcvbuf": so,
                       "reuseport": reuse if proto == "udp" else None, "connect": conn,
                       "udp_gro": gro if proto == "udp" else None}
        r["bind_ip"], r["port"] = ip, port
        default = (int(sysctl["net.ipv4.tcp_rmem"].split()[1]) if proto == "tcp"
                   else sysctl["net.core.rmem_default"])
        r["sk_rcvbuf"] = effective_rcvbuf(so, default, sysctl["net.core.rmem_max"])
        # recv(fd, buf, read_size): iperf3's default TCP read length is 128 KiB
        r["read_size"] = _int(f"{key}.read_size", a.get("read_size", 131072), 1, INT_MAX,
                              "bytes per recv() on a TCP socket, an integer ≥ 1")
        if proto == "udp" and "read_size" in a:
            _fail(f"{key}.read_size", a["read_size"], "only for TCP apps (a UDP read "
                  "returns one datagram)")
        r["cost_per_read"] = a.get("cost_per_read", "0ns")
        r["cost_per_read_ns"] = _dur(f"{key}.cost_per_read", r["cost_per_read"])
        r["migrate"], r["timeline"] = _validate_migrate(key, a.get("migrate", []), r["cpu"],
                                                        ncpus, duration_ns)
        out.append(r)
    return out


def _validate_sender(i: int, key: str, a: dict, r: dict, host: dict, sysctl: dict,
                     duration_ns: int) -> dict:
    """An application that sends: `send = { dst, rate, size, count, start, stop }` through
    a UDP socket with `sndbuf` (SO_SNDBUF), `blocking`, optional `bind` and `connect`."""
    for k in ("read_size", "migrate", "cost_per_read"):
        if k in a:
            _fail(f"{key}.{k}", a[k], "a reading app's key; this app sends")
    s = a.get("socket", {"proto": "udp"})
    if not isinstance(s, dict):
        _fail(f"{key}.socket", s, '{ proto = "udp", sndbuf = 212992, blocking = true }')
    _unknown(f"{key}.socket", s, SENDER_SOCKET_KEYS)
    if s.get("proto", "udp") != "udp":
        _fail(f"{key}.socket.proto", s.get("proto"), "udp (senders send UDP datagrams)")
    src_ip, sport = host["addresses"][0], EPHEMERAL_PORT + i
    if "bind" in s:
        ip, port = _endpoint(f"{key}.socket.bind", s["bind"], allow_any=True)
        if not ipaddress.ip_address(ip).is_unspecified:
            if ip not in host["addresses"]:
                _fail(f"{key}.socket.bind", s["bind"], "not a local address "
                      f"(EADDRNOTAVAIL); host.addresses = {host['addresses']}")
            src_ip = ip
        if port:
            sport = port
    blocking = s.get("blocking", True)
    if not isinstance(blocking, bool):
        _fail(f"{key}.socket.blocking", blocking, "true (blocking) or false (O_NONBLOCK)")
    so = s.get("sndbuf")
    if so is not None:
        _int(f"{key}.socket.sndbuf", so, 0, INT_MAX, "SO_SNDBUF value, an integer ≥ 0")
    snd = a["send"]
    if not isinstance(snd, dict):
        _fail(f"{key}.send", snd, '{ dst = "10.0.0.9:7000", rate = "500kpps", size = 64 }')
    _unknown(f"{key}.send", snd, SEND_KEYS)
    conn = s.get("connect")
    dst = snd.get("dst", conn)
    if dst is None:
        raise ConfigError(f"{key}.send.dst: missing; give 'ADDRESS:PORT' (or socket.connect)")
    if conn is not None and dst != conn:
        _fail(f"{key}.send.dst", dst, f"a connected socket sends to its peer {conn}")
    dip, dport = _endpoint(f"{key}.send.dst", dst)
    if dport == 0 or ipaddress.ip_address(dip).version != 4:
        _fail(f"{key}.send.dst", dst, "an IPv4 address and a port other than 0")
    if dip in host["addresses"]:
        _fail(f"{key}.send.dst", dst, "a local address goes over loopback, which softnet "
              "does not model; send to another host")
    # send.size: the frame of a datagram that fits the MTU; send.payload: the bytes each
    # sendmsg hands over, up to 65507 — above 1472 IP fragments them, or with
    # socket.udp_segment (UDP_SEGMENT) the send is one GSO skb of several datagrams
    if "size" in snd and "payload" in snd:
        _fail(f"{key}.send.payload", snd["payload"], "give send.size (frame bytes) or "
              "send.payload (UDP payload bytes per sendmsg), not both")
    if "payload" in snd:
        payload = _int(f"{key}.send.payload", snd["payload"], 0, INT_MAX,
                       "UDP payload bytes per sendmsg, an integer ≥ 0")
        if payload > UDP_MAX_PAYLOAD:
            _fail(f"{key}.send.payload", payload, f"at most {UDP_MAX_PAYLOAD} bytes: a UDP "
                  "datagram is at most 65535 bytes of IP (sendmsg fails with EMSGSIZE)")
        size = max(64, min(payload, IP_MTU - IP_HLEN - UDP_HLEN) + FRAME_OVERHEAD
                   + L4_HDR["udp"])
    else:
        size = _int(f"{key}.send.size", snd.get("size", 64), 64, 1518,
                    "Ethernet frame size incl. FCS: 64-1518 bytes (MTU 1500; for bigger "
                    "datagrams give send.payload)")
        payload = size - FRAME_OVERHEAD - L4_HDR["udp"]
    gso = s.get("udp_segment", 0)
    _int(f"{key}.socket.udp_segment", gso, 0, 65535, "gso_size in bytes, 0 (off) to 65535 "
         "(setsockopt UDP_SEGMENT)")
    if gso and IP_HLEN + UDP_HLEN + gso > IP_MTU:
        _fail(f"{key}.socket.udp_segment", gso, f"segments must fit the MTU: at most "
              f"{IP_MTU - IP_HLEN - UDP_HLEN} (udp_send_skb: EINVAL)")
    if gso and payload > gso * UDP_MAX_SEGMENTS:
        _fail(f"{key}.send.payload", payload, f"at most UDP_MAX_SEGMENTS = "
              f"{UDP_MAX_SEGMENTS} segments of {gso} bytes = {gso * UDP_MAX_SEGMENTS} "
              "(udp_send_skb: EINVAL)")
    # the frames one sendmsg puts on the wire (bytes incl. FCS): GSO segments or IP fragments
    if gso and payload > gso:
        frames = [p + FRAME_OVERHEAD + L4_HDR["udp"] for p in gso_segments(payload, gso)]
    else:
        frags = ip_fragments(payload)
        frames = [f + FRAME_OVERHEAD for f in frags]
    frames = [max(64, f) for f in frames]
    rate = snd.get("rate")
    interval = 0
    if rate is not None:
        try:
            kind, num = parse_rate(rate, f"{key}.send.rate")
        except UnitError as e:
            raise ConfigError(str(e))
        pps = num if kind == "pps" else num / (sum(frames) * 8)
        if pps <= 0:
            _fail(f"{key}.send.rate", rate, "must be greater than 0")
        interval = max(1, round(1e9 / pps))
    count = _int(f"{key}.send.count", snd["count"], 1) if "count" in snd else None
    start = _dur(f"{key}.send.start", snd.get("start", "0ns"))
    if start >= duration_ns:
        _fail(f"{key}.send.start", snd.get("start"), "must be before the end of the run")
    stop = _dur(f"{key}.send.stop", snd["stop"]) if "stop" in snd else None
    if stop is not None and stop <= start:
        _fail(f"{key}.send.stop", snd["stop"], "must be after start")
    r.update({
        "sender": True, "timeline": [(0, r["cpu"])], "migrate": [],
        "socket": {"proto": "udp", "bind": s.get("bind"), "sndbuf": so, "blocking": blocking,
                   "connect": conn, "udp_segment": gso or None},
        "send": {k: v for k, v in snd.items()},
        "src_ip": src_ip, "sport": sport, "dst_ip": dip, "dport": dport,
        "sk_sndbuf": effective_sndbuf(so, sysctl["net.core.wmem_default"],
                                      sysctl["net.core.wmem_max"]),
        "blocking": blocking, "connected": conn is not None, "size": size,
        "payload": payload, "gso_size": gso, "frames": len(frames), "interval_ns": interval,
        "count": count, "start_ns": start, "stop_ns": stop,
        # a sender is not a reader: no receive socket
        "bind_ip": None, "port": None, "rem_ip": None, "rem_port": None,
        "sk_rcvbuf": 0, "cost_per_read": "0ns", "cost_per_read_ns": 0, "read_size": 0,
    })
    return r


def _validate_migrate(key: str, moves, cpu: int, ncpus: int, duration_ns: int):
    """`migrate = [{ at = "5ms", cpu = 2 }, …]`: `taskset -pc CPU PID` at those times. The
    reader and its socket move to the new CPU. Returns the entries as given and the
    timeline [(0, cpu), (at_ns, cpu), …]."""
    timeline = [(0, cpu)]
    given = []
    for i, k, m in _tables(f"{key}.migrate", moves, {"at", "cpu"}):
        if "at" not in m or "cpu" not in m:
            raise ConfigError(f"{k}: needs at (a time in the run) and cpu")
        at = _dur(f"{k}.at", m["at"])
        if not timeline[-1][0] < at < duration_ns:
            _fail(f"{k}.at", m["at"], "a time inside the run, later than the app's previous "
                  "move")
        c = _int(f"{k}.cpu", m["cpu"], 0, ncpus - 1, f"a CPU from 0 to {ncpus - 1}")
        if c == timeline[-1][1]:
            _fail(f"{k}.cpu", c, "a CPU other than the one the app is on at that time")
        timeline.append((at, c))
        given.append({"at": m["at"], "cpu": c})
    return given, timeline


def user_view(r: dict) -> dict:
    """The resolved experiment in the file's own terms (for config.toml in the run dir)."""
    nic = {k: v for k, v in r["nic"].items()
           if not k.startswith("_") and k not in ("reta", "port_names")}
    if nic.get("hkey") is None:
        nic.pop("hkey", None)
    flows = []
    for f in r["flows"]:
        g = {k: f[k] for k in ("name", "proto", "src", "dst", "rate", "size", "arrival",
                               "start")}
        for k in ("on", "off", "count", "stop"):
            if f.get(k) is not None:
                g[k] = f[k]
        if f.get("port"):
            g["port"] = f["port"]
        flows.append(g)
    apps = []
    for a in r["apps"]:
        sock = {k: v for k, v in a["socket"].items() if v is not None}
        if a.get("sender"):
            apps.append({"name": a["name"], "cpu": a["cpu"], "socket": sock,
                         "send": a["send"]})
            continue
        app = {"name": a["name"], "cpu": a["cpu"], "socket": sock,
               "cost_per_read": a["cost_per_read"]}
        if a["socket"]["proto"] == "tcp":
            app["read_size"] = a["read_size"]
        if a["migrate"]:
            app["migrate"] = a["migrate"]
        apps.append(app)
    return {"seed": r["seed"], "duration": r["duration"], "cpus": r["cpus"],
            "quantum": r["quantum"], "kernel": r["kernel"], "hz": r["hz"], "profile": r["profile"], "nic": nic,
            "irq": r["irq"], "sysctl": r["sysctl"],
            "host": {k: v for k, v in r["host"].items() if not k.endswith("_ns")},
            "flows": flows, "apps": apps,
            **({"routes": [{"dst": rt["dst"], "dev": rt["dev"]} for rt in r["routes"]]}
               if r.get("routes") else {})}
