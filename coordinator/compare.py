"""`softnet diff RUN_A RUN_B`: what changed between two run directories, as users compare
`ethtool -S` and `nstat` snapshots by hand.

Three sections, each a flat list of dotted keys: the experiment (`config.toml`, the keys a
user can `--set`), the figures (`summary.json`) and the counters (`ethtool_S.txt`,
`/proc/net/snmp`, `/proc/net/netstat`, `/proc/net/softnet_stat`). A list of named tables
(flows, apps) is keyed by name, not position, so a flow added in front of the others does
not shift every later key. Numbers get a delta and a relative change.

May import: the standard library and `coordinator.runfiles`.
"""

from __future__ import annotations

import math
import os
import tomllib

from .runfiles import Damaged, run_json, run_text

# softnet_stat's columns (kernel-spec: softnet_seq_show), by position
SOFTNET_COLS = ("processed", "dropped", "time_squeeze", None, None, None, None, None,
                None, "received_rps", "flow_limit_count", "backlog_len", "cpu", "input_qlen",
                "process_qlen")
COUNTER_FILES = ("ethtool_S.txt", "proc/net/snmp", "proc/net/netstat",
                 "proc/net/softnet_stat")


def flatten(value, prefix: str = "", out: dict | None = None) -> dict:
    """Dotted keys to leaves. A list of tables that all have a distinct `name` is keyed by
    it; other lists by position."""
    out = {} if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        names = [x.get("name") for x in value]
        keyed = all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
        for i, x in enumerate(value):
            key = names[i] if keyed else str(i)
            flatten({k: v for k, v in x.items() if not (keyed and k == "name")},
                    f"{prefix}.{key}" if prefix else key, out)
    else:
        out[prefix] = value
    return out


def config_keys(run_dir: str) -> dict:
    path = os.path.join(run_dir, "config.toml")
    try:
        return flatten(tomllib.loads(run_text(run_dir, "config.toml")))
    except tomllib.TOMLDecodeError as e:
        raise Damaged(f"{path}: damaged (not valid TOML: {e})") from None


def summary_keys(run_dir: str) -> dict:
    return flatten(run_json(run_dir, "summary.json"))


