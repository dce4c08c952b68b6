"""Experiment files: reading, `--set` overrides, validation and defaults.

Keys are the kernel's and the tools' own words (sysctl names, ethtool settings, sysfs
files) so a user can paste them. Everything is checked before any process starts; a bad
value is refused with the key, the value and what is allowed (exit code 2).
"""

from __future__ import annotations

import copy
import errno
import ipaddress
import math
import os
import re
import stat
import tomllib
import unicodedata
from importlib import resources

from softnet.cpus.costs import (DEFAULT_PROFILE, ProfileError, available_profiles,
                                 check_profile, load_profile)
from softnet.cpus.kernel import DEFAULT_KERNEL, KERNELS as KERNEL_TABLE, Kernel
from softnet.cpus.sock import SOCK_MIN_RCVBUF, effective_rcvbuf
from softnet.cpus.tx import (IP_HLEN, IP_MTU, SOCK_MIN_SNDBUF, UDP_HLEN, UDP_MAX_PAYLOAD,
                     UDP_MAX_SEGMENTS, effective_sndbuf, gso_segments, ip_fragments)
from softnet.engine.units import MS, S, UnitError, fmt_ns, parse_duration, parse_rate
from softnet.nic.device import available_models, load_model, parse_indir, vector_layout
from softnet.nic.toeplitz import parse_hkey

from .suggest import did_you_mean

KERNELS = tuple(KERNEL_TABLE)
HZ_VALUES = (100, 250, 300, 1000)
ARRIVALS = ("constant", "poisson", "onoff")
MAX_CPUS = 64
INT_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
U32_MAX = 2**32 - 1
# The longest run, in simulated time. softnet handles some 10^5-10^6 events per wall
# second, so 1000 s of simulated time is already hours of wall time at modest rates; the
# bound also keeps every time far inside int64, in ns and in the wire's picoseconds (×1000).
MAX_DURATION_NS = 1000 * S
# The most packets a run may offer (flows and senders together): about an hour of wall
# time at the simulator's speed; more is a typo (a rate or duration off by 1000) or a run
# that cannot finish.
MAX_PACKETS = 10**9
# Simulated time is whole nanoseconds: frames can be at most one per ns apart, and a flow
# slower than one packet per MAX_DURATION_NS has nothing to send in any run.
MAX_PPS = 10**9
MIN_PPS = S / MAX_DURATION_NS
# An experiment file is a page of TOML; a bigger file is a mistake (a log, a device).
MAX_FILE_BYTES = 1 << 20
# Tables and arrays nest a few levels in any experiment; deeper is a broken file (and
# would exhaust Python's recursion in copying or checking it).
MAX_DEPTH = 32
# CONFIG_NR_CPUS's largest value on x86-64: the longest CPU mask a kernel prints.
NR_CPUS_MAX = 8192

# sysctl name -> (default, minimum or None, maximum or None, description of what is allowed)
SYSCTLS = {
    "net.core.netdev_budget": (300, 0, INT_MAX, f"an integer from 0 to {INT_MAX} (packets "
                               "per net_rx_action run)"),
    "net.core.netdev_budget_usecs": (None, None, INT_MAX, "µs per net_rx_action run; 6.6 "
                                     "refuses less than 2 jiffies"),
    "net.core.netdev_max_backlog": (1000, 0, INT_MAX, f"an integer from 0 to {INT_MAX}"),
    "net.core.dev_weight": (64, 1, INT_MAX, f"an integer from 1 to {INT_MAX}"),
    "net.core.gro_normal_batch": (8, 1, INT_MAX, f"an integer from 1 to {INT_MAX}"),
    "net.core.rmem_default": (212992, SOCK_MIN_RCVBUF, INT_MAX,
                              f"an integer from {SOCK_MIN_RCVBUF} to {INT_MAX}"),
    "net.core.rmem_max": (212992, SOCK_MIN_RCVBUF, INT_MAX,
                          f"an integer from {SOCK_MIN_RCVBUF} to {INT_MAX}"),
    # flow_limit_table_len_sysctl: a power of two (EINVAL otherwise); the bucket table is
    # one kzalloc of a byte per bucket, which fails above KMALLOC_MAX_SIZE (4 MiB)
    "net.core.flow_limit_table_len": (4096, 1, 1 << 21, "a power of two from 1 to 2097152 "
                                      "(buckets per CPU)"),
    "net.core.flow_limit_cpu_bitmap": ("0", None, None, "a hex CPU mask"),
    # RFS: rps_sock_flow_sysctl rounds up to a power of two, refuses more than 2^29
    # (EINVAL); 0 turns RFS off
    "net.core.rps_sock_flow_entries": (0, 0, 1 << 29, "an integer from 0 (off) to "
                                       "536870912 (2^29)"),
    # min, default, max: a TCP socket starts with the default as sk_rcvbuf
    "net.ipv4.tcp_rmem": ("4096 131072 6291456", None, None, "three integers \"min default "
                          "max\""),
    "net.core.wmem_default": (212992, SOCK_MIN_SNDBUF, INT_MAX,
                              f"an integer from {SOCK_MIN_SNDBUF} to {INT_MAX}"),
    "net.core.wmem_max": (212992, SOCK_MIN_SNDBUF, INT_MAX,
                          f"an integer from {SOCK_MIN_SNDBUF} to {INT_MAX}"),
    "net.core.default_qdisc": ("pfifo_fast", None, None, "pfifo_fast or fq_codel"),
    "net.core.dev_tx_weight": (64, 1, INT_MAX, f"an integer from 1 to {INT_MAX} (packets per "
                               "qdisc run)"),
    "net.ipv4.ip_forward": (0, 0, 1, "0 or 1"),
    # bytes of packets a neighbour holds while it resolves (SK_WMEM_MAX in 6.6)
    "net.ipv4.neigh.default.unres_qlen_bytes": (212992, 0, INT_MAX, f"an integer from 0 to "
                                                f"{INT_MAX} (bytes)"),
}
QDISCS = ("pfifo_fast", "fq_codel")
NEIGH_STATES = ("permanent", "reachable")
TOP_KEYS = {"seed", "duration", "cpus", "kernel", "hz", "profile", "nic", "irq", "sysctl",
            "routes",
            "flows", "apps", "host", "quantum", "observe"}
OBSERVE_KEYS = {"interval", "pcap", "pcap_flows", "pcap_count", "trace", "trace_window",
                "trace_max", "ftrace", "trace_cpus", "trace_sample", "trace_flows",
                "ftrace_packets"}
TRACE_MAX = 1_000_000              # slices per CPU a trace holds unless told
TRACE_SAMPLE = 100                 # a trace follows one packet in this many with arrows
IPTABLES_DROP = ("raw", "filter")  # where host.iptables_drop's rule sits
PCAP_TAPS = ("wire", "host")      # where a capture may sit (observability-formats §4)
PCAP_COUNT = 100_000               # frames per capture file unless told
MAX_PCAP_COUNT = 10_000_000
MAX_INTERVALS = 100_000            # rows per CPU and per flow a time series may hold
AUTO_INTERVALS = 100               # "auto": about this many intervals per run
NIC_KEYS = {"model", "ifname", "combined", "rx_ring", "indir", "hkey", "rx_flow_hash",
            "rx_usecs", "rx_pause", "rx_packet_buffer", "rps_cpus", "rps_flow_cnt", "ntuple",
            "rules", "gro", "adaptive_rx", "adaptive_tx", "tx_ring", "xps_cpus", "txqueuelen", "tx_udp_segmentation",
            "fq_codel", "ports", "napi", "napi_weight", "speed", "int_mode",
            "interrupt_throttle_rate"}
# tc qdisc replace dev eth0 parent :N fq_codel … (every mq child); defaults: fq_codel_init
FQ_CODEL_KEYS = {"limit", "flows", "quantum", "target", "interval", "memory_limit", "ecn",
                 "drop_batch"}
RULE_KEYS = {"flow_type", "proto", "src_ip", "dst_ip", "src_port", "dst_port", "action", "loc"}
FLOW_KEYS = {"name", "proto", "src", "dst", "rate", "size", "arrival", "on", "off", "count",
             "port",
             "start", "stop"}
# request/response flows (netperf UDP_RR): instances, payloads, think time, recv timeout
RR_KEYS = {"name", "proto", "src", "dst", "port", "start", "stop", "instances", "request",
           "response", "think", "timeout", "rto_min"}
RR_PROTOS = ("udp_rr", "tcp_rr")
MAX_RR_INSTANCES = 4096
MAX_RR_PAYLOAD = 1472               # one datagram on a 1500-byte MTU
MAX_TCP_RR_PAYLOAD = 1448           # one segment: 1500 − IP 20 − TCP 20 − timestamps 12
# sk_sndbuf of a TCP socket: net.ipv4.tcp_wmem's default, 16384 (its middle value)
TCP_SNDBUF = 16384
APP_KEYS = {"name", "cpu", "socket", "cost_per_read", "read_size", "migrate", "send",
            "serve"}
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


def _show(value) -> str:
    """repr of a refused value, shortened: a message names it, it does not dump it."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _fail(key: str, value, allowed: str):
    raise ConfigError(f"{key} = {_show(value)}: {allowed}")


def default_experiment_text() -> str:
    return (resources.files("softnet.coordinator") / "default.toml").read_text()


def load_file(path: str | None, what: str = "an experiment file") -> dict:
    """The experiment file as TOML: a regular file of UTF-8 text up to MAX_FILE_BYTES.
    Anything else (a directory, a FIFO, a device, a symlink loop, binary data) is refused
    with the file's name and the reason, never read blindly."""
    if path is None:
        return tomllib.loads(default_experiment_text())
    return _parse(_read_regular(path, what), path, what)


def _parse(data: bytes, path: str, what: str) -> dict:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                          f"{e.start}); {what} is TOML, which is UTF-8")
    raw = _toml(text, f"{path}: not valid TOML")
    _check_depth(raw, path)
    return raw


