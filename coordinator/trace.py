"""The timeline trace of a run (`[observe] trace = true`, `--trace`): `trace.json` in the
Chrome trace-event format that ui.perfetto.dev and chrome://tracing open
(observability-formats §1): one process per simulated CPU, one thread per context on it
(hardirq, softirq, ksoftirqd/N, each application), complete (`X`) slices named after the
kernel functions, strictly nested on every track, with the arguments their tracepoints
gave (a hard IRQ's vector, a poll's napi, work and budget, net_rx_action's polls, work
and time squeeze, a TX clean's queue, packets and bytes); instants (`i`) for drops (the
CPU's own track, with the drop stage and flow or sender), interrupts as raised (the
hardirq track) and RPS IPIs sent; occupancies as counters (`C`: RX ring backlog, ITR,
backlog queue, socket memory, qdisc backlog and BQL, as each hard IRQ finds them); and
followed packets as flow events (`s`/`t`/`f`) from the nic's `wire in` track or a
sendmsg to a read or the `wire out` track (`followed`, shared with the function graph).

Times are µs written from integer ns with three decimals (Perfetto reads them back to the
exact ns). The array form is used, which Perfetto accepts even cut short. A first
metadata record says what the trace covers and whether it was cut at `trace_max`.

May import: `engine.skb`, `nic.traffic` (the wire's framing), the standard library.
"""

from __future__ import annotations

import bisect
import json

from ..engine.skb import ID_LOW
from ..nic.traffic import WIRE_OVERHEAD_BYTES


def _us(ns: int) -> str:
    return f"{ns // 1000}.{ns % 1000:03d}"


def track_order(tracks: set[str], cpu: int) -> list[str]:
    """hardirq, softirq, ksoftirqd/N, then the applications by name."""
    fixed = ["hardirq", "softirq", f"ksoftirqd/{cpu}"]
    return [t for t in fixed if t in tracks] + sorted(t for t in tracks if t not in fixed)


def trace_files(r: dict, results: dict) -> dict[str, str]:
    o = r["observe"]
    if not o["trace"]:
        return {}
    t0, t1 = o["trace_window_ns"]
    flows = [f["name"] for f in r["flows"]]
    apps = [a["name"] for a in r["apps"]]

    def counter_name(name: str) -> str:
        if name.startswith("socket "):           # "socket N rmem_alloc": its app's name
            _, n, what = name.split(" ", 2)
            return f"{apps[int(n)]} {what}"
        return name
    lines = []
    truncated = []
    shown = [c for c in range(r["cpus"]) if "trace" in results[f"cpu{c}"]]
    tids: dict[int, dict[str, int]] = {}
    for c in shown:                         # observe.trace_cpus may leave some out
        tr = results[f"cpu{c}"]["trace"]    # (also recorded for ftrace alone)
        if tr["truncated"]:
            truncated.append(f"cpu{c}")
        pid = c + 1
        lines.append(json.dumps({"ph": "M", "name": "process_name", "pid": pid,
                                 "args": {"name": f"cpu{c}"}}))
        lines.append(json.dumps({"ph": "M", "name": "process_sort_index", "pid": pid,
                                 "args": {"sort_index": pid}}))
        tracks = track_order({s[0] for s in tr["slices"]} |
                             {"hardirq", "softirq", f"ksoftirqd/{c}"}, c)
        tid = tids[c] = {t: i + 1 for i, t in enumerate(tracks)}
        for t, i in tid.items():
            lines.append(json.dumps({"ph": "M", "name": "thread_name", "pid": pid,
                                     "tid": i, "args": {"name": t}}))
            lines.append(json.dumps({"ph": "M", "name": "thread_sort_index", "pid": pid,
                                     "tid": i, "args": {"sort_index": i}}))
        # by track, then start, outer before inner: a reader that needs order gets it
        for track, depth, name, s, e, args, *_ in sorted(tr["slices"],
                                                        key=lambda x: (tid[x[0]], x[3], x[1])):
            more = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in args.items()) \
                if args else ""
            lines.append(f'{{"ph":"X","cat":"kernel","name":{json.dumps(name)},'
                         f'"pid":{pid},"tid":{tid[track]},"ts":{_us(s)},"dur":{_us(e - s)},'
                         f'"args":{{"depth":{depth}{more}}}}}')
        # drops on the CPU's own instant track; counters as Perfetto counter tracks
        for t, stage, flow, n in tr["instants"]:
            what = flows[flow] if flow >= 0 else apps[-1 - flow]     # a sender's datagram
            cat = "drop" if flow >= 0 else "tx_drop"          # summary drops / tx_drops
            lines.append(f'{{"ph":"i","s":"p","cat":"{cat}","name":{json.dumps(stage)},'
                         f'"pid":{pid},"ts":{_us(t)},"args":{{"flow":{json.dumps(what)},'
                         f'"packets":{n}}}}}')
        for t, kind, what in tr["events"]:
            if kind == "irq":                    # raised, on the track that will take it
                lines.append(f'{{"ph":"i","s":"t","cat":"irq","name":{json.dumps(what)},'
                             f'"pid":{pid},"tid":{tid["hardirq"]},"ts":{_us(t)},'
                             f'"args":{{"raised":{json.dumps(what)}}}}}')
            else:
                lines.append(f'{{"ph":"i","s":"p","cat":"ipi","name":"IPI to {what}",'
                             f'"pid":{pid},"ts":{_us(t)},"args":{{"target":"{what}"}}}}')
        for t, name, v in tr["counters"]:
            lines.append(f'{{"ph":"C","name":{json.dumps(counter_name(name))},'
                         f'"pid":{pid},"ts":{_us(t)},"args":{{"value":{v}}}}}')
    lines += _arrows(r, results, shown, tids)
    about = {"ph": "M", "name": "process_name", "pid": 0,
             "args": {"name": f"softnet: simulated {_us(t0)}–{_us(t1)} µs"
                      + (f"; CPUs {', '.join(map(str, shown))} only"
                         if len(shown) < r["cpus"] else "")
                      + (f"; drops and arrows of {', '.join(o['trace_flows'])} only"
                         if o["trace_flows"] else "")
                      + (f"; one packet in {o['trace_sample']} followed" if o["trace_sample"]
                         else "; no packet followed")
                      + (f"; cut at trace_max on {', '.join(truncated)}" if truncated
                         else "")}}
    return {"trace.json": "[\n" + ",\n".join([json.dumps(about)] + lines) + "\n]\n"}


