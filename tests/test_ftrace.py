"""The function graph (`--ftrace`): ftrace's function_graph text as 6.6 prints it, drawn
from the steps that cost time."""

import re

import pytest

from helpers import ROOT, softnet

from softnet.coordinator.cli import main
from softnet.coordinator.config import ConfigError, apply_sets, load_file, validate
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
    # nests on the stack of the task it interrupted
    stacks: dict = {None: []}          # task -> [(depth, children's total ns)] open
    stack = stacks[None]
    names = set()
    switches = nested = 0
    it = iter(lines)
    for line in it:
        if ARROW.match(line):
            nested += line.endswith("==========> |") and bool(stack)
            continue
        if line == DASHES:                      # a context switch: banner, dashes, blank
            m = SWITCH.match(next(it))
            assert m and m[1] != m[2]
            assert next(it) == DASHES and next(it) == ""
            if None in stacks:                  # the lines so far were the first task's
                stacks[m[1].strip()] = stacks.pop(None)
            stack = stacks.setdefault(m[2].strip(), [])
            switches += 1
            continue
        m = LINE.match(line)
        assert m, line
        depth = len(m["indent"]) // 2
        t = m["text"]
        if t.endswith("() {"):
            assert m["dur"] is None
            assert depth == len(stack), line
            stack.append([depth, 0])
            names.add(t[:-4])
        elif t == "}":
            d, children = stack.pop()
            assert d == depth
            ns = round(float(m["dur"]) * 1000)
            assert ns >= children              # a call lasts at least what it called
            if stack:
                stack[-1][1] += ns
        else:
            assert t.endswith("();") and depth == len(stack), line
            names.add(t[:-3])
            if stack:
                stack[-1][1] += round(float(m["dur"]) * 1000)
    # what is open at the end is what each task was still in when the run ended
    assert all(d == i for st in stacks.values() for i, (d, _) in enumerate(st))
    return names, switches, nested


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


@pytest.mark.parametrize("file, n, roots, what", [
    (SENDER, 3, {"udp_sendmsg", "net_tx_action"}, "sent"),
    (None, 2, {"net_rx_action", "udp_recvmsg"}, "received"),
])
def test_the_graphs_of_n_followed_packets(tmp_path, file, n, roots, what):
    """observe.ftrace_packets: only the calls that handled the first N followed packets,
    each from the call set_graph_function would start at, named by a comment first."""
    out = tmp_path / "p"
    assert main(["run", *([file] if file else []), "--mode", "inline", "--out", str(out),
                 "--quiet", "--duration", "1ms", "--ftrace", "--set",
                 f"observe.ftrace_packets={n}", "--set", "observe.trace_sample=1"]) == 0
    text = (out / "ftrace.txt").read_text()
    assert text.startswith(HEADER)
    blocks = _blocks(text)
    named = {w for notes, _, _ in blocks for w in notes}
    assert len(named) == n and all(w.endswith(what) for w in named)
    assert {name for _, name, _ in blocks} == roots
    depth = 0
    for line in text.splitlines()[4:]:
        depth += line.endswith("{") - line.endswith("}")
        assert depth >= 0
    assert depth == 0
    # every call shown is one that handled a named packet, its comment before it
    assert blocks and all(notes for notes, _, _ in blocks)
    if file:                                    # the same from processes (whose slices
        r = softnet("run", file, "--mode", "process", "--out", str(tmp_path / "pp"),
                    "--quiet", "--duration", "1ms", "--ftrace", "--set",   # come as lists)
                    f"observe.ftrace_packets={n}", "--set", "observe.trace_sample=1")
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "pp" / "ftrace.txt").read_text() == text
    with pytest.raises(ConfigError) as e:
        validate(apply_sets(load_file(None), ["observe.ftrace_packets=3"]))
    assert "needs ftrace = true" in str(e.value)


def test_an_interrupt_nests_in_the_call_it_cut(tmp_path):
    """A hard IRQ taken between two steps of net_rx_action shows inside it, and the call
    is one, lasting across the interrupt."""
    out = tmp_path / "n"
    assert main(["run", "--mode", "inline", "--out", str(out), "--quiet", "--duration",
                 "3ms", "--ftrace", "--set", "flows.0.rate=1Mpps"]) == 0
    names, switches, nested = _check_graph((out / "ftrace.txt").read_text())
    assert nested >= 1 and "udp_recvmsg" in names and "udp_reader" not in names
