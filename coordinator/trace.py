"""The timeline trace of a run (`[observe] trace = true`, `--trace`): `trace.json` in the
Chrome trace-event format that ui.perfetto.dev and chrome://tracing open
(observability-formats §1): one process per simulated CPU, one thread per context on it
(hardirq, softirq, ksoftirqd/N, each application), complete (`X`) slices named after the
kernel functions, strictly nested on every track, with the arguments their tracepoints
gave (a hard IRQ's vector, a poll's napi, work and budget, net_rx_action's polls, work
and time squeeze, a TX clean's queue, packets and bytes); drops as instants (`i`, the CPU's own
track, with the drop stage and flow) and occupancies as counters (`C`: RX ring backlog,
backlog queue, socket memory, as each hard IRQ finds them).

Times are µs written from integer ns with three decimals (Perfetto reads them back to the
exact ns). The array form is used, which Perfetto accepts even cut short. A first
metadata record says what the trace covers and whether it was cut at `trace_max`.

May import: the standard library only.
"""

from __future__ import annotations

import bisect
import json


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
        for track, depth, name, s, e, args, _ in sorted(tr["slices"],
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

    def holding(self, t: int, track: str | None = None) -> list[tuple]:
        """Every slice holding t on the track of the innermost one (or on `track`),
        outermost first."""
        inner = self.containing(t, track)
        if inner is None:
            return []
        out = []
        for (tr, depth), (starts, items) in self.by.items():
            if tr == inner[0] and depth <= inner[1]:
                i = bisect.bisect_right(starts, t) - 1
                if i >= 0 and items[i][4] >= t:
                    out.append(items[i])
        return sorted(out, key=lambda x: x[1])

    def containing(self, t: int, track: str | None = None):
        """The innermost slice (track, depth, name, start, end) holding t, or None."""
        best = None
        for (tr, depth), (starts, items) in self.by.items():
            if track is not None and tr != track:
                continue
            i = bisect.bisect_right(starts, t) - 1
            if i >= 0 and items[i][4] >= t and (best is None or depth > best[1]):
                best = items[i]
        return best


def _arrows(r: dict, results: dict, shown: list[int], tids: dict) -> list[str]:
    """Sampled packets followed by flow events bound to the slices they pass through:
    a received packet from the nic's wire (a slice on its port's `wire in` track as the
    frame arrives) to the driver's poll that took it and to the application's read, or,
    forwarded, to the driver's transmit and the `wire out` track as its frame leaves; a
    sender's datagram from its sendmsg to the driver's transmit and the wire."""
    ports = r["nic"].get("port_names", [r["nic"]["ifname"]])
    nq = r["nic"]["combined"]
    rate = r["nic"]["_model"]["line_rate_bps"]
    queue_cpu = {int(q): c for c in range(r["cpus"]) for q in results[f"cpu{c}"]["queues"]}
    nic_pid = r["cpus"] + 1
    apps = [a["name"] for a in r["apps"]]
    out: list[str] = []
    wire_in, wire_out = [], []
    index = {c: SliceIndex(results[f"cpu{c}"]["trace"]["slices"]) for c in shown}
    left = {x[0]: x[1:] for x in results["nic"].get("trace_tx", ())}  # id -> port, t, size
    xmits = {}                                  # id -> (cpu, flow, queue, wire, poll, t)
    for c in shown:
        for x in results[f"cpu{c}"]["trace"].get("xmits", ()):
            xmits[x[0]] = (c, *x[1:])

    def on_wire(t: int, size: int) -> int:
        """A frame's time on the wire (`size` with FCS; preamble and gap added)."""
        return (size + 20) * 8 * 10**9 // rate

    def step(ph: str, pid: int, c: int | None, t: int, track: str | None = None) -> bool:
        """A step of the arrow on CPU c's slice holding t (any track unless named)."""
        sl = index[c].containing(t, track) if c in index else None
        if sl is None:
            return False
        ev = {"cat": "packet", "name": "packet", "id": pid, "ph": ph, "pid": c + 1,
              "tid": tids[c][sl[0]], "ts": float(_us(t))}
        if ph == "f":
            ev["bp"] = "e"
        out.append(json.dumps(ev))
        return True

    def from_wire(pid: int, flow: int, queue: int, t_wire: int, t_poll: int) -> None:
        f = r["flows"][flow]
        tx = on_wire(t_wire, f["size"])
        port = queue // nq
        wire_in.append((port, t_wire - tx, tx, f["name"]))
        out.append(json.dumps({"cat": "packet", "name": "packet", "id": pid, "ph": "s",
                               "pid": nic_pid, "tid": port + 1,
                               "ts": float(_us(t_wire - tx // 2))}))
        step("t", pid, queue_cpu.get(queue), t_poll)

    def to_wire(pid: int, name: str) -> None:
        port, t, size = left[pid]
        tx = on_wire(t, size)
        wire_out.append((port, t - tx, tx, name))
        out.append(json.dumps({"cat": "packet", "name": "packet", "id": pid, "ph": "f",
                               "bp": "e", "pid": nic_pid, "tid": len(ports) + port + 1,
                               "ts": float(_us(t - tx // 2))}))

    for c in shown:
        tr = results[f"cpu{c}"]["trace"]
        for pid, flow, queue, t_wire, t_poll, now, reader in tr.get("arrows", ()):
            if reader not in tids[c] or index[c].containing(now, reader) is None:
                continue                     # its read fell outside the trace
            from_wire(pid, flow, queue, t_wire, t_poll)
            step("f", pid, c, now, reader)
        for pid, sender, now in tr.get("sends", ()):
            name = apps[sender]
            if name not in tids[c] or not step("s", pid, c, now, name):
                continue
            x = xmits.get(pid)
            if x is not None:
                step("t", pid, x[0], x[5])
            if pid in left:
                to_wire(pid, name)
    for pid, (c, flow, queue, t_wire, t_poll, t) in sorted(xmits.items()):
        if flow >= 0:                           # forwarded: from the wire, out again
            from_wire(pid, flow, queue, t_wire, t_poll)
            step("t", pid, c, t)
            if pid in left:
                to_wire(pid, r["flows"][flow]["name"])
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
