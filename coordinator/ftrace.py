"""The function graph of a run (`[observe] ftrace = true`, `--ftrace`): `ftrace.txt` in
ftrace's function_graph format as Linux 6.6 prints it with its default options (CPU,
overhead, duration, irqs; observability-formats §2), so it can be held next to a real
one such as seed `000_f9268658a50c67ce.txt`.

It is drawn from the same slices as the timeline trace (`cpus.trace`), each call's pieces
merged back into one call: a kernel generator's call that cost time is `func() {` … `}`
(or `func();` when nothing shows inside it), with its duration on the closing line and
ftrace's marks (`+` above 10 µs, `!` 100 µs, `#` 1 ms, `*` 10 ms, `@` 100 ms, `$` 1 s).
An interrupt runs on the stack of what it interrupted, as in the kernel: a hard IRQ
handler and the softirqs run at its exit sit between `==========>` and `<==========`,
nested in the call it cut. Each task has its own depth (ftrace's return stack is per
task); where another task's lines follow a task's, verif_pid's banner says so
(`ksoftirqd/N` has pid 10 + 8N, an application 1000 + its index). An application's own
loop is user space and a kthread's its smpboot loop: neither shows, their calls do. CPUs
follow one another (as `trace_pipe_raw` per CPU would), each in time order.

May import: `coordinator.trace`, the standard library.
"""

from __future__ import annotations

import bisect


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


IRQ_TRACKS = ("hardirq", "softirq")      # run on whatever stack they interrupted
IDLE = "<idle>"                           # the idle task (swapper/N, pid 0 as ftrace shows it)


class Call:
    """One call: its slices (pieces a hard IRQ or a switch cut) merged back into one, as
    ftrace sees it: entered at its first piece, returned from at its last."""

    __slots__ = ("track", "depth", "name", "start", "end", "pieces", "kids", "root",
                 "base", "host", "close")

    def __init__(self, track: str, depth: int, name: str, start: int, end: int) -> None:
        self.track, self.depth, self.name = track, depth, name
        self.start, self.end = start, end
        self.pieces = 1
        self.kids = False            # something shows inside it: a call, or what cut it
        self.root: Call = self       # its context's outermost call
        self.base = 0                # a root's depth on the stack it runs on
        self.host: tuple = ()        # an IRQ's: the tracks it interrupted, innermost first
        self.close = end             # a hard IRQ's `<==========`: after its softirqs


def merge_calls(slices: list) -> list[Call]:
    """Calls from one CPU's slices, with what nests in what, and the depth each IRQ's
    calls take on the stack of the context it interrupted (a task's, or a softirq's on
    top of one), as the kernel runs an interrupt on the interrupted task's stack."""
    calls: list[Call] = []
    last: dict[tuple, Call] = {}
    ended: dict[int, set] = {}
    for sl in sorted(slices, key=lambda x: (x[3], x[1])):
        track, depth, name, s, e = sl[:5]
        ended.setdefault(e, set()).add(track)
        c = last.get((track, depth, name))
        if sl[6] and c is not None:
            c.end = c.close = e               # the same call goes on
            c.pieces += 1
            c.kids = True
            continue
        c = Call(track, depth, name, s if sl[7] is None else sl[7], e)
        if sl[7] is not None:
            c.kids = True                     # its task slept in it: __schedule inside
        calls.append(c)
        last[(track, depth, name)] = c
    by_track: dict[str, list[Call]] = {}
    for c in calls:
        by_track.setdefault(c.track, []).append(c)
    for lst in by_track.values():
        stack: list[Call] = []
        lst.sort(key=lambda c: (c.start, c.depth))
        for c in lst:                          # in start order, outer before inner
            if c.name == "__schedule":
                continue                        # inside what its task slept in (below)
            while stack and (stack[-1].end <= c.start or stack[-1].depth >= c.depth):
                stack.pop()
            if stack:
                stack[-1].kids = True
                c.root = stack[0]
            stack.append(c)
    # one sweep in time: how many calls of each context are open when an IRQ comes
    ev = []
    for c in calls:
        ev.append((c.start, 2, c))
        ev.append((c.end, 0, c))
        if c.track == "hardirq" or c.name == "__schedule":
            ev.append((c.start, 1, c))
        elif c.track not in IRQ_TRACKS and c.depth == 0:
            c.base = -1                         # a task's own loop: not a kernel call
    ev.sort(key=lambda x: (x[0], x[1], x[2].start, x[2].depth))
    open_n: dict[str, int] = {}
    last_irq = None
    softirq_root = None
    for t, kind, c in ev:
        if kind == 0:
            open_n[c.track] -= 1
            continue
        if kind == 2:
            open_n[c.track] = open_n.get(c.track, 0) + 1
            if c.track == "softirq" and c.depth == 0:
                softirq_root = c
                if last_irq is not None and last_irq.end == c.start:
                    # run at that interrupt's exit: on its stack, inside its arrows
                    c.base, c.host = last_irq.base, last_irq.host
                    last_irq.close = c.end
            continue
        if c.name == "__schedule":             # where its task slept, on its stack
            c.base = max(0, open_n.get(c.track, 0) - 1)
            continue
        # a hard IRQ arriving at t, at the step boundary where its context stopped
        stopped = ended.get(t, set())
        if "hardirq" in stopped and last_irq is not None and last_irq.end == t:
            c.base, c.host = last_irq.base, last_irq.host       # the next in one batch
        elif "softirq" in stopped and open_n.get("softirq") and softirq_root is not None:
            c.base = softirq_root.base + open_n["softirq"]
            c.host = ("softirq",) + softirq_root.host
        else:
            task = next((tr for tr in sorted(stopped) if tr not in IRQ_TRACKS), None)
            if task is not None:
                c.base, c.host = max(0, open_n.get(task, 0) - 1), (task,)
        last_irq = c
    return calls