class SliceIndex:
    """One CPU's slices by track and depth (on one track, one depth's slices never
    overlap), to find the innermost slice holding a time by bisection."""

    def __init__(self, slices: list[tuple]) -> None:
        self.by: dict[tuple[str, int], tuple[list[int], list[tuple]]] = {}
        for sl in sorted(slices, key=lambda x: x[3]):
            starts, items = self.by.setdefault((sl[0], sl[1]), ([], []))
            starts.append(sl[3])
            items.append(sl)

    def containing(self, t: int, track: str | None = None):
        """The innermost slice (track, depth, name, start, end, …) holding t (start ≤ t <
        end: a step that begins at t belongs to the slice it opens), or None."""
        best = None
        for (tr, depth), (starts, items) in self.by.items():
            if track is not None and tr != track:
                continue
            i = bisect.bisect_right(starts, t) - 1
            if i >= 0 and items[i][4] > t and (best is None or depth > best[1]):
                best = items[i]
        return best


class Followed:
    """One followed packet (observe.trace_sample): where a CPU handled it, in order, as
    (cpu, track or None for any, time, what), and its frame on the wire in and out as
    (port, time its last bit passed, frame length with FCS), when it was there."""

    __slots__ = ("id", "kind", "name", "points", "wire_in", "wire_out")

    def __init__(self, pid: int, kind: str, name: str, points: list, wire_in=None,
                 wire_out=None) -> None:
        self.id, self.kind, self.name = pid, kind, name
        self.points, self.wire_in, self.wire_out = points, wire_in, wire_out

    def label(self) -> str:
        if self.kind == "sent":
            return f"{self.name}'s datagram (skb {self.id & ID_LOW})"
        return f"packet {self.id} of {self.name}"