def _read_regular(path: str, what: str) -> bytes:
    """stat first, so that a FIFO or a device is never opened (opening a FIFO blocks until
    a writer comes); open non-blocking and check again in case the path changed between."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: {_file_kind(st.st_mode)}, not a regular file; give "
                              f"{what} (TOML)")
        if st.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: {st.st_size} bytes; {what} is at most "
                              f"{MAX_FILE_BYTES} bytes (1 MiB)")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"{path}: not a regular file; give {what}")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file ({what} was expected)")
    except OSError as e:
        why = "too many levels of symbolic links (a symlink loop?)" if e.errno == errno.ELOOP \
            else (e.strerror or str(e)).lower()
        raise ConfigError(f"{path}: cannot read {what}: {why}")
    except ValueError as e:                  # a NUL byte in the path
        raise ConfigError(f"{path!r}: not a usable file name ({e})")
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: more than {MAX_FILE_BYTES} bytes; {what} is "
                          "at most 1 MiB")
    return data


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def _toml(text: str, what: str) -> dict:
    """tomllib.loads, every failure a ConfigError: bad syntax, an integer of more digits
    than int() takes (ValueError), nesting deeper than Python's recursion (RecursionError)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{what}: tables or arrays nested too deeply")
    except ValueError as e:            # TOMLDecodeError is a ValueError
        raise ConfigError(f"{what}: {e}")


def _check_depth(value, where: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (iteratively: the check must not recurse)."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: tables or arrays nested more than {MAX_DEPTH} deep")
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)


_INDEX = re.compile(r"[0-9]{1,9}")


def apply_sets(raw: dict, sets: list[str]) -> dict:
    """--set KEY=VALUE. KEY is a dotted path as in TOML (nic.rx_ring, flows.0.rate,
    apps.0.socket.rcvbuf, host.neigh."10.0.0.9"); a sysctl name (net.core.…) goes under
    [sysctl]; IRQs as irq.smp_affinity.eth0-rx-0. VALUE is one TOML value, else (when it is
    not TOML at all) taken as a string."""
    raw = copy.deepcopy(raw)
    for item in sets:
        key, path, value = _parse_set(item)
        node = raw
        for i, p in enumerate(path[:-1]):
            node = _step(node, p, key, path[:i])
        _assign(node, path[-1], value, key, path[:-1])
    return raw


def _parse_set(item: str) -> tuple[str, list[str], object]:
    """KEY=VALUE -> (KEY, its path, the value)."""
    if _bad_text(item):
        raise ConfigError(f"--set {_show(item)}: not valid UTF-8 text")
    if "=" not in item:
        raise ConfigError(f"--set {_show(item)}: expected KEY=VALUE")
    key, text = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {_show(item)}: the key before '=' is empty; e.g. nic.rx_ring=512")
    return key, _set_path(key, item), _set_value(text, item)


def _set_path(key: str, item: str) -> list[str]:
    """A dotted key's components, read as TOML reads a dotted key (quotes allowed)."""
    if key.startswith("sysctl."):       # the file's spelling: sysctl."net.core.x"
        name = key[len("sysctl."):].strip('"')
        if name.startswith("net."):
            key = name
    if key.startswith("net."):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key) or "" in key.split("."):
            raise ConfigError(f"--set {_show(item)}: {key!r} is not a sysctl name")
        return ["sysctl", key]
    if any(unicodedata.category(c) == "Cc" for c in key):
        raise ConfigError(f"--set {_show(item)}: the key has a control character")
    try:
        parsed = tomllib.loads(f"{key} = 0")
    except ValueError:
        raise ConfigError(f"--set {_show(item)}: {key!r} is not a key; give a dotted path such as "
                          "nic.rx_ring or flows.0.rate (no empty parts)")
    path = []
    node = parsed
    while isinstance(node, dict) and len(node) == 1:
        (k, node), = node.items()
        path.append(k)
    if isinstance(node, dict):          # more than one key: not one dotted key
        raise ConfigError(f"--set {_show(item)}: {key!r} is not a key")
    return path


def _set_value(text: str, item: str):
    """Exactly one TOML value; text that is not TOML at all is a string, unless it has a
    newline or NUL (which would be the start of more lines, not one value)."""
    try:
        doc = tomllib.loads(f"v = {text}")
    except RecursionError:
        raise ConfigError(f"--set {_show(item)}: the value is nested too deeply")
    except tomllib.TOMLDecodeError:
        if any(c in text for c in "\n\r\0"):
            raise ConfigError(f"--set {_show(item)}: the value is not one TOML value and has a "
                              "newline or NUL; give one value, e.g. 512, \"50ms\" or [1, 2]")
        return text
    except ValueError as e:            # TOML, but not a value Python reads (a huge integer)
        raise ConfigError(f"--set {_show(item)}: {e}")
    if set(doc) != {"v"}:
        raise ConfigError(f"--set {_show(item)}: the value is more than one TOML value (it sets "
                          f"{', '.join(sorted(doc))}); give one value per --set")
    _check_depth(doc["v"], f"--set {_show(item)}")
    return doc["v"]