def render_cpu(cpu: int, ncpus: int, calls: list[Call], pids: dict[str, int],
               notes: dict | None = None) -> list[str]:
    """calls: one CPU's (`merge_calls`). A call cut by a hard IRQ is one call with the
    IRQ inside it, as ftrace shows an interrupt on the interrupted task's stack; a task's
    lines after another task's get verif_pid's context-switch banner (`pids`: each
    task's pid). `notes`: comments (`/* … */`, as trace_marker writes show) before the
    calls they name by (track, depth, start); only those calls are shown then, each with
    what ran inside it (its calls and the IRQs that cut it), from depth 0. None:
    everything."""
    pre = cpu_field(cpu, ncpus)
    irq = pre + "  "
    shift: dict[Call, int] = {}
    if notes is not None:
        want = notes.keys()
        by_start = sorted(calls, key=lambda c: c.start)
        starts = [c.start for c in by_start]
        for top in (c for c in calls if (c.track, c.depth, c.start) in want):
            d0 = top.root.base + top.depth
            for c in by_start[bisect.bisect_left(starts, top.start):
                              bisect.bisect_left(starts, top.end)]:
                if c.end <= top.end and (c.track == top.track and c.depth >= top.depth or
                                         c.track in IRQ_TRACKS and top.track in c.root.host):
                    shift[c] = d0
        show = [c for c in calls if c in shift]
    else:
        show = calls
    ev = []
    for c in show:
        d = c.root.base + c.depth - shift.get(c, 0)
        if d < 0:
            continue                            # a task's loop (user space, smpboot)
        if c.kids:
            ev.append((c.start, 3, d, "entry", c))
            ev.append((c.end, 0, -d, "exit", c))
        else:
            ev.append((c.start, 3, d, "leaf", c))
        if c.track == "hardirq":
            ev.append((c.start, 2, d, "open", c))
            ev.append((c.close, 1, d, "close", c))
    ev.sort(key=lambda x: x[:3])
    out: list[str] = []
    task = None                               # the task whose lines came last
    for _, _, d, kind, c in ev:
        d = abs(d)
        # whose stack it is on: an interrupt's, the task it cut (the idle task's if none)
        owner = c.track if c.track not in IRQ_TRACKS else \
            next((h for h in c.root.host if h not in IRQ_TRACKS), IDLE)
        if owner in pids and owner != task and kind != "close":
            if task is not None:
                out += [DASHES, f"{pre}{proc(task, pids[task])} => {proc(owner, pids[owner])}",
                        DASHES, ""]
            task = owner
        if kind == "open":
            out.append(f"{irq}==========> |")
        elif kind == "close":
            out.append(f"{irq}<========== |")
        elif kind == "exit":
            out.append(f"{pre}{duration(c.end - c.start)}{'  ' * d}}}")
        else:
            if notes and (c.track, c.depth, c.start) in notes:
                out += [f"{pre}{FILL}{'  ' * d}/* {msg} */"
                        for msg in notes[(c.track, c.depth, c.start)]]
            if kind == "entry":
                out.append(f"{pre}{FILL}{'  ' * d}{c.name}() {{")
            else:
                out.append(f"{pre}{duration(c.end - c.start)}{'  ' * d}{c.name}();")
    return out


