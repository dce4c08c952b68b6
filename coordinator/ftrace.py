"""The function graph of a run (`[observe] ftrace = true`, `--ftrace`): `ftrace.txt` in
ftrace's function_graph format as Linux 6.6 prints it with its default options (CPU,
overhead, duration, irqs; observability-formats §2), so it can be held next to a real
one such as seed `000_f9268658a50c67ce.txt`.

It is drawn from the same slices as the timeline trace (`cpus.trace`): each call of a
kernel generator that cost time is `func() {` … `}` (or `func();` when it called nothing
that shows), with its duration on the closing line and ftrace's marks (`+` above 10 µs,
`!` 100 µs, `#` 1 ms, `*` 10 ms, `@` 100 ms, `$` 1 s); a hard IRQ handler sits between
`==========>` and `<==========`; where another task's work follows a task's, verif_pid's
banner says so (`ksoftirqd/N` has pid 10 + 8N, an application 1000 + its index; hard IRQs
and softirqs are shown between them, not under a pid of their own). CPUs follow one another (as `trace_pipe_raw` per CPU
would), each in time order. A call that a hard IRQ or another context interrupted shows
as two pieces, since each piece is what that context ran.

May import: `engine.skb`, `coordinator.trace`, the standard library.
"""

from __future__ import annotations

from ..engine.skb import ID_LOW

MARKS = ((1_000_000_000, "$"), (100_000_000, "@"), (10_000_000, "*"), (1_000_000, "#"),
         (100_000, "!"), (10_000, "+"))
HEADER = ("# tracer: function_graph\n#\n# CPU  DURATION                  FUNCTION CALLS\n"
          "# |     |   |                     |   |   |   |\n")


def mark(ns: int) -> str:
    """trace_find_mark: the first threshold the duration is strictly above."""
    for limit, m in MARKS:
        if ns > limit:
            return m
    return " "


def duration(ns: int) -> str:
    """print_graph_duration: mark, µs with up to 7 digits in all, ' us ', padded, '|  '."""
    usecs, rem = divmod(ns, 1000)
    text = str(usecs)
    n = len(text)
    if n < 7:
        frac = f"{rem:03d}"[:7 - n]
        text += "." + frac
        n += len(frac) + 1
    return f"{mark(ns)} {text} us " + " " * max(0, 8 - n) + "|  "


FILL = " " * 14 + "|  "


def cpu_field(cpu: int, ncpus: int) -> str:
    return f" {cpu:>{len(str(max(ncpus - 1, 0)))}d}) "


PROCINFO = 14                            # TRACE_GRAPH_PROCINFO_LENGTH
DASHES = " " + "-" * 42