def _bad_text(text: str) -> bool:
    """A lone surrogate: bytes that were not UTF-8 on the command line."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _step(node, p: str, key: str, done: list[str]):
    """One component of a --set path before the last: into a table (made if missing) or an
    array element."""
    if isinstance(node, list):
        _check_index(node, p, key, done)
        nxt = node[int(p)]
    else:
        nxt = node.setdefault(p, {})
    if not isinstance(nxt, (dict, list)):
        raise ConfigError(f"--set {key}: {'.'.join(done + [p])} is {_show(nxt)}, not a table "
                          "or an array, so it has no keys")
    return nxt


def _check_index(node: list, p: str, key: str, done: list[str]) -> None:
    if not _INDEX.fullmatch(p) or int(p) >= len(node):
        has = f"0 to {len(node) - 1}" if node else "none"
        raise ConfigError(f"--set {key}: no element {p} in {'.'.join(done)} (elements: {has})")


def _assign(node, last: str, value, key: str, done: list[str]) -> None:
    if isinstance(node, list):
        _check_index(node, last, key, done)
        node[int(last)] = value
    else:
        node[last] = value


def _unknown(section: str, given: dict, allowed) -> None:
    for k, v in given.items():
        if k not in allowed:
            where = f"{section}.{k}" if section else k
            raise ConfigError(f"{where} = {_show(v)}: unknown key; {did_you_mean(k, allowed)}"
                              f"allowed here: {', '.join(sorted(allowed))}")


def _int(key, v, lo=None, hi=None, what=None) -> int:
    """An integer (not a bool, not a float: True == 1 and 1.0 == 1 in Python) in range."""
    bad = isinstance(v, bool) or not isinstance(v, int)
    if bad or (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f" from {lo} to {hi}" if hi is not None and lo is not None else \
            f" ≥ {lo}" if lo is not None else ""
        _fail(key, v, what or f"must be an integer{rng}")
    return v


def _bool(key, v, what: str) -> bool:
    if not isinstance(v, bool):
        _fail(key, v, what)
    return v


def _table(key, v, what: str) -> dict:
    if not isinstance(v, dict):
        _fail(key, v, what)
    return v


def _choice(key, v, choices, what: str | None = None) -> str:
    """A name from a known set; a near miss suggests the nearest one."""
    if not isinstance(v, str) or v not in choices:
        hint = did_you_mean(v, choices)
        _fail(key, v, hint + (what or f"one of {', '.join(choices)}"))
    return v


def _name(key, v) -> str:
    """A flow's or app's name: printable text (it labels results and screens)."""
    if not isinstance(v, str) or not v.strip() or _bad_text(v) or \
            any(unicodedata.category(c) == "Cc" for c in v):
        _fail(key, v, "a non-empty string of printable characters")
    return v


DURATION_FORM = ("not a duration; use a number with ns, us, ms or s (e.g. '50ms', '10us') "
                 "or an integer count of nanoseconds")
RATE_FORM = ("not a rate; use packets per second ('200kpps', '1.5Mpps', '5000pps') or bits "
             "per second ('1Gbit', '500Mbit')")


def _dur(key, v, hi: int = MAX_DURATION_NS, what: str | None = None) -> int:
    try:
        ns = parse_duration(v, key)
    except UnitError:
        _fail(key, v, DURATION_FORM if not isinstance(v, int) or isinstance(v, bool)
              else "must not be negative")
    if ns > hi:
        _fail(key, v, what or f"at most {fmt_ns(hi)} ({hi} ns)")
    return ns


def _pps(key, v, frame_bytes: int) -> float:
    """A rate as packets per second (a bit rate is of Ethernet frames, FCS included),
    inside what the integer-ns clock can represent."""
    try:
        kind, num = parse_rate(v, key)
    except UnitError:
        _fail(key, v, RATE_FORM)
    pps = num if kind == "pps" else num / (frame_bytes * 8)
    if pps <= 0:
        _fail(key, v, "must be greater than 0")
    if pps > MAX_PPS:
        _fail(key, v, f"{pps:.3g} packets/s is one every {1e9 / pps:.3g} ns; simulated time "
              f"counts whole ns, so at most 1000Mpps (one packet per ns)")
    if pps < MIN_PPS:
        _fail(key, v, f"{pps:.3g} packets/s is one every {1 / pps:.3g} s, longer than the "
              f"longest run ({MAX_DURATION_NS // S} s); at least {MIN_PPS:g}pps (for a single "
              "packet give count = 1 and any rate)")
    return pps


_PORT = re.compile(r"[0-9]{1,5}")


def _endpoint(key, text, allow_any=False) -> tuple[str, int]:
    """'ADDRESS:PORT' / '[ADDR]:PORT': the port ASCII digits only (int() would also take
    '+40000', '4_0000' and other scripts' digits)."""
    form = "must be 'ADDRESS:PORT' with an IP address and a port 1-65535 (IPv6 as '[ADDR]:PORT')"
    if not isinstance(text, str):
        _fail(key, text, form)
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    addr = _ip(host)
    if addr is None or not _PORT.fullmatch(port):
        _fail(key, text, form)
    p = int(port)
    if not 0 < p < 65536:
        _fail(key, text, "port must be 1-65535")
    if addr.is_unspecified and not allow_any:
        _fail(key, text, "the address must not be unspecified here")
    return str(addr), p


def _ip(text) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as inet_pton reads it: a string, no zone index (ipaddress takes '%eth0')."""
    if not isinstance(text, str) or "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# bitmap_parse's form: hex digits in comma-separated groups of up to 32 bits (8 digits)
_MASK = re.compile(r"[0-9a-fA-F]{1,8}(?:,[0-9a-fA-F]{1,8})*")
MASK_FORM = ("a hex CPU mask as the kernel reads it: hex digits in comma-separated 32-bit "
             "groups, e.g. \"1\", \"f\" or \"ff,ffffffff\" (no 0x, sign, spaces or _)")


def _mask(key, text) -> tuple[str, int]:
    """(the mask with every group after the first at its full 8 digits, its bits): "1,5" is
    CPU 32 and CPU 0, and the padded form reads the same with the commas taken out."""
    if not isinstance(text, str) or not _MASK.fullmatch(text) or \
            text.count(",") >= NR_CPUS_MAX // 32:
        _fail(key, text, MASK_FORM)
    groups = text.split(",")
    canon = ",".join(groups[:1] + [g.zfill(8) for g in groups[1:]])
    return canon, int(canon.replace(",", ""), 16)


def _beyond_host(checked: list[tuple[str, str, int]], ncpus: int, fix: str) -> None:
    """Refuse masks naming CPUs the host does not have, every such key in one message so
    that a user who lowered `cpus` knows all the keys to change."""
    bad = [f"{k} = {_show(t)} names CPU {bits.bit_length() - 1}"
           for k, t, bits in checked if bits >> ncpus]
    if bad:
        raise ConfigError(f"{', '.join(bad)}, but the host has CPUs 0-{ncpus - 1} "
                          f"(cpus = {ncpus}): {fix}")


def validate(raw: dict, base_dir: str | None = None) -> dict:
    """Check everything; return the resolved experiment with every default filled in.
    `base_dir`: the experiment file's directory, which a profile file is relative to."""
    _unknown("", raw, TOP_KEYS)
    r: dict = {}
    r["seed"] = _int("seed", raw.get("seed", 1), 0, INT64_MAX)
    r["duration"] = raw.get("duration", "50ms")
    r["duration_ns"] = _dur("duration", r["duration"], what=f"at most "
                            f"{MAX_DURATION_NS // S}s of simulated time (softnet's longest run)")
    if r["duration_ns"] <= 0:
        _fail("duration", r["duration"], "must be longer than 0")
    ncpus = r["cpus"] = _int("cpus", raw.get("cpus", 4), 1, MAX_CPUS)
    # Relaxed synchronisation (design §3): cross-CPU deliveries rounded up to a multiple
    # of the quantum. "0" is exact.
    r["quantum"] = q = raw.get("quantum", "0")
    exact = q == "0" or (type(q) is int and q == 0)
    r["quantum_ns"] = 0 if exact else _dur("quantum", q, MS, "0 (exact) or a duration up "
                                           "to 1ms, e.g. \"1us\"")
    if isinstance(raw.get("kernel"), (int, float)):   # kernel = 3.10 unquoted: TOML's 3.1
        _fail("kernel", raw["kernel"], f"a quoted string: kernel = \"3.10\" (unquoted, "
              f"TOML reads a version as a number); supported kernels: {', '.join(KERNELS)}")
    r["kernel"] = _choice("kernel", raw.get("kernel", DEFAULT_KERNEL), KERNELS,
                          f"supported kernels: {', '.join(KERNELS)} (a string: kernel = "
                          "\"3.13\")")
    kern = KERNEL_TABLE[r["kernel"]]
    hz = r["hz"] = raw.get("hz", 1000)
    if type(hz) is not int or hz not in HZ_VALUES:
        _fail("hz", hz, f"CONFIG_HZ must be one of {', '.join(map(str, HZ_VALUES))} (an "
              "integer)")
    (r["profile"], r["_profile_path"], r["_profile_bytes"],
     r["_profile"]) = _profile(raw.get("profile", DEFAULT_PROFILE), base_dir)

    nic_raw = raw.get("nic", {})
    r["nic"] = nic = _validate_nic(nic_raw, ncpus)
    if nic["model"] not in kern.models:
        _fail("nic.model", nic["model"], f"not modelled on kernel {kern.name}; models on "
              f"{kern.name}: {', '.join(m for m in available_models() if m in kern.models)}")
    r["irq"] = {"smp_affinity": _validate_affinity(raw.get("irq", {}), nic, ncpus)}
    r["sysctl"] = _validate_sysctl(raw.get("sysctl", {}), hz, ncpus, kern)
    if "fq_codel" in nic_raw and not kern.pfifo_fast_nolock:
        _fail("nic.fq_codel", nic_raw["fq_codel"], f"kernel {kern.name}'s fq_codel is not "
              "modelled (only its pfifo_fast is); use kernel = \"6.6\"")
    _validate_fq_codel(nic_raw.get("fq_codel"), nic, r["sysctl"]["net.core.default_qdisc"])
    r["host"] = host = _validate_host(raw.get("host", {}))
    r["flows"] = _validate_flows(raw.get("flows", []), r["duration_ns"], nic)
    r["routes"] = _validate_routes(raw.get("routes", []), nic)
    r["apps"] = _tcp_rr_servers(_validate_apps(raw.get("apps", []), ncpus, host,
                                               r["sysctl"], r["duration_ns"]), r["flows"])
    _check_kernel_features(raw, kern)
    _check_offered(r, r["_profile"]["costs"]["udp_sendmsg"])
    r["observe"] = _validate_observe(raw.get("observe", {}), r["duration_ns"], r["flows"],
                                     ncpus, [a["name"] for a in r["apps"] if a.get("sender")])
    return r


def _check_kernel_features(raw: dict, kern: Kernel) -> None:
    """Refuse what the chosen kernel does not have (or softnet does not model on it),
    naming the key that asked for it."""
    later = f'use kernel = "{DEFAULT_KERNEL}"'
    nic = raw.get("nic", {})
    if not kern.ntuple:
        for k in ("ntuple", "rules"):
            if nic.get(k):
                _fail(f"nic.{k}", nic[k], f"the drivers of kernel {kern.name} have no "
                      f"ethtool -N flow rules (igb's came later); {later}")
    for i, f in enumerate(raw.get("flows", [])):
        proto = f.get("proto", "udp")
        if not kern.tcp and proto in ("tcp", "tcp_rr"):
            _fail(f"flows[{i}].proto", proto, f"TCP on kernel {kern.name} is not modelled "
                  f"(its receive path runs through the prequeue); UDP flows are, or {later}")
    for i, a in enumerate(raw.get("apps", [])):
        s = a.get("socket", {})
        key = f"apps[{i}].socket"
        if not kern.tcp and s.get("proto") == "tcp":
            _fail(f"{key}.proto", "tcp", f"TCP on kernel {kern.name} is not modelled (its "
                  f"receive path runs through the prequeue); UDP sockets are, or {later}")
        if not kern.udp_gro and s.get("udp_gro"):
            _fail(f"{key}.udp_gro", True, f"kernel {kern.name} has no UDP_GRO socket "
                  f"option (it came in 5.0); {later}")
        if not kern.udp_gso and s.get("udp_segment"):
            _fail(f"{key}.udp_segment", s["udp_segment"], f"kernel {kern.name} has no "
                  f"UDP_SEGMENT socket option (UDP GSO came in 4.18); 0, or {later}")


def _validate_observe(o, duration_ns: int, flows: list[dict], ncpus: int,
                      senders: list[str]) -> dict:
    """What a run records besides its totals; everything off unless asked for."""
    o = _table("observe", o, "a table: [observe] interval = \"1ms\"")
    _unknown("observe", o, OBSERVE_KEYS)
    out = _validate_interval(o, duration_ns)
    taps = o.get("pcap", "off")
    if isinstance(taps, str) and taps != "off":
        taps = [t.strip() for t in taps.split(",")]
    what = (f"\"off\" or a list of taps from: {', '.join(PCAP_TAPS)} (e.g. pcap = "
            "[\"wire\"], or --pcap wire)")
    if taps == "off":
        taps = []
    elif not isinstance(taps, list) or not taps or \
            any(not isinstance(t, str) or t not in PCAP_TAPS for t in taps) or \
            len(set(taps)) != len(taps):
        _fail("observe.pcap", taps, what)
    out["pcap"] = taps
    if taps and any(f.get("rr", {}).get("proto") == "tcp_rr" for f in flows):
        _fail("observe.pcap", taps, "\"off\" with a tcp_rr flow: its segments' sequence "
              "numbers and pure ACKs are not written to pcap yet")
    names = [f["name"] for f in flows]
    sel = o.get("pcap_flows", [])
    if not isinstance(sel, list) or any(not isinstance(n, str) for n in sel):
        _fail("observe.pcap_flows", sel, "a list of flow names (empty: every flow)")
    for n in sel:
        if n not in names:
            _fail("observe.pcap_flows", n, f"a flow of this experiment: {', '.join(names)}")
    out["pcap_flows"] = sel
    out["pcap_count"] = _int("observe.pcap_count", o.get("pcap_count", PCAP_COUNT), 1,
                             MAX_PCAP_COUNT)
    out["trace"] = _bool("observe.trace", o.get("trace", False), "true or false")
    out["ftrace"] = _bool("observe.ftrace", o.get("ftrace", False), "true or false")
    win = o.get("trace_window")                   # none: the whole run
    t0, t1 = 0, duration_ns
    if win is not None:
        if not isinstance(win, list) or len(win) != 2:
            _fail("observe.trace_window", win, "[start, end] as durations from the run's "
                  "start, e.g. [\"1ms\", \"2ms\"]")
        t0 = _dur("observe.trace_window", win[0], duration_ns)
        t1 = _dur("observe.trace_window", win[1], duration_ns)
        if t1 <= t0:
            _fail("observe.trace_window", win, "the end must come after the start")
    out["trace_window_ns"] = [t0, t1]
    out["trace_window"] = o.get("trace_window")      # None: the whole run, however long
    out["trace_max"] = _int("observe.trace_max", o.get("trace_max", TRACE_MAX), 1,
                            100_000_000)
    cpus = o.get("trace_cpus")
    if cpus is not None and (not isinstance(cpus, list) or not cpus or any(
            type(c) is not int or not 0 <= c < ncpus for c in cpus) or
            len(set(cpus)) != len(cpus)):
        _fail("observe.trace_cpus", cpus, f"a list of CPUs from 0 to {ncpus - 1}, each once "
              "(e.g. [0, 2]); without it every CPU")
    out["trace_cpus"] = sorted(cpus) if cpus is not None else None
    out["trace_sample"] = _int("observe.trace_sample", o.get("trace_sample", TRACE_SAMPLE),
                               0, 1 << 40)
    tsel = o.get("trace_flows")
    if tsel is not None:
        known = names + senders
        if not isinstance(tsel, list) or not tsel or \
                any(not isinstance(n, str) for n in tsel) or len(set(tsel)) != len(tsel):
            _fail("observe.trace_flows", tsel, "a list of flow or sender names, each once "
                  "(e.g. [\"f0\"]); without it every flow and sender")
        for n in tsel:
            if n not in known:
                _fail("observe.trace_flows", n, "a flow or sender of this experiment: "
                      + ", ".join(known))
    out["trace_flows"] = tsel
    npk = o.get("ftrace_packets")
    if npk is not None:
        npk = _int("observe.ftrace_packets", npk, 1, 100_000)
        if not out["ftrace"]:
            _fail("observe.ftrace_packets", npk, "needs ftrace = true")
        if out["trace_sample"] == 0:
            _fail("observe.trace_sample", 0, "at least 1 with ftrace_packets (the packets "
                  "are chosen one in trace_sample)")
    out["ftrace_packets"] = npk
    if ("trace_window" in o or "trace_max" in o or cpus is not None or
            "trace_sample" in o or tsel is not None) and \
            not (out["trace"] or out["ftrace"]):
        _fail("observe.trace", False, "trace_window, trace_max, trace_cpus, trace_sample "
              "and trace_flows need trace = true or ftrace = true")
    if (out["pcap_flows"] or "pcap_count" in o) and not taps:
        _fail("observe.pcap", "off", "pcap_flows and pcap_count need a tap: pcap = "
              "[\"wire\"]")
    return out


def _validate_interval(o: dict, duration_ns: int) -> dict:
    interval = o.get("interval", "off")
    if interval == "off":
        return {"interval": "off", "interval_ns": 0}
    if interval == "auto":
        ns = auto_interval(duration_ns)
    else:
        what = (f"\"off\", \"auto\" or a duration from 1us to the run's duration "
                f"({fmt_ns(duration_ns)}), e.g. \"1ms\"")
        ns = _dur("observe.interval", interval, duration_ns, what)
        if ns < 1_000:
            _fail("observe.interval", interval, what)
    if -(-duration_ns // ns) > MAX_INTERVALS:
        _fail("observe.interval", interval, f"at most {MAX_INTERVALS} intervals per run: "
              f"at least {fmt_ns(-(-duration_ns // MAX_INTERVALS))} for "
              f"{fmt_ns(duration_ns)}")
    return {"interval": interval, "interval_ns": ns}


def auto_interval(duration_ns: int) -> int:
    """About AUTO_INTERVALS intervals per run, on a 1-2-5 step (and at least 1 µs)."""
    target = max(duration_ns // AUTO_INTERVALS, 1_000)
    best, step = 1_000, 1_000
    while step <= target:
        for m in (1, 2, 5):
            if step * m <= target:
                best = step * m
        step *= 10
    return best


def _check_offered(r: dict, sendmsg_ns: int) -> None:
    """Refuse a run that would offer more than MAX_PACKETS packets: it could not finish."""
    parts = [(f"flows[{i}].rate", f["rate"], _flow_packets(f, r["duration_ns"]))
             for i, f in enumerate(r["flows"]) if "rr" not in f]
    # a closed loop: its requests and responses, at most one transaction per sendmsg
    # of the server's (whatever its instances, the server answers one at a time)
    rr = {f["rr"]["group"]: f for f in r["flows"] if "rr" in f}
    parts += [(f"flows ({g})", "closed loop", 2 * _sender_packets(
        {"stop_ns": f["stop_ns"], "start_ns": f["start_ns"], "interval_ns": 0,
         "count": None, "frames": 1}, r["duration_ns"], sendmsg_ns))
        for g, f in rr.items()]
    parts += [(f"apps[{i}].send.rate", a["send"].get("rate"),
               _sender_packets(a, r["duration_ns"], sendmsg_ns))
              for i, a in enumerate(r["apps"]) if a.get("sender")]
    total = sum(n for _, _, n in parts)
    if total > MAX_PACKETS:
        top = sorted(parts, key=lambda x: -x[2])[:3]
        each = ", ".join(f"{k} = {_show(v)}: {n:,.0f}" for k, v, n in top if n)
        _fail("duration", r["duration"], f"the run would offer about {total:,.0f} packets "
              f"({each}); softnet runs at most {MAX_PACKETS:,} (all flows and senders "
              "together): shorten the duration, lower a rate or give a count")


def _flow_packets(f: dict, duration_ns: int) -> float:
    """About how many packets a flow offers (nic/traffic.py's schedule)."""
    stop = duration_ns if f["stop_ns"] is None else min(f["stop_ns"], duration_ns)
    active = max(0, stop - f["start_ns"])
    period = S / f["pps"]
    if f["arrival"] == "onoff":
        bursts = math.ceil(active / (f["on_ns"] + f["off_ns"]))
        n = bursts * max(1, math.ceil(f["on_ns"] / period))
    else:
        n = active / period + 1
    return n if f["count"] is None else min(n, f["count"])


def _sender_packets(a: dict, duration_ns: int, sendmsg_ns: int) -> float:
    """About how many frames a sender puts on the wire: its rate over its active time; one
    without a rate sends back to back, at most one sendmsg per udp_sendmsg cost."""
    stop = duration_ns if a["stop_ns"] is None else min(a["stop_ns"], duration_ns)
    sends = max(0, stop - a["start_ns"]) / (a["interval_ns"] or max(1, sendmsg_ns)) + 1
    if a["count"] is not None:
        sends = min(sends, a["count"])
    return sends * a["frames"]


def _adaptive(n: dict, model: dict, d: str) -> bool:
    """nic.adaptive_rx / adaptive_tx (ethtool -C adaptive-rx|tx): a device whose driver
    runs net_dim on that container defaults to its own setting; others refuse the key."""
    key = f"adaptive_{d}"
    if f"dim_{d}_profile" in model:
        return _bool(f"nic.{key}", n.get(key, model[f"{key}_default"]),
                     f"true or false (ethtool -C eth0 adaptive-{d} on|off)")
    if key in n:
        _fail(f"nic.{key}", n[key], f"{model['driver']} has no adaptive-{d} (ethtool: "
              "Operation not supported); its dynamic ITR is rx_usecs = "
              + ("1" if model.get("itr") == "ixgbe" else "1 or 3") + ", for RX and TX alike")
    return False


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
        # tc passes both as u32 µs
        if _dur(f"nic.fq_codel.{k}", v, U32_MAX * 1000, "a duration from 1us to "
                f"{U32_MAX}us (tc's u32 of µs)") < 1000:
            _fail(f"nic.fq_codel.{k}", v, "a duration of at least 1us (tc's unit)")
        out[k] = v
    out["memory_limit"] = _int("nic.fq_codel.memory_limit", f.get("memory_limit", 32 << 20),
                               1, 1 << 31, "an integer from 1 to 2147483648 (bytes)")
    out["ecn"] = ecn = _bool("nic.fq_codel.ecn", f.get("ecn", True), "true or false "
                             "(ecn | noecn)")
    out["drop_batch"] = _int("nic.fq_codel.drop_batch", f.get("drop_batch", 64), 1,
                             (1 << 32) - 1, "an integer ≥ 1")
    nic["fq_codel"] = out
    nic["_fq_codel"] = {"limit": out["limit"], "flows": out["flows"],
                        "quantum": out["quantum"],
                        "target_us": _dur("", out["target"]) // 1000,
                        "interval_us": _dur("", out["interval"]) // 1000,
                        "memory_limit": out["memory_limit"], "ecn": ecn,
                        "drop_batch": out["drop_batch"]}


def _profile(given, base_dir: str | None) -> tuple[str, str | None, bytes | None, dict]:
    """(as given, file path or None, the file's bytes or None, the checked profile): a
    shipped profile by name, or a user's profile file (a name ending in .toml, relative
    to the experiment file), held to the same checks. The bytes are what the run costs
    with: the run directory keeps them."""
    if isinstance(given, str) and given.endswith(".toml"):
        path = os.path.join(base_dir or os.getcwd(), given)
        data = _read_regular(path, "a cost profile file")
        raw = _parse(data, path, "a cost profile file")
        try:
            return given, os.path.abspath(path), data, check_profile(raw, given)
        except ProfileError as e:
            _fail("profile", given, str(e))
    # a shipped profile by name: never a path (load_profile would follow '..' or '/')
    name = _choice("profile", given, available_profiles(), "cost profiles: "
                   f"{', '.join(available_profiles())}, or a profile file of your own "
                   "(its name ending in .toml, relative to the experiment file)")
    try:
        return name, None, None, load_profile(name)
    except ProfileError as e:
        _fail("profile", name, str(e))


def _validate_nic(n: dict, ncpus: int) -> dict:
    _table("nic", n, "must be a table")
    _unknown("nic", n, NIC_KEYS)
    out: dict = {}
    name = _choice("nic.model", n.get("model", "i350"), available_models(),
                   f"available device models: {', '.join(available_models())}")
    model = load_model(name)
    out["model"] = name
    out["ifname"] = _ifname("nic.ifname", n.get("ifname", "eth0"))
    # ethtool -s eth0 speed N (autoneg off): the port's line rate, in Mb/s
    speeds = model["speeds"]
    speed = n.get("speed", speeds[-1])
    if type(speed) is not int or speed not in speeds:
        _fail("nic.speed", speed, f"{name} links at {', '.join(map(str, speeds))} Mb/s "
              "(an integer)")
    out["speed"] = speed
    out["line_rate_bps"] = speed * 10**6
    # the interrupt capability the probe ends with (e1000e's IntMode, pci=nomsi)
    modes = model["int_modes"]
    out["int_mode"] = mode = n.get("int_mode", modes[0])
    if mode not in modes:
        _fail("nic.int_mode", mode, f"{name} ({model['driver']}) offers "
              f"{', '.join(repr(m) for m in modes)}"
              + ("" if len(modes) > 1 else ": its driver needs MSI-X to probe"))
    maxq = model["max_rss_queues"]
    why = f"{name} supports {maxq} RSS queues"
    if mode != "msix":
        maxq, why = 1, f"without MSI-X {model['driver']} uses one queue pair"
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
    if not isinstance(indir, str):
        _fail("nic.indir", indir, "a string: 'equal N', 'weight W0 W1 …' or 'default'")
    try:
        # ixgbe_set_rxfh refuses an index past its RSS indices (at most 16 on the 82599)
        table = parse_indir(indir, model["reta_size"],
                            min(out["combined"], model.get("rss_indices_max", out["combined"])))
    except ValueError as e:
        _fail("nic.indir", indir, str(e))
    out["indir"] = indir
    out["reta"] = table or None
    hkey = n.get("hkey")
    if hkey is not None:
        if not isinstance(hkey, str):
            _fail("nic.hkey", hkey, "a string of colon-separated hex bytes (e.g. '6d:5a:…')")
        try:
            key = parse_hkey(hkey)
        except ValueError as e:
            _fail("nic.hkey", hkey, str(e))
        if len(key) != model["rss_key_bytes"]:
            _fail("nic.hkey", hkey, f"{name} takes a {model['rss_key_bytes']}-byte key "
                  f"(got {len(key)} bytes)")
    out["hkey"] = hkey
    out["rx_flow_hash"] = _rx_flow_hash(n.get("rx_flow_hash", {}), model)
    for d in ("rx", "tx"):
        out[f"adaptive_{d}"] = _adaptive(n, model, d)
    if out["adaptive_rx"] and "rx_usecs" in n:
        # ice_set_rc_coalesce: "interrupt throttling cannot be changed if adaptive-rx is
        # enabled" (-EINVAL)
        _fail("nic.rx_usecs", n["rx_usecs"], f"{model['driver']} refuses rx-usecs while "
              "adaptive-rx is on (net_dim sets the ITR); add nic.adaptive_rx = false")
    if model.get("itr") == "fixed":
        # ice with a static ITR: 2 µs granularity, odd values rounded down (ITR_REG_ALIGN)
        gran, top = model["itr_granularity"], model["itr_max"]
        usecs = _int("nic.rx_usecs", n.get("rx_usecs", model["itr_setting_default"]), gran,
                     top, f"{model['driver']} (adaptive-rx off): {gran}-{top} µs; 0 (no "
                     "moderation) is not modelled")
        usecs -= usecs % gran
    elif model.get("itr") == "ixgbe":
        # ixgbe_set_coalesce: 0 off, 1 adaptive, else usecs up to IXGBE_MAX_EITR >> 2
        top = model["itr_max_usecs"]
        usecs = _int("nic.rx_usecs", n.get("rx_usecs", model["itr_setting_default"]), 0,
                     top, f"ixgbe accepts 0 (off), 1 (adaptive) or 2-{top} µs")
    else:
        usecs = _int("nic.rx_usecs", n.get("rx_usecs", model["itr_setting_default"]), 0,
                     10000)
        if usecs == 2 or 3 < usecs < 10:
            # e1000e's 4 is its simplified mode, set from the watchdog: not modelled
            _fail("nic.rx_usecs", usecs, f"{model['driver']} accepts 0 (off), 1 (dynamic), "
                  "3 (dynamic conservative) or 10-10000 µs"
                  + (" (4, the simplified mode, is not modelled)"
                     if model.get("itr") == "e1000e" else ""))
    out["rx_usecs"] = usecs
    out["_rx_usecs_given"] = "rx_usecs" in n
    # e1000e's InterruptThrottleRate module parameter (param.c), read at probe; an ethtool
    # rx-usecs given too comes later and wins
    itr_param = n.get("interrupt_throttle_rate")
    if itr_param is not None:
        if model.get("itr") != "e1000e":
            _fail("nic.interrupt_throttle_rate", itr_param, "e1000e's module parameter "
                  f"(nic.model = \"82574l\"); {model['driver']} takes nic.rx_usecs")
        if type(itr_param) is not int or not (itr_param in (0, 1, 3)
                                               or 100 <= itr_param <= 100000):
            _fail("nic.interrupt_throttle_rate", itr_param, "0 (off), 1 (dynamic), 3 "
                  "(dynamic conservative) or 100-100000 interrupts/s (e1000e takes 2 as 3 "
                  "with \"Invalid mode - setting default\"; 4, the simplified mode, is not "
                  "modelled)")
    out["interrupt_throttle_rate"] = itr_param
    out["rx_pause"] = _bool("nic.rx_pause", n.get("rx_pause", False), "true or false "
                            "(ethtool -A eth0 rx on|off)")
    if "rx_packet_buffer" in model:
        out["rx_packet_buffer"] = _int("nic.rx_packet_buffer",
                                       n.get("rx_packet_buffer", model["rx_packet_buffer"]),
                                       2048, 1 << 20)
    elif "rx_packet_buffer" in n:
        _fail("nic.rx_packet_buffer", n["rx_packet_buffer"], f"{name} drops a frame with no "
              "free descriptor at its queue; softnet has no packet-buffer model for it")
    out["rps_cpus"] = _queue_masks(n, "rps_cpus", "rx", out["combined"], ncpus)
    cnt = _table("nic.rps_flow_cnt", n.get("rps_flow_cnt", {}), 'a table such as '
                 '{ "rx-0" = 2048 }')
    out["rps_flow_cnt"] = {}
    for q, v in cnt.items():
        key = f"nic.rps_flow_cnt.{q}"
        _queue_name(key, v, q, "rx", out["combined"])
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
    uso = _bool("nic.tx_udp_segmentation", n.get("tx_udp_segmentation",
                model.get("gso_udp_l4", False)), "true or false (ethtool -K eth0 "
                "tx-udp-segmentation on|off)")
    if uso and not model.get("gso_udp_l4", False):
        _fail("nic.tx_udp_segmentation", uso, f"{name} cannot segment UDP (no "
              "NETIF_F_GSO_UDP_L4 in hw_features)")
    out["tx_udp_segmentation"] = uso
    out["xps_cpus"] = _queue_masks(n, "xps_cpus", "tx", out["combined"], ncpus)
    out["gro"] = _bool("nic.gro", n.get("gro", True), "true or false (ethtool -K eth0 gro "
                       "on|off)")
    # a driver built without NAPI: the hard IRQ hands every frame to netif_rx
    out["napi"] = _bool("nic.napi", n.get("napi", True), "true (NAPI polling, the default) "
                        "or false (interrupt-driven receive: netif_rx from the hard IRQ)")
    # the driver's netif_napi_add weight: fixed in igb and ice (NAPI_POLL_WEIGHT), so
    # another value is a rebuilt driver, as polling-quota experiments use
    out["napi_weight"] = _int("nic.napi_weight", n.get("napi_weight", model["napi_weight"]),
                              1, 64, "an integer from 1 to 64 (the NAPI poll's quota; "
                              "netif_napi_add warns above NAPI_POLL_WEIGHT, 64)")
    if not out["napi"]:
        if "napi_weight" in n:
            _fail("nic.napi_weight", n["napi_weight"], "a NAPI poll's quota, and nic.napi "
                  "= false has no NAPI (its backlog's quota is net.core.dev_weight)")
        on = [f"nic.adaptive_{d}" for d in ("rx", "tx") if out[f"adaptive_{d}"]]
        if on:
            _fail("nic.napi", False, f"{model['driver']} runs net_dim from its NAPI poll, so "
                  f"interrupt-driven receive needs a fixed ITR: add {' = false and '.join(on)}"
                  " = false (and rx_usecs if not the default)")
    nports = n.get("ports", 1)
    maxp = model.get("ports", 1)
    out["ports"] = _int("nic.ports", nports, 1, maxp,
                        f"1 to {maxp} ({name} has {maxp} port{'s' if maxp > 1 else ''})")
    out["port_names"] = port_names(out["ifname"], out["ports"])
    long = [p for p in out["port_names"] if len(p.encode()) > IFNAMSIZ - 1]
    if long:
        _fail("nic.ifname", out["ifname"], f"with ports = {out['ports']} the ports are named "
              f"{', '.join(out['port_names'])}; {long[0]} is longer than {IFNAMSIZ - 1} bytes")
    if out["ports"] > 1 and out["int_mode"] != "msix":
        _fail("nic.int_mode", out["int_mode"], "\"msix\" with more than one port (each "
              "port's own INTx or MSI line is not modelled)")
    if out["ports"] > 1 and model.get("ntuple", {}).get("arfs"):
        _fail("nic.ports", nports, f"one port with {name} (its aRFS is modelled for one)")
    out["_model"] = model
    return out



def _rx_flow_hash(given, model: dict) -> dict:
    """ethtool -N eth0 rx-flow-hash TYPE FIELDS, for the types and field sets the driver
    accepts."""
    fh = dict(model["rx_flow_hash_default"])
    allowed = model["rx_flow_hash_allowed"]
    _table("nic.rx_flow_hash", given, "a table such as { udp4 = \"sdfn\" }")
    for ft, fields in given.items():
        key = f"nic.rx_flow_hash.{ft}"
        if ft not in allowed:
            _fail(key, fields, f"unknown flow type; {did_you_mean(ft, allowed)}flow types: "
                  f"{', '.join(allowed)}")
        fh[ft] = _choice(key, fields, allowed[ft], f"{model['name']} accepts "
                         f"{' or '.join(allowed[ft])}")
    return fh


_QUEUE = re.compile(r"(rx|tx)-(0|[1-9][0-9]{0,5})")


def _queue_name(key: str, value, q: str, kind: str, combined: int) -> int:
    """A queue's sysfs name, rx-N or tx-N (N in ASCII, no leading zeros), of an existing
    queue; returns N."""
    m = _QUEUE.fullmatch(q)
    if not m or m.group(1) != kind or int(m.group(2)) >= combined:
        _fail(key, value, f"{kind.upper()} queues are {kind}-0 … {kind}-{combined - 1}")
    return int(m.group(2))


def _queue_masks(n: dict, name: str, kind: str, combined: int, ncpus: int) -> dict:
    """`nic.rps_cpus` / `nic.xps_cpus`: a CPU mask per queue (`rx-N` / `tx-N`), as in
    /sys/class/net/eth0/queues/<queue>/<name>; a mask of "0" turns the queue's map off."""
    table = _table(f"nic.{name}", n.get(name, {}), f'a table such as {{ "{kind}-0" = "1" }}')
    out, checked = {}, []
    for q, mask in table.items():
        key = f"nic.{name}.{q}"
        _queue_name(key, mask, q, kind, combined)
        canon, bits = _mask(key, mask)
        if bits:
            checked.append((key, mask, bits))
            out[q] = canon
        elif kind == "tx":
            out[q] = canon      # kept: it clears a map the driver would set (ice, ixgbe)
    _beyond_host(checked, ncpus, f"change these nic.{name} masks (\"0\" turns a queue's "
                 "map off)")
    return out


IFNAMSIZ = 16


def _ifname(key: str, v) -> str:
    """dev_valid_name: 1 to IFNAMSIZ - 1 bytes, not "." or "..", and no '/', ':', NUL or
    whitespace (the kernel's isspace, which counts 0xa0 too); such names would also break
    the lines of /proc/net/dev."""
    if not isinstance(v, str) or _bad_text(v):
        _fail(key, v, "an interface name (a string)")
    b = v.encode()
    if not 1 <= len(b) <= IFNAMSIZ - 1 or v in (".", "..") or \
            any(c in b"/: \t\n\v\f\r\0\xa0" for c in b):
        _fail(key, v, f"an interface name of 1-{IFNAMSIZ - 1} bytes without '/', ':', "
              "whitespace or NUL, and not '.' or '..' (dev_valid_name)")
    return v


def _validate_rules(n: dict, model: dict, nq: int) -> tuple[bool, list[dict]]:
    """`ntuple` (ethtool -K eth0 ntuple on|off) and [[nic.rules]] (ethtool -U eth0 …),
    checked as the device's driver checks them (capabilities in the device file)."""
    cap = model.get("ntuple", {})
    name = model["name"]
    nt = _bool("nic.ntuple", n.get("ntuple", cap.get("default", False)), "true or false "
               "(ethtool -K eth0 ntuple on|off)")
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
        if not isinstance(ft, str) or ft not in cap.get("flow_types", []):
            hint = ""
            if ft in L4_FLOW_TYPES and not cap.get("arfs"):
                hint = (f"; {model['driver']} refuses L3/L4 rules (EINVAL), and aRFS needs a "
                        "device with L4 filters and ndo_rx_flow_steer, such as "
                        "model = \"e810\" (ice)")
            _fail(f"{key}.flow_type", ft, did_you_mean(ft, cap.get("flow_types", [])) +
                  f"{name} accepts flow_type {', '.join(cap.get('flow_types', []))}{hint}")
        out = {"flow_type": ft}
        if ft == "ether":
            for k in ("src_ip", "dst_ip", "src_port", "dst_port"):
                if k in r:
                    _fail(f"{key}.{k}", r[k], "an ether rule matches only proto (EtherType)")
            proto = r.get("proto")
            if isinstance(proto, str) and _ETYPE.fullmatch(proto):   # ethtool's get_u16
                proto = int(proto, 0)
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


_ETYPE = re.compile(r"0[xX][0-9a-fA-F]{1,4}|[1-9][0-9]{0,4}")
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
            a = _ip(r[k])
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
    _table("irq", irq, "a table with an smp_affinity table")
    _unknown("irq", irq, {"smp_affinity"})
    given = _table("irq.smp_affinity", irq.get("smp_affinity", {}), "a table of IRQ "
                   "names and hex CPU masks, e.g. { \"eth0-rx-0\" = \"1\" }")
    ports = nic.get("port_names", [nic["ifname"]])
    # the names of the vectors the probe ends with (one per port without MSI-X)
    names = [v.name for pn in ports
             for v in vector_layout(nic["_model"], pn, nic["combined"], nic["int_mode"])]
    out: dict[str, str] = {}
    aliased: list[str] = []
    checked = []
    for name, mask in given.items():
        key = f"irq.smp_affinity.{name}"
        canon, bits = _mask(key, mask)
        if not bits:
            _fail(key, mask, "names no CPU; an IRQ needs at least one")
        checked.append((key, mask, bits))
        if name in names:
            out[name] = canon
            continue
        pair = (_txrx_alias(name, ports, names)
                if nic["_model"]["queue_pairs"] == "when_over_half" else None)
        if pair is None:
            _fail(key, mask, f"no such IRQ; {did_you_mean(name, names)}the NIC has: "
                  f"{', '.join(names)}")
        for v in pair:
            out.setdefault(v, canon)
        aliased.append(name)
    _beyond_host(checked, ncpus, "change these irq.smp_affinity keys, or remove them to "
                 "leave their IRQs to the default spread")
    nic["_notes"] = [] if not aliased else [
        f"{nic['model']} with {nic['combined']} queues does not pair queues (igb pairs only "
        f"above {nic['_model']['max_rss_queues'] // 2}): the affinity of "
        f"{', '.join(aliased)} was applied to the -rx- and -tx- vectors of the same queue"]
    return out


def _txrx_alias(name: str, ports: list[str], names: list[str]) -> tuple[str, str] | None:
    """igb pairs queues only above half its maximum: "<if>-TxRx-N" then means both
    vectors of queue N."""
    for pn in ports:
        m = re.fullmatch(re.escape(pn) + r"-TxRx-(0|[1-9][0-9]{0,5})", name)
        if m:
            rx, tx = f"{pn}-rx-{m.group(1)}", f"{pn}-tx-{m.group(1)}"
            if rx in names and tx in names:
                return rx, tx
    return None


def _validate_sysctl(s: dict, hz: int, ncpus: int, kern: Kernel) -> dict:
    """Every modelled sysctl's value. A name the kernel's tables lack is refused as its
    sysctl would refuse it (no such file); what such a kernel hard-codes instead is filled
    in under the later name, for the CPUs (`user_view` leaves it out)."""
    _table("sysctl", s, "a table of sysctl names")
    for k, v in s.items():
        if k not in SYSCTLS:
            quote = "" if "." in k else ('; a sysctl name is one quoted key, e.g. '
                                         '"net.core.netdev_budget" = 600')
            _fail(f'sysctl."{k}"', v, f"unknown sysctl{quote}; {did_you_mean(k, SYSCTLS)}"
                  f"supported: {', '.join(SYSCTLS)}")
        if k not in kern.sysctls:
            _fail(f'sysctl."{k}"', v, f"kernel {kern.name} has no such sysctl (it came "
                  f"later); {kern.name}'s: {', '.join(n for n in SYSCTLS if n in kern.sysctls)}")
    out = {}
    for k in SYSCTLS:
        out[k] = _sysctl(k, s, hz, ncpus, kern)
    if "net.core.netdev_budget_usecs" not in kern.sysctls:
        out["net.core.netdev_budget_usecs"] = 2 * 1_000_000 // hz    # time_limit = jiffies + 2
    if "net.core.gro_normal_batch" not in kern.sysctls:
        out["net.core.gro_normal_batch"] = 1        # each skb up the stack at once
    # __qdisc_run's quota: weight_p (dev_weight) before dev_tx_weight existed
    out["net.core.dev_tx_weight"] = out[kern.qdisc_quota_sysctl]
    return out


def kernel_sysctls(r: dict) -> dict:
    """The sysctls of the run's kernel, as its /proc/sys has them (for config.toml)."""
    have = KERNEL_TABLE[r["kernel"]].sysctls
    return {k: v for k, v in r["sysctl"].items() if k in have}


_TCP_RMEM = re.compile(r"[ \t]*([0-9]{1,10})[ \t]+([0-9]{1,10})[ \t]+([0-9]{1,10})[ \t]*")


def _sysctl(k: str, s: dict, hz: int, ncpus: int, kern: Kernel):
    """One sysctl's value, checked as its proc handler checks a write."""
    default, lo, hi, what = SYSCTLS[k]
    key = f'sysctl."{k}"'
    v = s.get(k, default)
    if k == "net.core.flow_limit_cpu_bitmap":
        canon, bits = _mask(key, v)
        _beyond_host([(key, v, bits)], ncpus, "name CPUs of the host, or \"0\" for none")
        return canon
    if k == "net.core.default_qdisc":
        if not kern.pfifo_fast_nolock:
            return _choice(key, v, ("pfifo_fast",), f"pfifo_fast: kernel {kern.name}'s "
                           "other qdiscs are not modelled")
        return _choice(key, v, QDISCS, "pfifo_fast (the 6.6 default) or fq_codel; other "
                       "qdiscs are not modelled")
    if k == "net.ipv4.tcp_rmem":
        m = _TCP_RMEM.fullmatch(v) if isinstance(v, str) else None
        nums = [int(x) for x in m.groups()] if m else []
        if not nums or not 1 <= nums[0] <= nums[1] <= nums[2] <= INT_MAX:
            _fail(key, v, 'three integers "min default max" with 1 ≤ min ≤ default ≤ max ≤ '
                  f'{INT_MAX}, e.g. "4096 131072 6291456"')
        return v
    if k == "net.core.netdev_budget_usecs":
        min_usecs = 2 * 1_000_000 // hz
        return _int(key, s.get(k, min_usecs), min_usecs, hi, f"must be an integer from "
                    f"{min_usecs} (2 jiffies at HZ={hz}; 6.6's minimum) to {hi}")
    v = _int(key, v, lo, hi, f"must be {what}")
    if k == "net.core.flow_limit_table_len" and v & (v - 1):
        _fail(key, v, f"must be {what}: flow_limit_table_len_sysctl refuses other values "
              "(EINVAL)")
    return v


def _validate_host(h: dict) -> dict:
    _table("host", h, "a table")
    _unknown("host", h, {"addresses", "neigh", "arp_reply_delay", "iptables_drop"})
    addrs = h.get("addresses", ["10.0.0.1"])
    if not isinstance(addrs, list) or not addrs:
        _fail("host.addresses", addrs, "a non-empty list of the host's IP addresses")
    out = []
    for a in addrs:
        ip = _ip(a)
        if ip is None:
            _fail("host.addresses", a, "IP addresses as strings, e.g. [\"10.0.0.1\"]")
        out.append(str(ip))
    # the neighbour table at the start: `ip neigh add 10.0.0.9 lladdr … nud permanent`;
    # any other next hop starts unresolved and is resolved with ARP on first use
    neigh = _table("host.neigh", h.get("neigh", {}), 'a table such as '
                   '{ "10.0.0.9" = "permanent" }')
    nout = {}
    for ip, state in neigh.items():
        key = f'host.neigh."{ip}"'
        a = _ip(ip)
        if a is None or a.version != 4:
            _fail(key, state, "keys are IPv4 addresses of neighbours")
        nout[str(a)] = _choice(key, state, NEIGH_STATES, '"permanent" (a static entry) or '
                               '"reachable" (resolved before the run); leave a neighbour out '
                               "to resolve it with ARP")
    # how long the neighbour takes to answer an ARP request, after the request's last bit
    # reaches it (0: at once, as fast as its own wire allows)
    delay = h.get("arp_reply_delay", "0us")
    # one DROP rule that matches every IPv4 packet where it sits
    drop = h.get("iptables_drop")
    if drop is not None:
        drop = _choice("host.iptables_drop", drop, IPTABLES_DROP,
                       '"raw" (iptables -t raw -I PREROUTING -j DROP: every IPv4 packet, '
                       'before routing) or "filter" (iptables -I INPUT -j DROP: IPv4 '
                       "packets for this host); leave it out for no rule")
    return {"addresses": out, "neigh": nout, "arp_reply_delay": delay,
            "arp_reply_delay_ns": _dur("host.arp_reply_delay", delay),
            **({"iptables_drop": drop} if drop else {})}


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
        dst = rt.get("dst")
        try:
            net = ipaddress.IPv4Network(dst, strict=False) if isinstance(dst, str) else None
        except ValueError:
            net = None
        if net is None:
            _fail(f"{key}.dst", dst, "an IPv4 prefix such as \"10.2.0.0/16\"")
        dev = _choice(f"{key}.dev", rt.get("dev"), names,
                      f"a port of the NIC: {', '.join(names)}")
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
    names: set[str] = set()
    for i, key, f in _tables("flows", flows, FLOW_KEYS | RR_KEYS):
        name = _name(f"{key}.name", f.get("name", f"flow{i}"))
        if name in names:
            _fail(f"{key}.name", name, "flow names must be unique (results are kept by "
                  "flow name)")
        names.add(name)
        for side in ("src", "dst"):
            if side not in f:
                raise ConfigError(f"{key}.{side}: missing; give 'ADDRESS:PORT'")
        if f.get("proto") in RR_PROTOS:
            out += _validate_rr_flow(key, f, duration_ns, nic, name)
            continue
        r = {"name": name}
        r["port"] = _int(f"{key}.port", f.get("port", 0), 0, nic["ports"] - 1,
                         f"the port it arrives on, 0 to {nic['ports'] - 1} "
                         f"({', '.join(nic['port_names'])})")
        r["proto"] = proto = _choice(f"{key}.proto", f.get("proto", "udp"), L4_HDR,
                                     "udp, or tcp (an in-order bulk stream of segments at "
                                     "the given rate)")
        r["src"], r["dst"] = f["src"], f["dst"]
        r["src_ip"], r["sport"] = _endpoint(f"{key}.src", f["src"])
        r["dst_ip"], r["dport"] = _endpoint(f"{key}.dst", f["dst"])
        if ipaddress.ip_address(r["src_ip"]).version != ipaddress.ip_address(r["dst_ip"]).version:
            _fail(f"{key}.dst", f["dst"], "must be the same IP version as src")
        v6 = ipaddress.ip_address(r["src_ip"]).version == 6
        # an IPv6 header is 20 bytes longer: its smallest UDP frame is above 64 bytes
        least = max(64, FRAME_OVERHEAD + (20 if v6 else 0) + L4_HDR[proto] + 1)
        r["size"] = _int(f"{key}.size", f.get("size", least if proto == "udp" else 1518),
                         least, 1518, f"Ethernet frame size incl. FCS: {least}-1518 bytes "
                         f"for {proto} over IPv{6 if v6 else 4} (MTU 1500)")
        if ipaddress.ip_address(r["src_ip"]).version != 4 and proto == "tcp":
            _fail(f"{key}.src", f["src"], "TCP flows are IPv4")
        if "rate" not in f:
            raise ConfigError(f"{key}.rate: missing; e.g. '200kpps' or '100Mbit'")
        r["rate"] = f["rate"]
        r["pps"] = _pps(f"{key}.rate", f["rate"], r["size"])
        r["arrival"] = arr = _choice(f"{key}.arrival", f.get("arrival", "constant"), ARRIVALS)
        if arr == "onoff":
            for k in ("on", "off"):
                if k not in f:
                    raise ConfigError(f"{key}.{k}: arrival 'onoff' needs on and off durations")
            r["on"], r["off"] = f["on"], f["off"]
            r["on_ns"], r["off_ns"] = _dur(f"{key}.on", f["on"]), _dur(f"{key}.off", f["off"])
            if r["on_ns"] <= 0:
                _fail(f"{key}.on", f["on"], "must be longer than 0")
        r["count"] = _int(f"{key}.count", f["count"], 1) if "count" in f else None
        for k in ("instances", "request", "response", "think", "timeout"):
            if k in f:
                _fail(f"{key}.{k}", f[k], f"a key of request/response flows (proto = "
                      f"\"udp_rr\" or \"tcp_rr\"), not of proto = \"{proto}\"")
        _start_stop(key, f, r, duration_ns)
        out.append(r)
    return out


def _validate_rr_flow(key: str, f: dict, duration_ns: int, nic: dict,
                      name: str) -> list[dict]:
    """A netperf UDP_RR test: `instances` clients, each a flow of its own (its source
    port is src's plus its number), one transaction outstanding each. Returns the
    instances' flows, each named NAME#k and carrying the test's settings under `rr`."""
    for k in ("rate", "size", "arrival", "count"):
        if k in f:
            _fail(f"{key}.{k}", f[k], "not for a request/response flow: a closed loop has "
                  "no rate (each instance sends its next request once its response is in; "
                  "`instances` sets the load, `request` the size)")
    _unknown(key, f, RR_KEYS)
    tcp = f["proto"] == "tcp_rr"
    src_ip, sport = _endpoint(f"{key}.src", f["src"])
    dst_ip, dport = _endpoint(f"{key}.dst", f["dst"])
    for k, v in (("src", src_ip), ("dst", dst_ip)):
        if ipaddress.ip_address(v).version != 4:
            _fail(f"{key}.{k}", f[k], "an IPv4 address: the server's socket is AF_INET")
    n = _int(f"{key}.instances", f.get("instances", 1), 1, MAX_RR_INSTANCES,
             f"concurrent clients (netperf processes), 1 to {MAX_RR_INSTANCES}")
    if sport + n - 1 > 65535:
        _fail(f"{key}.src", f["src"], f"each of the {n} instances takes a source port from "
              f"{sport} up: the last must be at most 65535")
    most = MAX_TCP_RR_PAYLOAD if tcp else MAX_RR_PAYLOAD
    what = "segment (the MSS with timestamps)" if tcp else "datagram"
    req = _int(f"{key}.request", f.get("request", 1), 1, most,
               f"request payload bytes, 1 to {most}: one {what} (netperf -r REQ,RESP)")
    resp = _int(f"{key}.response", f.get("response", 1), 1, most,
                f"response payload bytes, 1 to {most}: one {what}")
    think = f.get("think", "0us")
    timeout = f.get("timeout")
    if tcp and timeout is not None:
        _fail(f"{key}.timeout", timeout, "not for tcp_rr: netperf's -e sets SO_RCVTIMEO on "
              "UDP data sockets only; a lost TCP_RR segment is recovered by TCP (loss "
              "probe, retransmission timer)")
    rto_min = f.get("rto_min")
    if rto_min is not None and not tcp:
        _fail(f"{key}.rto_min", rto_min, "only for tcp_rr flows (a TCP route metric)")
    rto_min_ns = _dur(f"{key}.rto_min", rto_min) if rto_min is not None else 200 * 10**6
    if not 10**6 <= rto_min_ns <= 120 * 10**9 or rto_min_ns % 1000:
        _fail(f"{key}.rto_min", rto_min, "1ms to 120s, in whole µs (ip route … rto_min: "
              "the least retransmission timeout of both ends of its connections)")
    spec = {"group": name, "proto": f["proto"], "rto_min": rto_min,
            "rto_min_us": rto_min_ns // 1000, "request": req, "response": resp,
            "think": think, "think_ns": _dur(f"{key}.think", think), "timeout": timeout,
            "timeout_ns": None, "instances": n, "src": f["src"], "dst": f["dst"]}
    if timeout is not None:
        spec["timeout_ns"] = _dur(f"{key}.timeout", timeout)
        if spec["timeout_ns"] <= 0:
            _fail(f"{key}.timeout", timeout, "longer than 0 (netperf -e; without it an "
                  "instance waits for ever)")
    port = _int(f"{key}.port", f.get("port", 0), 0, nic["ports"] - 1,
                f"the port it arrives on, 0 to {nic['ports'] - 1}")
    out = []
    for k in range(n):
        l4 = "tcp" if tcp else "udp"
        r = {"name": f"{name}#{k}", "port": port, "proto": l4,
             "src": f"{src_ip}:{sport + k}", "dst": f["dst"], "src_ip": src_ip,
             "sport": sport + k, "dst_ip": dst_ip, "dport": dport,
             "size": max(64, FRAME_OVERHEAD + L4_HDR[l4] + req), "rate": None,
             "pps": 0.0, "arrival": "rr", "count": None, "rr": dict(spec, instance=k)}
        _start_stop(key, f, r, duration_ns)
        out.append(r)
    return out


def _start_stop(key: str, f: dict, r: dict, duration_ns: int) -> None:
    """start (inside the run) and stop (after start) of a flow or a sender."""
    r["start"] = f.get("start", "0ns")
    r["start_ns"] = _dur(f"{key}.start", r["start"])
    if r["start_ns"] >= duration_ns:
        _fail(f"{key}.start", r["start"], f"must be before the end of the run "
              f"({fmt_ns(duration_ns)})")
    r["stop"] = f.get("stop")
    r["stop_ns"] = _dur(f"{key}.stop", r["stop"]) if r["stop"] is not None else None
    if r["stop_ns"] is not None and r["stop_ns"] <= r["start_ns"]:
        _fail(f"{key}.stop", r["stop"], "must be after start")


def _validate_apps(apps, ncpus: int, host: dict, sysctl: dict,
                   duration_ns: int) -> list[dict]:
    out = []
    bound: list[tuple[str, str, int, bool]] = []      # UDP binds: app, address, port, reuse
    names = set()
    for i, key, a in _tables("apps", apps, APP_KEYS):
        r = {"name": _name(f"{key}.name", a.get("name", f"app{i}"))}
        if r["name"] in names:
            _fail(f"{key}.name", r["name"], "app names must be unique")
        names.add(r["name"])
        r["cpu"] = _int(f"{key}.cpu", a.get("cpu", 0), 0, ncpus - 1,
                        f"must be a CPU from 0 to {ncpus - 1}")
        if "send" in a:
            out.append(_validate_sender(i, key, a, r, host, sysctl, duration_ns, bound))
            continue
        s = a.get("socket")
        if s is None:
            raise ConfigError(f"{key}.socket: missing; e.g. "
                              "{ proto = \"udp\", bind = \"0.0.0.0:9000\" }")
        _table(f"{key}.socket", s, "a table such as { proto = \"udp\", bind = "
               "\"0.0.0.0:9000\" }")
        _unknown(f"{key}.socket", s, SOCKET_KEYS)
        proto = _choice(f"{key}.socket.proto", s.get("proto", "udp"), L4_HDR, "udp or tcp")
        if "bind" not in s:
            raise ConfigError(f"{key}.socket.bind: missing; e.g. \"0.0.0.0:9000\"")
        ip, port = _endpoint(f"{key}.socket.bind", s["bind"], allow_any=True)
        _ipv4_socket(f"{key}.socket.bind", s["bind"], ip)
        if not ipaddress.ip_address(ip).is_unspecified and ip not in host["addresses"]:
            _fail(f"{key}.socket.bind", s["bind"], f"not a local address (EADDRNOTAVAIL); "
                  f"host.addresses = {host['addresses']}")
        reuse = _bool(f"{key}.socket.reuseport", s.get("reuseport", False), "true or false "
                      "(SO_REUSEPORT)")
        if proto == "tcp":
            # an established connection accepted from a listener on bind: apps on one
            # port each read one of its connections
            for k in ("reuseport", "connect", "udp_gro"):
                if k in s:
                    _fail(f"{key}.socket.{k}", s[k], "a UDP socket option; a TCP app reads "
                          "one accepted connection of the flow to its port")
        else:
            _udp_bind(f"{key}.socket.bind", s["bind"], (r["name"], ip, port, reuse), bound)
        conn = s.get("connect")
        if conn is not None:
            cip, cport = _endpoint(f"{key}.socket.connect", conn)
            _ipv4_socket(f"{key}.socket.connect", conn, cip)
            if cport == 0 or ipaddress.ip_address(cip).is_unspecified:
                _fail(f"{key}.socket.connect", conn, "a peer address and port, e.g. "
                      "\"10.0.0.2:40000\"")
            r["rem_ip"], r["rem_port"] = cip, cport
        else:
            r["rem_ip"] = r["rem_port"] = None
        so = s.get("rcvbuf")
        if so is not None:
            _int(f"{key}.socket.rcvbuf", so, 0, INT_MAX, "SO_RCVBUF value, an integer ≥ 0")
        gro = _bool(f"{key}.socket.udp_gro", s.get("udp_gro", False), "true or false "
                    "(setsockopt UDP_GRO)")
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
        if "serve" in a:
            _validate_server(key, a, r, sysctl)
        out.append(r)
    return out


def _validate_server(key: str, a: dict, r: dict, sysctl: dict) -> None:
    """serve = "rr": netperf's server side (recv_omni): each datagram read is a request,
    answered with a response sent back to where it came from (recvfrom, then sendto on
    the same socket, blocking)."""
    if a["serve"] != "rr":
        _fail(f"{key}.serve", a["serve"], "\"rr\": answer each request of a udp_rr or "
              "tcp_rr flow")
    if r["migrate"]:
        _fail(f"{key}.migrate", a["migrate"], "a server stays on its CPU (its responses "
              "leave through the TX queue of that CPU)")
    r["serve"] = "rr"
    r["sk_sndbuf"] = (TCP_SNDBUF if r["socket"]["proto"] == "tcp" else
                      effective_sndbuf(None, sysctl["net.core.wmem_default"],
                                       sysctl["net.core.wmem_max"]))


def _tcp_rr_servers(apps: list[dict], flows: list[dict]) -> list[dict]:
    """netserver forks a process per test, each with the connection it accepted: a TCP
    app with serve = "rr" becomes one server per tcp_rr instance to its port (bound to
    that address or to the wildcard), named NAME#k, all on its CPU."""
    out = []
    for a in apps:
        if a.get("serve") != "rr" or a["socket"]["proto"] != "tcp":
            out.append(a)
            continue
        n = sum(1 for f in flows if f.get("rr", {}).get("proto") == "tcp_rr"
                and f["dport"] == a["port"]
                and (a["bind_ip"] == "0.0.0.0" or a["bind_ip"] == f["dst_ip"]))
        if not n:
            raise ConfigError(f"apps ({a['name']}).serve: \"rr\" on a TCP socket answers "
                              f"the instances of a tcp_rr flow to port {a['port']}, and no "
                              "[[flows]] entry with proto = \"tcp_rr\" goes there")
        out += [dict(a, name=f"{a['name']}#{k}", server_of=a["name"]) for k in range(n)]
    return out


def _ipv4_socket(key: str, text: str, ip: str) -> None:
    """Apps' sockets are IPv4 (AF_INET): results show them in /proc/net/udp, and softnet
    writes no /proc/net/udp6 yet."""
    if ipaddress.ip_address(ip).version != 4:
        _fail(key, text, "an IPv4 address: apps' sockets are AF_INET (softnet has no "
              "/proc/net/udp6 for IPv6 sockets yet)")


def _udp_bind(key: str, text: str, new: tuple[str, str, int, bool],
              bound: list[tuple[str, str, int, bool]]) -> None:
    """udp_lib_lport_inuse: a port is taken for the same or the wildcard address, unless
    every socket on it sets SO_REUSEPORT."""
    name, ip, port, reuse = new
    for other, oip, oport, oreuse in bound:
        same_addr = ip == oip or "0.0.0.0" in (ip, oip)
        if oport == port and same_addr and not (reuse and oreuse):
            _fail(key, text, f"port {port} is already bound by {other} on {oip} (EADDRINUSE; "
                  "set reuseport = true on every socket of the group for SO_REUSEPORT)")
    bound.append(new)


def _validate_sender(i: int, key: str, a: dict, r: dict, host: dict, sysctl: dict,
                     duration_ns: int, bound: list) -> dict:
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
    # the source address: the bound one, else the host's first IPv4 address
    v4 = [h for h in host["addresses"] if ipaddress.ip_address(h).version == 4]
    if not v4:
        _fail("host.addresses", host["addresses"], f"an IPv4 address for {key} to send from "
              "(senders send IPv4)")
    src_ip, sport = v4[0], EPHEMERAL_PORT + i
    if "bind" in s:
        ip, port = _endpoint(f"{key}.socket.bind", s["bind"], allow_any=True)
        _ipv4_socket(f"{key}.socket.bind", s["bind"], ip)
        if not ipaddress.ip_address(ip).is_unspecified:
            if ip not in host["addresses"]:
                _fail(f"{key}.socket.bind", s["bind"], "not a local address "
                      f"(EADDRNOTAVAIL); host.addresses = {host['addresses']}")
            src_ip = ip
        sport = port
        _udp_bind(f"{key}.socket.bind", s["bind"], (r["name"], ip, port, False), bound)
    blocking = _bool(f"{key}.socket.blocking", s.get("blocking", True), "true (blocking) or "
                     "false (O_NONBLOCK)")
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
        # sendmsg calls per second (a bit rate counts every frame of a call)
        interval = max(1, round(S / _pps(f"{key}.send.rate", rate, sum(frames))))
    count = _int(f"{key}.send.count", snd["count"], 1) if "count" in snd else None
    times: dict = {}
    _start_stop(f"{key}.send", snd, times, duration_ns)
    start, stop = times["start_ns"], times["stop_ns"]
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
    if "dim_rx_profile" not in r["nic"]["_model"]:
        nic.pop("adaptive_rx", None)           # igb has none: the key would be refused
        nic.pop("adaptive_tx", None)
    elif nic.get("adaptive_rx"):
        nic.pop("rx_usecs", None)              # net_dim sets it: ice refuses one given
    if nic["interrupt_throttle_rate"] is None:
        nic.pop("interrupt_throttle_rate")
    elif not r["nic"]["_rx_usecs_given"]:
        nic.pop("rx_usecs")                    # the module parameter sets it
    if nic["int_mode"] == r["nic"]["_model"]["int_modes"][0]:
        nic.pop("int_mode")                    # the best the device offers
    if nic["speed"] == r["nic"]["_model"]["speeds"][-1]:
        nic.pop("speed")                       # the model's own
    nic.pop("line_rate_bps")
    if not nic["napi"] or nic["napi_weight"] == r["nic"]["_model"]["napi_weight"]:
        nic.pop("napi_weight")                 # the driver's own (none without NAPI)
    flows = []
    for f in r["flows"]:
        rr = f.get("rr")
        if rr is not None:                 # a request/response test: its own keys, once
            if rr["instance"] == 0:
                g = {"name": rr["group"], "proto": rr["proto"], "src": rr["src"],
                     "dst": rr["dst"], "instances": rr["instances"],
                     "request": rr["request"], "response": rr["response"],
                     "think": rr["think"], "start": f["start"]}
                for k, v in (("timeout", rr["timeout"]), ("stop", f["stop"]),
                             ("port", f["port"]), ("rto_min", rr.get("rto_min"))):
                    if v:
                        g[k] = v
                flows.append(g)
            continue
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
        if a.get("server_of"):              # a TCP_RR server's processes: one entry
            if a["name"] != a["server_of"] + "#0":
                continue
            a = dict(a, name=a["server_of"])
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
        if a.get("serve"):
            app["serve"] = a["serve"]
        apps.append(app)
    return {"seed": r["seed"], "duration": r["duration"], "cpus": r["cpus"],
            "quantum": r["quantum"], "kernel": r["kernel"], "hz": r["hz"], "profile": "profile.toml" if r["_profile_path"] else r["profile"], "nic": nic,
            "irq": r["irq"], "sysctl": kernel_sysctls(r),
            "host": {k: v for k, v in r["host"].items() if not k.endswith("_ns")},
            "flows": flows, "apps": apps,
            **({"routes": [{"dst": rt["dst"], "dev": rt["dev"]} for rt in r["routes"]]}
               if r.get("routes") else {}),
            **({"observe": view} if (view := observe_view(r["observe"])) else {})}


def observe_view(o: dict) -> dict:
    """[observe] as the user would write it, only what is on."""
    out: dict = {}
    if o["trace"] or o["ftrace"]:
        out.update(trace=o["trace"], ftrace=o["ftrace"], trace_max=o["trace_max"])
        if o["trace_window"] is not None:
            out["trace_window"] = o["trace_window"]
        if o["trace_cpus"] is not None:
            out["trace_cpus"] = o["trace_cpus"]
        if o["trace_flows"] is not None:
            out["trace_flows"] = o["trace_flows"]
        if o["ftrace_packets"] is not None:
            out["ftrace_packets"] = o["ftrace_packets"]
        out["trace_sample"] = o["trace_sample"]
    if o["interval_ns"]:
        out["interval"] = o["interval"]
    if o["pcap"]:
        out.update(pcap=o["pcap"], pcap_count=o["pcap_count"])
        if o["pcap_flows"]:
            out["pcap_flows"] = o["pcap_flows"]
    return out
