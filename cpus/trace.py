"""Timeline trace of one CPU (`[observe] trace`): the slices Perfetto draws, one track per
context — hard IRQs, softirqs run on IRQ exit, ksoftirqd and each task — each slice named
after the kernel function it stands for (`handle_softirqs`, `net_rx_action`,
`__napi_poll`, `igb_poll`, `udp_recvmsg` …).

No function is wrapped: every step the CPU executes was yielded by a chain of kernel
generators (`yield from`), and that chain, read at the step (`gi_yieldfrom`, `co_name`),
is the call stack at that moment. Consecutive steps of one context extend the slices
their stacks share; a stack that changes closes and opens slices; a context that stops
(preempted by a hard IRQ, switched out, idle) closes all of its slices, which reopen when
it runs again, so slices nest strictly on every track and the outermost ones add up to
the CPU time of their context exactly. Steps that cost nothing are left out. Drops are
instants (when the CPU booked them), as are interrupts when raised (taken at the next step
boundary: the hard IRQ slice shows when) and the RPS IPIs the CPU sends, and
at each hard IRQ the occupancies that changed (RX ring backlog, the backlog queue, socket
memory) are counters.

A slice's arguments come from tracepoints the kernel functions fire (`trace_napi_poll` in
`__napi_poll`, as the kernel's own): the tracepoint finds the call it belongs to among the
open slices whose generator is executing (`gi_running`). A call a hard IRQ or a switch
cut into pieces has its arguments on its last piece, so each call counts once.

May import: `engine.skb`, the standard library.
"""

from __future__ import annotations

import sys
import weakref

from ..engine.skb import TraceChoice

# generator names that are this model's, not the kernel's
KERNEL_NAMES = {"do_softirq": "handle_softirqs", "_ksoftirqd": "run_ksoftirqd",
                "_tick_handler": "tick_handler", "_ipi_handler": "scheduler_ipi",
                "_rps_trigger_softirq": "rps_trigger_softirq",
                # the transmit path's: udp_send_skb's BH-disabled send, dev_queue_xmit of
                # one skb, and __dev_xmit_skb
                "send_bh": "udp_send_skb", "xmit_one": "dev_queue_xmit",
                "dev_xmit_skb": "__dev_xmit_skb"}

# generators (by code name) whose calls carry arguments: only these look theirs up
ARGS_OF = frozenset({"net_rx_action", "__napi_poll", "igb_clean_tx_irq"})

def call_stack(gen, names: dict[str, str]) -> list[tuple]:
    """(generator, kernel function) of each call a suspended generator chain is in,
    outermost first: the generator tells one call from the next call of the same name."""
    calls = []
    while gen is not None:
        n = gen.gi_code.co_name
        k = names.get(n, n)
        if k:                         # "": a function the kernel inlines (no frame)
            calls.append((gen, k))
        gen = gen.gi_yieldfrom
    return calls