def proc(comm: str, pid: int) -> str:
    """print_graph_proc: comm cut to 7 characters, '-pid', centred in 14 columns."""
    text = f"{comm[:7]}-{pid}"
    spaces = max(0, PROCINFO - len(text))
    return " " * (spaces // 2) + text + " " * (spaces - spaces // 2)


def render_cpu(cpu: int, ncpus: int, slices: list[tuple], pids: dict[str, int],
               notes: dict | None = None) -> list[str]:
    """slices: (track, depth, name, start, end, args); on one CPU they form one forest in time.
    A task's track that takes over from another's gets verif_pid's context-switch banner
    (`pids`: each task's pid). `notes`: comments (`/* … */`, as trace_marker writes
    show) before the top-level slice they name by (track, start)."""
    pre = cpu_field(cpu, ncpus)
    irq = pre + "  "
    order = sorted(slices, key=lambda x: (x[3], -x[4], x[1]))
    out = []
    stack: list[tuple] = []              # (name, start, end, track, depth)
    task = None                          # the task whose slices came last

    def close_until(t: int) -> None:
        while stack and stack[-1][2] <= t:
            name, s, e, track, depth = stack.pop()
            out.append(f"{pre}{duration(e - s)}{'  ' * depth}}}")
            if track == "hardirq" and depth == 0:
                out.append(f"{irq}<========== |")

    for i, (track, depth, name, s, e, _) in enumerate(order):
        close_until(s)
        if track in pids and depth == 0 and track != task:
            if task is not None:
                out += [DASHES, f"{pre}{proc(task, pids[task])} => {proc(track, pids[track])}",
                        DASHES, ""]
            task = track
        if notes and depth == 0:
            out += [f"{pre}{FILL}/* {msg} */" for msg in notes.get((track, s), ())]
        nxt = order[i + 1] if i + 1 < len(order) else None
        has_child = nxt is not None and nxt[0] == track and nxt[3] < e and nxt[1] > depth
        if track == "hardirq" and depth == 0:
            out.append(f"{irq}==========> |")
        if has_child:
            out.append(f"{pre}{FILL}{'  ' * depth}{name}() {{")
            stack.append((name, s, e, track, depth))
        else:
            out.append(f"{pre}{duration(e - s)}{'  ' * depth}{name}();")
            if track == "hardirq" and depth == 0:
                out.append(f"{irq}<========== |")
    close_until(1 << 62)
    return out


# the calls a followed packet's graph starts at, as set_graph_function would: the
# outermost of these that holds the packet's moment, else the context's outermost call
ROOTS = ("udp_sendmsg", "net_rx_action", "net_tx_action")


def packet_points(r: dict, results: dict) -> list[tuple]:
    """The followed packets (observe.trace_sample) in order of their first moment:
    (first moment, id, what, [(cpu, track or None, time), …]), one point where a CPU
    handled it (the poll, the read, the send, the driver's transmit)."""
    cpus = [c for c in range(r["cpus"]) if "trace" in results[f"cpu{c}"]]
    queue_cpu = {int(q): c for c in range(r["cpus"]) for q in results[f"cpu{c}"]["queues"]}
    flows = [f["name"] for f in r["flows"]]
    apps = [a["name"] for a in r["apps"]]
    xmits = {x[0]: (c, x) for c in cpus for x in results[f"cpu{c}"]["trace"]["xmits"]}
    out = []
    for c in cpus:
        tr = results[f"cpu{c}"]["trace"]
        for pid, flow, queue, _, t_poll, now, reader in tr["arrows"]:
            out.append((t_poll, pid, f"packet {pid} of {flows[flow]}: received",
                        [(queue_cpu.get(queue), None, t_poll), (c, reader, now)]))
        for pid, sender, now in tr["sends"]:
            pts = [(c, apps[sender], now)]
            if pid in xmits:
                xc, x = xmits[pid]
                pts.append((xc, None, x[5]))
            out.append((now, pid, f"{apps[sender]}'s datagram (skb {pid & ID_LOW}): sent",
                        pts))
    for pid, (c, (_, flow, queue, _w, t_poll, t)) in xmits.items():
        if flow >= 0:
            out.append((t_poll, pid, f"packet {pid} of {flows[flow]}: forwarded",
                        [(queue_cpu.get(queue), None, t_poll), (c, None, t)]))
    return sorted(out, key=lambda x: (x[0], x[1]))


def packet_graphs(r: dict, results: dict, n: int) -> dict[int, tuple[list, dict]]:
    """Per CPU, the calls that handled the first `n` followed packets, each with the calls
    under it (depths from 0), and the comments that name the packets before them."""
    from .trace import SliceIndex
    index = {c: SliceIndex(results[f"cpu{c}"]["trace"]["slices"])
             for c in range(r["cpus"]) if "trace" in results[f"cpu{c}"]}
    roots: dict[int, dict[tuple, list[str]]] = {}
    for _, _, what, pts in packet_points(r, results)[:n]:
        for c, track, t in pts:
            held = index[c].holding(t, track) if c in index else []
            if not held:
                continue                        # outside the trace's window or CPUs
            # (a tuple: slices come back from a process as lists)
            root = tuple(next((sl for sl in held if sl[2] in ROOTS), held[0])[:5])
            whats = roots.setdefault(c, {}).setdefault(root, [])
            if what not in whats:
                whats.append(what)
    out = {}
    for c, by_root in roots.items():
        slices = results[f"cpu{c}"]["trace"]["slices"]
        keep, notes = {}, {}
        for root, whats in by_root.items():
            track, d0, _, s0, e0 = root
            for sl in slices:
                if sl[0] == track and sl[1] >= d0 and s0 <= sl[3] and sl[4] <= e0:
                    keep[tuple(sl[:5])] = (track, sl[1] - d0, *sl[2:])
            notes[(track, s0)] = whats
        out[c] = (sorted(keep.values(), key=lambda x: (x[3], -x[4], x[1])), notes)
    return out


def ftrace_files(r: dict, results: dict) -> dict[str, str]:
    if not r["observe"]["ftrace"]:
        return {}
    # pids as a booted host would have them: ksoftirqd/N a low one, applications later
    pids = {f"ksoftirqd/{c}": 10 + 8 * c for c in range(r["cpus"])}
    pids.update({a["name"]: 1000 + i for i, a in enumerate(r["apps"])})
    lines = []
    npk = r["observe"].get("ftrace_packets")
    graphs = packet_graphs(r, results, npk) if npk else {}
    for c in range(r["cpus"]):
        tr = results[f"cpu{c}"].get("trace")
        if tr is None:                      # a CPU left out by observe.trace_cpus
            continue
        if npk:
            if c in graphs:
                lines += render_cpu(c, r["cpus"], graphs[c][0], pids, graphs[c][1])
        else:
            lines += render_cpu(c, r["cpus"], tr["slices"], pids)
    return {"ftrace.txt": HEADER + "".join(line + "\n" for line in lines)}
