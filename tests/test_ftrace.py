"""The function graph (`--ftrace`): ftrace's function_graph text as 6.6 prints it, drawn
from the steps that cost time."""

import re

import pytest

from helpers import ROOT, refused, softnet

from softnet.coordinator.cli import main
from softnet.coordinator.ftrace import DASHES, HEADER, cpu_field, duration, mark, proc

SENDER = f"{ROOT}/examples/sender.toml"
LINE = re.compile(r"^ (\d)\) (?:(?P<mark>[ +!#*@$]) (?P<dur>\d+(?:\.\d+)?) us +\|  |"
                  r" {14}\|  )(?P<indent>(?:  )*)(?P<text>\S.*)$")
ARROW = re.compile(r"^ \d\)   (==========>|<==========) \|$")
SWITCH = re.compile(r"^ \d\) (.{14}) => (.{14})$")


def test_duration_column_as_the_kernel_prints_it():
    assert duration(1234) == "  1.234 us    |  "
    assert duration(14_200) == "+ 14.200 us   |  "
    assert duration(123_456) == "! 123.456 us  |  "
    assert duration(1_234_567) == "# 1234.567 us |  "
    assert duration(12_345_678) == "* 12345.67 us |  "
    assert duration(1_234_567_890) == "$ 1234567 us  |  "
    assert mark(10_000) == " " and mark(10_001) == "+"      # strictly above
    assert cpu_field(3, 4) == " 3) " and cpu_field(3, 12) == "  3) "
    # verif_pid's banner, as the kernel centres comm-pid in 14 columns
    assert f" 0) {proc('cat', 1234)} => {proc('bash', 456)}" == \
        " 0)    cat-1234    =>    bash-456   "
    assert proc("ksoftirqd/1", 18) == "  ksoftir-18  "
    assert proc("sshd", 1755) == "  sshd-1755   "      # an odd space goes to the right


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    out = tmp_path_factory.mktemp("ftrace") / "f"
    assert main(["run", SENDER, "--mode", "inline", "--out", str(out), "--quiet",
                 "--duration", "1ms", "--ftrace"]) == 0
    return out


def _check_graph(text):
    """Nesting and durations, per task; returns (names, switches, IRQs nested in a
    call)."""
    assert text.startswith(HEADER)
    lines = text[len(HEADER):].splitlines()
    assert lines
    # each task has its own stack (as ftrace's ret_stack is per task); an interrupt
    # nests on the stack of the task it interrupted. CPUs follow one another.
    stacks: dict = {}                  # (cpu, task) -> [[depth, children's ns, name]] open
    cpu = stack = None
    names = set()
    inside: dict = {}                  # a leaf or an interrupt -> the calls it was inside
    switches = 0
    it = iter(lines)
    for line in it:
        mc = re.match(r" *(\d+)\) ", line)
        if mc and mc[1] != cpu:                 # the next CPU's lines
            cpu = mc[1]
            stack = stacks.setdefault((cpu, None), [])
        if ARROW.match(line):
            if line.endswith("==========> |"):
                inside.setdefault("irq", set()).add(stack[-1][2] if stack else None)
            continue
        if line == DASHES:                      # a context switch: banner, dashes, blank
            m = SWITCH.match(next(it))
            assert m and m[1] != m[2]
            assert next(it) == DASHES and next(it) == ""
            if (cpu, None) in stacks:           # the lines so far were the first task's
                stacks[(cpu, m[1].strip())] = stacks.pop((cpu, None))
            stack = stacks.setdefault((cpu, m[2].strip()), [])
            switches += 1
            continue
        m = LINE.match(line)
        assert m, line
        depth = len(m["indent"]) // 2
        t = m["text"]
        if t.endswith("() {"):
            assert m["dur"] is None
            assert depth == len(stack), line
            stack.append([depth, 0, t[:-4]])
            names.add(t[:-4])
        elif t == "}":
            d, children, _ = stack.pop()
            assert d == depth
            ns = round(float(m["dur"]) * 1000)
            assert ns >= children              # a call lasts at least what it called
            if stack:
                stack[-1][1] += ns
        elif t.startswith("/* "):
            continue                            # a comment naming a followed packet
        else:
            assert t.endswith("();") and depth == len(stack), line
            names.add(t[:-3])
            inside.setdefault(t[:-3], set()).add(stack[-1][2] if stack else None)
            if stack:
                stack[-1][1] += round(float(m["dur"]) * 1000)
    assert not any(stacks.values())             # every call returns in the graph
    return names, switches, inside