class CpuTrace:
    """Slices of one CPU's tracks: (track, depth, name, start ns, end ns, arguments or
    None, continues, began): one call of its function over consecutive steps of its
    context; `continues` when it goes on a call its context had open when a hard IRQ or
    a switch stopped it (the same generator); `began`, when the call's first step came
    after its task slept in it, the time it went to sleep (else None)."""

    __slots__ = ("start", "end", "room", "slices", "open", "last", "truncated", "instants",
                 "counters", "read_counters", "last_value", "names", "sample", "arrows",
                 "call_args", "pending", "chosen", "xmits", "sends",
                 "events", "resume", "blocked")

    def __init__(self, start: int, end: int, max_records: int, sample: int = 0,
                 flows: set | None = None, senders: set | None = None) -> None:
        self.start, self.end = start, end
        self.room = max_records               # slices, instants and counter values
        # kernel names; the host builder adds the driver's for generators it shares
        self.names = dict(KERNEL_NAMES)
        self.slices: list[tuple] = []
        # track -> [[name, start, gen, args, continues, began], …] outermost first
        self.open: dict[str, list] = {}
        self.last: dict[str, int] = {}        # track -> end of its last step
        # track -> the generators of the calls its context had open when it stopped: the
        # slices that reopen them are pieces of the same calls
        self.resume: dict[str, list] = {}
        # track -> (when, generators) of the calls a task went to sleep in: the slice
        # that opens one of them after the wake-up says when the call began
        self.blocked: dict[str, tuple] = {}
        self.truncated = False
        self.instants: list[tuple] = []       # (time, stage, flow, packets): drops
        self.events: list[tuple] = []         # (time, "irq", vector) raised; (time, "ipi",
                                              # target) sent
        self.counters: list[tuple] = []       # (time, name, value), when a value changed
        self.read_counters = None             # fn() -> [(name, value)], read at hard IRQs
        self.last_value: dict[str, int] = {}
        self.sample = sample                  # follow one packet in this many
        self.arrows: list[tuple] = []         # (id, flow, rx queue, wire, poll, read, reader)
        self.xmits: list[tuple] = []          # (id, flow or -1, rx queue, wire, poll, xmit)
        self.sends: list[tuple] = []          # (last skb's id, sender, sendmsg)
        # the packets followed, and the flows and senders whose drops and packets show
        self.chosen = TraceChoice(sample, start, end, flows, senders)
        # a call's arguments, shared by its slices (a call preempted is several)
        self.call_args: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.pending: dict = {}               # frame -> arguments of a call not yet open

    def step(self, track: str, gen, t0: int, t1: int) -> None:
        """A step of `track`'s generator chain `gen` over [t0, t1)."""
        # outside the window, or once full, `_at` would drop it: skip reading the chain
        if t1 > t0 and t1 > self.start and t0 < self.end and not self.truncated:
            self._at(track, call_stack(gen, self.names), t0, t1)
        if self.pending:
            self.pending.clear()              # a call that ended with no cost has no slice

    def block(self, track: str, gen, t: int) -> None:
        """A task goes to sleep at t inside the calls of its chain (a recvmsg waiting)."""
        if self.start <= t < self.end:
            self.blocked[track] = (t, [g for g, _ in call_stack(gen, self.names)])

    def read(self, pid: int, flow: int, queue: int, t_wire: int, t_poll: int, now: int,
             reader: str) -> None:
        """A sampled packet read by `reader`: its way from the wire, for an arrow."""
        ch = self.chosen
        if ch.packet(pid, t_wire) and now < self.end and ch.flow(flow) and self._room():
            self.arrows.append((pid, flow, queue, t_wire, t_poll, now, reader))

    def send(self, last_id: int, sender: int, now: int) -> None:
        """A sendmsg whose last skb is `last_id`: where its arrow to the wire starts."""
        if self.chosen.packet(last_id, now) and self.chosen.sender(sender) and \
                self._room():
            self.sends.append((last_id, sender, now))

    def xmit(self, skb, now: int) -> None:
        """A sampled packet handed to the driver (ndo_start_xmit): a sender's skb, or a
        forwarded one (with its way from the wire)."""
        ch = self.chosen
        if skb.sock == -2 or not ch.packet(skb.id, now):
            return                            # the kernel's ARP, not sampled, outside
        if skb.sock >= 0:
            if ch.sender(skb.sock) and self._room():
                self.xmits.append((skb.id, -1, -1, 0, 0, now))
        elif ch.flow(skb.flow) and self.start <= skb.t_wire and self._room():
            self.xmits.append((skb.id, skb.flow, skb.queue, skb.t_wire, skb.t_poll, now))

    def event(self, t: int, kind: str, what: str) -> None:
        """An interrupt raised at this CPU (taken at its next step boundary), or an IPI
        this CPU sent."""
        if self.start <= t < self.end and self._room():
            self.events.append((t, kind, what))

    def drop(self, t: int, stage: str, flow: int, n: int) -> None:
        """`flow` -1 - sender for a sender's datagram."""
        if not self.start <= t < self.end:
            return
        if self.chosen.flow(flow) if flow >= 0 else self.chosen.sender(-1 - flow):
            if self._room():
                self.instants.append((t, stage, flow, n))

    # -- tracepoints ------------------------------------------------------------------------
    def napi_poll(self, napi: str, work: int, budget: int) -> None:
        """trace_napi_poll: the poll's fields on its `__napi_poll`, and what net_rx_action
        has spent of its budget so far."""
        d = self._call_args("__napi_poll")
        if d is not None:
            d.update(napi=napi, work=work, budget=budget)
        d = self._call_args("net_rx_action")
        if d is not None:
            d["polls"] = d.get("polls", 0) + 1
            d["work"] = d.get("work", 0) + work

    def args(self, func: str, **fields) -> None:
        """Fields of the running call of generator `func` (its code name)."""
        d = self._call_args(func)
        if d is not None:
            d.update(fields)

    def _call_args(self, func: str) -> dict | None:
        """The arguments of the call of `func` the CPU is executing: its open slice's
        (a running generator is executing, `gi_running`, as is every one delegating to
        it), or, when it has no slice yet, kept for the step that opens it."""
        for stack in self.open.values():
            for e in stack:
                gen = e[2]
                if gen is not None and gen.gi_running and gen.gi_code.co_name == func:
                    return e[3]
        f = sys._getframe(2)
        while f is not None and f.f_code.co_name != func:
            f = f.f_back
        if f is None:
            return None
        return self.pending.setdefault(f, {})

    def _room(self) -> bool:
        if self.room <= 0 or self.truncated:
            self.truncated = True
            return False
        self.room -= 1
        return True

    def leaf(self, track: str, name: str, t0: int, t1: int, args: dict | None = None) -> None:
        """Work outside any generator (a hard IRQ handler, a context switch)."""
        if track == "hardirq" and self.read_counters is not None and \
                self.start <= t0 < self.end and not self.truncated:
            # occupancy as each interrupt finds it, when it has changed
            for cname, v in self.read_counters():
                if self.last_value.get(cname) != v and self._room():
                    self.last_value[cname] = v
                    self.counters.append((t0, cname, v))
        if t1 > t0:
            self._at(track, [(None, self.names.get(name, name))], t0, t1, args)
            if track in self.last:
                self._close(track, 0, self.last[track])

    def _at(self, track: str, calls: list[tuple], t0: int, t1: int,
            leaf_args: dict | None = None) -> None:
        t0, t1 = max(t0, self.start), min(t1, self.end)
        if t1 <= t0 or self.truncated:
            return
        stack = self.open.setdefault(track, [])
        if t0 != self.last.get(track):          # the context stopped meanwhile
            if stack and stack[0][2] is not None:
                self.resume[track] = [e[2] for e in stack]
            self._close(track, 0, self.last.get(track, t0))
        keep = 0
        # the same call goes on (an open slice holds its generator, so `is` cannot be
        # fooled by a new generator at a freed one's address)
        while keep < len(stack) and keep < len(calls) and stack[keep][2] is not None \
                and stack[keep][2] is calls[keep][0]:
            keep += 1
        self._close(track, keep, t0)
        if len(calls) - keep > self.room:
            # the cap: nothing more is recorded; what is open closes at its context's last
            # step (export), so what was recorded still nests and adds up
            self.truncated = True
            return
        call_args = self.call_args
        prev = slept = None
        if calls[0][0] is not None:
            prev = self.resume.pop(track, None)
            slept = self.blocked.pop(track, None)
        for i, (gen, n) in enumerate(calls[keep:], keep):
            self.room -= 1                    # reserved as it opens: its close is sure
            args = leaf_args
            if gen is not None and gen.gi_code.co_name in ARGS_OF:
                args = call_args.get(gen)
                if args is None:
                    args = call_args[gen] = self.pending.pop(gen.gi_frame, None) or {}
            cont = prev is not None and i < len(prev) and prev[i] is gen
            began = slept[0] if slept is not None and not cont and i < len(slept[1]) \
                and slept[1][i] is gen else None
            stack.append([n, t0, gen, args, cont, began])
        self.last[track] = t1

    def _close(self, track: str, depth: int, t: int, final: bool = False) -> None:
        stack = self.open.get(track)
        while stack and len(stack) > depth:
            name, t0, gen, args, cont, began = stack.pop()
            if t > t0:
                if args is not None and gen is not None and gen.gi_frame is not None \
                        and not final:
                    args = None               # the call goes on: its last piece has them
                self.slices.append((track, len(stack), name, t0, t, args, cont, began))
            else:
                self.room += 1                # an empty slice gives its room back

    def export(self) -> dict:
        for track in list(self.open):
            self._close(track, 0, self.last.get(track, 0), True)
        return {"slices": self.slices, "instants": self.instants, "counters": self.counters,
                "arrows": self.arrows, "xmits": self.xmits, "sends": self.sends,
                "events": self.events,
                "truncated": self.truncated}
