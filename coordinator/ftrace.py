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

May import: the standard library only.
"""

from __future__ import annotations

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


def render_cpu(cpu: int, ncpus: int, slices: list[tuple], pids: dict[str, int]) -> list[str]:
    """slices: (track, depth, name, start, end, args); on one CPU they form one forest in time.
    A task's track that takes over from another's gets verif_pid's context-switch banner
    (`pids`: each task's pid)."""
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


def ftrace_files(r: dict, results: dict) -> dict[str, str]:
    if not r["observe"]["ftrace"]:
        return {}
    # pids as a booted host would have them: ksoftirqd/N a low one, applications later
    pids = {f"ksoftirqd/{c}": 10 + 8 * c for c in range(r["cpus"])}
    pids.update({a["name"]: 1000 + i for i, a in enumerate(r["apps"])})
    lines = []
    for c in range(r["cpus"]):
        tr = results[f"cpu{c}"].get("trace")
        if tr is not None:                  # a CPU left out by observe.trace_cpus
            lines += render_cpu(c, r["cpus"], tr["slices"], pids)
    return {"ftrace.txt": HEADER + "".join(line + "\n" for line in lines)}