class CallIndex:
    """One CPU's calls by track and depth (at one depth of a track they follow one
    another), to find those holding a time by bisection."""

    def __init__(self, calls: list[Call]) -> None:
        self.by: dict[tuple, tuple[list[int], list[Call]]] = {}
        for c in sorted(calls, key=lambda c: c.start):
            if c.name == "__schedule" or c.root.base + c.depth < 0:
                continue                        # inside another call; a task's own loop
            starts, items = self.by.setdefault((c.track, c.depth), ([], []))
            starts.append(c.start)
            items.append(c)

    def holding(self, t: int, track: str) -> list[Call]:
        """The calls of `track` holding t (a step that begins at t is its call's, not
        the one that ended there), outermost first."""
        out = []
        for (tr, _), (starts, items) in self.by.items():
            if tr == track:
                i = bisect.bisect_right(starts, t) - 1
                if i >= 0 and items[i].end > t:
                    out.append(items[i])
        return sorted(out, key=lambda c: c.depth)


# the calls a followed packet's graph starts at, as set_graph_function would: the
# outermost of these that holds the packet's moment, else the context's outermost call
ROOTS = ("udp_sendmsg", "udp_recvmsg", "tcp_recvmsg", "net_rx_action", "net_tx_action")


def packet_graphs(r: dict, results: dict, n: int,
                  calls_of: dict[int, list[Call]]) -> dict[int, dict[tuple, list[str]]]:
    """Per CPU, the calls that handled the first `n` followed packets, by (track, depth,
    start), with the comments that name the packets before them. `calls_of`: each
    traced CPU's calls."""
    from .trace import SliceIndex, followed
    found: dict[int, tuple] = {}              # cpu -> (its slices' index, its calls' one)
    roots: dict[int, dict[tuple, list[str]]] = {}
    for f in followed(r, results)[:n]:
        for c, track, t, what in f.points:
            tr = results[f"cpu{c}"].get("trace") if c is not None else None
            if tr is None:
                continue                        # a CPU the trace leaves out
            if c not in found:
                found[c] = (SliceIndex(tr["slices"]), CallIndex(calls_of[c]))
            index, calls = found[c]
            inner = index.containing(t, track)  # the context running then
            if inner is None:
                continue                        # outside the trace's window
            held = calls.holding(t, inner[0])
            if not held:
                continue
            root = next((x for x in held if x.name in ROOTS), held[0])
            whats = roots.setdefault(c, {}).setdefault((root.track, root.depth, root.start),
                                                       [])
            note = f"{f.label()}: {what}"
            if note not in whats:
                whats.append(note)
    return roots


def ftrace_files(r: dict, results: dict) -> dict[str, str]:
    if not r["observe"]["ftrace"]:
        return {}
    # pids as a booted host would have them: ksoftirqd/N a low one, applications later
    pids = {IDLE: 0}
    pids.update({f"ksoftirqd/{c}": 10 + 8 * c for c in range(r["cpus"])})
    pids.update({a["name"]: 1000 + i for i, a in enumerate(r["apps"])})
    # a CPU left out by observe.trace_cpus has no trace
    calls_of = {c: merge_calls(tr["slices"]) for c in range(r["cpus"])
                if (tr := results[f"cpu{c}"].get("trace")) is not None}
    lines = []
    npk = r["observe"].get("ftrace_packets")
    if npk:
        graphs = packet_graphs(r, results, npk, calls_of)
        for c in sorted(graphs):
            lines += render_cpu(c, r["cpus"], calls_of[c], pids, graphs[c])
    else:
        for c, calls in calls_of.items():
            lines += render_cpu(c, r["cpus"], calls, pids)
    return {"ftrace.txt": HEADER + "".join(line + "\n" for line in lines)}