def followed(r: dict, results: dict) -> list[Followed]:
    """The followed packets of the CPUs a trace holds, in order of their first moment:
    a received one polled off its ring and read, a forwarded one polled and handed to the
    driver, a sender's datagram sent and handed to the driver."""
    cpus = [c for c in range(r["cpus"]) if "trace" in results[f"cpu{c}"]]
    nq = r["nic"]["combined"]
    queue_cpu = {int(q): c for c in range(r["cpus"]) for q in results[f"cpu{c}"]["queues"]}
    flows = r["flows"]
    apps = [a["name"] for a in r["apps"]]
    left = {x[0]: tuple(x[1:]) for x in results["nic"].get("trace_tx", ())}
    xmits = {x[0]: (c, x) for c in cpus for x in results[f"cpu{c}"]["trace"]["xmits"]}
    out = []
    for c in cpus:
        tr = results[f"cpu{c}"]["trace"]
        for pid, flow, queue, t_wire, t_poll, now, reader in tr["arrows"]:
            out.append(Followed(pid, "received", flows[flow]["name"],
                                [(queue_cpu.get(queue), None, t_poll, "polled"),
                                 (c, reader, now, "read")],
                                (queue // nq, t_wire, flows[flow]["size"])))
        for pid, sender, now in tr["sends"]:
            pts = [(c, apps[sender], now, "sent")]
            if pid in xmits:
                pts.append((xmits[pid][0], None, xmits[pid][1][5], "transmitted"))
            out.append(Followed(pid, "sent", apps[sender], pts, None, left.get(pid)))
    for pid, (c, (_, flow, queue, t_wire, t_poll, t)) in xmits.items():
        if flow >= 0:                           # forwarded: from the wire, out again
            out.append(Followed(pid, "forwarded", flows[flow]["name"],
                                [(queue_cpu.get(queue), None, t_poll, "polled"),
                                 (c, None, t, "transmitted")],
                                (queue // nq, t_wire, flows[flow]["size"]), left.get(pid)))
    return sorted(out, key=lambda f: (f.points[0][2] if f.kind == "sent" else f.wire_in[1],
                                      f.id))


def _arrows(r: dict, results: dict, shown: list[int], tids: dict) -> list[str]:
    """Followed packets as flow events bound to the slices they pass through: from the
    nic's `wire in` track as the frame arrives (a slice for its time on the wire), or a
    sender's sendmsg, through each CPU step that handled it, to the application's read
    or the `wire out` track as its frame leaves. A received packet whose read, a sent
    one whose sendmsg, a forwarded one whose transmit the trace does not hold has
    none."""
    ports = r["nic"].get("port_names", [r["nic"]["ifname"]])
    rate = r["nic"]["line_rate_bps"]
    nic_pid = r["cpus"] + 1
    out: list[str] = []
    wire_in, wire_out = [], []
    index = {c: SliceIndex(results[f"cpu{c}"]["trace"]["slices"]) for c in shown}

    def on_wire(size: int) -> int:
        """A frame's time on the wire (`size` with FCS; preamble and gap added)."""
        return (size + WIRE_OVERHEAD_BYTES) * 8 * 10**9 // rate

    for f in followed(r, results):
        steps = []                              # (pid, tid, ts ns)
        if f.wire_in is not None:
            port, t, size = f.wire_in
            steps.append((nic_pid, port + 1, t - on_wire(size) // 2))
        for c, track, t, what in f.points:
            sl = index[c].containing(t, track) if c in index else None
            if sl is None:
                if what in ("read", "sent") or (f.kind == "forwarded" and
                                                what == "transmitted"):
                    steps = []                  # the step that makes the arrow is not held
                    break
                continue
            steps.append((c + 1, tids[c][sl[0]], t))
        else:
            if f.wire_out is not None:
                port, t, size = f.wire_out
                steps.append((nic_pid, len(ports) + port + 1, t - on_wire(size) // 2))
        if len(steps) < 2:
            continue
        if f.wire_in is not None:
            port, t, size = f.wire_in
            wire_in.append((port, t - on_wire(size), on_wire(size), f.name))
        if f.wire_out is not None and steps[-1][0] == nic_pid:
            port, t, size = f.wire_out
            wire_out.append((port, t - on_wire(size), on_wire(size), f.name))
        for i, (pid, tid, t) in enumerate(steps):
            ev = {"cat": "packet", "name": "packet", "id": f.id,
                  "ph": "s" if i == 0 else "f" if i == len(steps) - 1 else "t",
                  "pid": pid, "tid": tid, "ts": float(_us(t))}
            if ev["ph"] == "f":
                ev["bp"] = "e"
            out.append(json.dumps(ev))
    if not wire_in and not wire_out:
        return out
    head = [json.dumps({"ph": "M", "name": "process_name", "pid": nic_pid,
                        "args": {"name": "nic"}})]
    for pt, name in enumerate(ports):
        head.append(json.dumps({"ph": "M", "name": "thread_name", "pid": nic_pid,
                                "tid": pt + 1, "args": {"name": f"{name} wire in"}}))
        if wire_out:
            head.append(json.dumps({"ph": "M", "name": "thread_name", "pid": nic_pid,
                                    "tid": len(ports) + pt + 1,
                                    "args": {"name": f"{name} wire out"}}))
    for base, wire in ((1, wire_in), (len(ports) + 1, wire_out)):
        for pt, s, d, name in sorted(wire):
            head.append(f'{{"ph":"X","cat":"wire","name":{json.dumps(name)},'
                        f'"pid":{nic_pid},"tid":{pt + base},"ts":{_us(s)},"dur":{_us(d)},'
                        f'"args":{{"depth":0}}}}')
    return head + out