def test_the_graph_nests_and_its_durations_add_up(graph):
    text = (graph / "ftrace.txt").read_text()
    assert not (graph / "trace.json").exists()
    names, switches, _ = _check_graph(text)
    assert switches > 0                         # the sender and ksoftirqd take turns
    assert "udp_sender" not in names            # the application's loop is user space
    # the seed's udp_sendmsg graph, down to the driver's xmit
    for n in ("udp_sendmsg", "udp_send_skb", "ip_send_skb",
              "ip_finish_output2", "dev_queue_xmit", "__dev_xmit_skb", "sch_direct_xmit",
              "igb_xmit_frame_ring", "handle_softirqs", "net_tx_action", "igb_poll",
              "igb_clean_tx_irq", "igb_msix_ring", "__schedule"):
        assert n in names, n
    text = (graph / "ftrace.txt").read_text()
    i = text.index("udp_sendmsg() {")
    for n in ("udp_send_skb() {", "ip_send_skb() {", "dev_queue_xmit() {",
              "igb_xmit_frame_ring();"):
        j = text.index(n, i)
        assert j > i
        i = j                                   # nested in that order, as in the seed


def test_identical_in_both_modes(graph, tmp_path):
    r = softnet("run", SENDER, "--mode", "process", "--out", str(tmp_path / "p"), "--quiet",
                "--duration", "1ms", "--ftrace")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p" / "ftrace.txt").read_bytes() == \
        (graph / "ftrace.txt").read_bytes()


def _blocks(text):
    """(comments, top-level call name, lines) of each packet's graph, in order."""
    out, notes = [], []
    for line in text.splitlines()[4:]:
        m = LINE.match(line)
        if m and m["text"].startswith("/* "):
            notes.append(m["text"][3:-3])
        elif m and not m["indent"] and m["text"] != "}":
            out.append((notes, m["text"].rstrip("{; ").removesuffix("()"), []))
            notes = []
        if out and m:
            out[-1][2].append(line)
    return out


# back to back to a known neighbour: each datagram goes to the driver inside its send
B2B = ('duration = "300us"\ncpus = 1\n[host]\nneigh = { "10.2.0.9" = "permanent" }\n'
       '[nic]\ncombined = 1\n[[apps]]\nname = "blast"\ncpu = 0\n'
       'socket = { proto = "udp", sndbuf = 4000000 }\nsend = { dst = "10.2.0.9:7001", '
       'size = 64 }\n')


@pytest.mark.parametrize("file, n, roots, whats", [
    (SENDER, 3, {"udp_sendmsg", "net_tx_action"}, {"sent", "transmitted"}),
    (None, 2, {"net_rx_action", "udp_recvmsg"}, {"polled", "read"}),
    ("b2b", 3, {"udp_sendmsg", "net_tx_action"}, {"sent", "transmitted"}),
])
def test_the_graphs_of_n_followed_packets(tmp_path, file, n, roots, whats):
    """observe.ftrace_packets: only the calls that handled the first N followed packets,
    each from the call set_graph_function would start at, named by a comment first.
    Back to back, each send is its own udp_sendmsg call (the one its moment begins, not
    the one that ended then)."""
    if file == "b2b":
        file = tmp_path / "b2b.toml"
        file.write_text(B2B)
    out = tmp_path / "p"
    assert main(["run", *([str(file)] if file else []), "--mode", "inline", "--out",
                 str(out), "--quiet", "--duration", "1ms", "--ftrace", "--set",
                 f"observe.ftrace_packets={n}", "--set", "observe.trace_sample=1"]) == 0
    text = (out / "ftrace.txt").read_text()
    assert text.startswith(HEADER)
    blocks = _blocks(text)
    named = {w for notes, _, _ in blocks for w in notes}
    assert len({w.rsplit(": ", 1)[0] for w in named}) == n        # n packets
    assert {w.rsplit(": ", 1)[1] for w in named} == whats
    assert {name for _, name, _ in blocks} == roots
    if file != SENDER and "udp_sendmsg" in roots:           # one call per send
        assert len([1 for _, name, _ in blocks if name == "udp_sendmsg"]) == n
    _check_graph(text)
    # every call shown is one that handled a named packet, its comment before it
    assert blocks and all(notes for notes, _, _ in blocks)
    if file == SENDER:                          # the same from processes (whose slices
        r = softnet("run", file, "--mode", "process", "--out", str(tmp_path / "pp"),
                    "--quiet", "--duration", "1ms", "--ftrace", "--set",   # come as lists)
                    f"observe.ftrace_packets={n}", "--set", "observe.trace_sample=1")
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "pp" / "ftrace.txt").read_text() == text


def test_packet_graphs_need_the_function_graph():
    assert "needs ftrace = true" in refused("observe.ftrace_packets=3")


def test_an_interrupt_nests_in_the_call_it_cut(tmp_path):
    """A hard IRQ taken between two steps of net_rx_action shows inside it (the call is
    one, lasting across the interrupt), and a reader's sleep inside its recvmsg."""
    out = tmp_path / "n"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "3ms", "--ftrace", "--set", "flows.0.rate=1Mpps"]) == 0
    names, switches, inside = _check_graph((out / "ftrace.txt").read_text())
    assert "net_rx_action" in inside["irq"]     # cut between two of its polls
    assert "udp_reader" not in names            # user space
    # a reader that found its socket empty slept in recvmsg: switched back in there
    assert "udp_recvmsg" in inside["__schedule"]