def parse_ethtool(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(": ")
        if sep and value.lstrip("-").isdigit():
            out[f"ethtool.{name}"] = int(value)
    return out


def parse_header_pairs(text: str, prefix: str) -> dict:
    """/proc/net/snmp and netstat: a line of names, then a line of values, per group."""
    out = {}
    lines = text.splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        group, _, ns = names.partition(":")
        _, _, vs = values.partition(":")
        for n, v in zip(ns.split(), vs.split()):
            if v.lstrip("-").isdigit():
                out[f"{prefix}.{group}.{n}"] = int(v)
    return out


def parse_softnet_stat(text: str) -> dict:
    out = {}
    for row, line in enumerate(text.splitlines()):
        cols = line.split()
        cpu = int(cols[12], 16) if len(cols) > 12 else row
        for name, v in zip(SOFTNET_COLS, cols):
            if name is not None and name != "cpu":
                out[f"softnet_stat.cpu{cpu}.{name}"] = int(v, 16)
    return out


def counter_keys(run_dir: str) -> tuple[dict, list[str]]:
    """(counters, files missing from this run directory)."""
    out: dict = {}
    missing = []
    parsers = {"ethtool_S.txt": parse_ethtool,
               "proc/net/snmp": lambda t: parse_header_pairs(t, "snmp"),
               "proc/net/netstat": lambda t: parse_header_pairs(t, "netstat"),
               "proc/net/softnet_stat": parse_softnet_stat}
    # a device of several ports writes ethtool_S_<port>.txt for each port after the first
    extra = sorted(n for n in os.listdir(run_dir)
                   if n.startswith("ethtool_S_") and n.endswith(".txt"))
    for n in extra:
        port = n[len("ethtool_S_"):-len(".txt")]
        parsers[n] = lambda t, port=port: {k.replace("ethtool.", f"ethtool.{port}.", 1): v
                                           for k, v in parse_ethtool(t).items()}
    for rel in (*COUNTER_FILES, *extra):
        if not os.path.lexists(os.path.join(run_dir, rel)):
            missing.append(rel)
            continue
        text = run_text(run_dir, rel)
        try:
            out.update(parsers[rel](text))
        except (ValueError, IndexError) as e:
            raise Damaged(f"{os.path.join(run_dir, rel)}: damaged ({e})") from None
    return out, missing


class Row:
    __slots__ = ("key", "a", "b")

    def __init__(self, key: str, a, b) -> None:
        self.key, self.a, self.b = key, a, b

    @property
    def same(self) -> bool:
        return self.a == self.b

    def delta(self):
        if _num(self.a) and _num(self.b):
            return self.b - self.a
        return None

    def relative(self):
        d = self.delta()
        if d is None or self.a == 0:
            return None
        return d / abs(self.a)

    def as_dict(self) -> dict:
        out = {"key": self.key, "a": self.a, "b": self.b}
        if self.delta() is not None:
            out["delta"] = self.delta()
            if self.relative() is not None:
                out["relative"] = round(self.relative(), 6)
        return out


MISSING = None
WIDE = 24


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def compare_maps(a: dict, b: dict) -> list[Row]:
    keys = list(a) + [k for k in b if k not in a]
    return [Row(k, a.get(k, MISSING), b.get(k, MISSING)) for k in keys]


def compare(run_a: str, run_b: str) -> dict:
    """Every section's rows (equal ones included) and the counter files either run lacks."""
    config = compare_maps(config_keys(run_a), config_keys(run_b))   # both directories first
    summary = compare_maps(summary_keys(run_a), summary_keys(run_b))
    ca, ma = counter_keys(run_a)
    cb, mb = counter_keys(run_b)
    return {"config": config, "summary": summary, "counters": compare_maps(ca, cb),
            "missing": {"a": ma, "b": mb}}


def _fmt(v) -> str:
    if v is MISSING:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _fmt_delta(r: Row) -> tuple[str, str]:
    d = r.delta()
    if d is None:
        return "", ""
    ds = f"{d:+.6g}" if isinstance(d, float) else f"{d:+d}"
    rel = r.relative()
    return ds, ("" if rel is None else f"{100 * rel:+.1f}%")


def render(result: dict, run_a: str, run_b: str, show_all: bool = False) -> str:
    lines = [f"A: {run_a}", f"B: {run_b}"]
    titles = {"config": "experiment (config.toml)", "summary": "figures (summary.json)",
              "counters": "counters (ethtool -S, /proc/net/snmp, netstat, softnet_stat)"}
    for section in ("config", "summary", "counters"):
        rows = result[section]
        changed = [r for r in rows if not r.same]
        shown = rows if show_all else changed
        lines.append("")
        lines.append(f"{titles[section]}: {len(changed)} of {len(rows)} differ")
        if not shown:
            continue
        table = [(r.key, _fmt(r.a), _fmt(r.b), *_fmt_delta(r)) for r in shown]
        head = ("key", "A", "B", "delta", "change")
        # a long text value (a counter's description) does not widen its whole column
        w = [max([len(head[i])] + [len(t[i]) for t in table if len(t[i]) <= WIDE])
             for i in range(5)]
        lines.append("  " + "  ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i])
                                      for i, h in enumerate(head)).rstrip())
        for t in table:
            lines.append("  " + "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                                          for i, c in enumerate(t)).rstrip())
    for side, run in (("a", run_a), ("b", run_b)):
        if result["missing"][side]:
            lines.append(f"\nnot in {run} (an older softnet?): "
                         f"{', '.join(result['missing'][side])}")
    return "\n".join(lines) + "\n"


def as_json(result: dict, show_all: bool = False) -> dict:
    return {s: [r.as_dict() for r in result[s] if show_all or not r.same]
            for s in ("config", "summary", "counters")} | {"missing": result["missing"]}


def differs(result: dict) -> bool:
    return any(not r.same for s in ("config", "summary", "counters") for r in result[s])
