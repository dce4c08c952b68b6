"""A toy LP for engine tests: bounces a token to its peer; each bounce takes `work` ns
locally, then crosses a link. Both LPs also tick on their own, to exercise promises."""

from softnet.engine.events import PRIO_LINK, EventQueue
from softnet.engine.lp import LogicalProcess


class Bouncer(LogicalProcess):
    def __init__(self, name, index, args):
        self.name, self.index = name, index
        self.peer = args["peer"]
        self.work = args["work"]
        self.ev = EventQueue(index)
        self.out = []
        self.log = []
        self.seq = 0
        if args.get("serve"):
            self.ev.schedule(0, self._bounce, 0)
        if args.get("tick", True):
            self.ev.schedule(1000, self._tick, None)

    def _bounce(self, t, hops):
        self.log.append(("bounce", t, hops))
        self.seq += 1
        self.out.append((self.out_links[self.peer].deliver(t + self.work), self.seq, hops + 1))

    def _tick(self, t, _):
        self.log.append(("tick", t))
        self.ev.schedule(t + 7777, self._tick, None)

    def receive(self, src, payload):
        for stamp, seq, hops in payload:
            self.ev.schedule_keyed(stamp, PRIO_LINK, 99, seq, self._bounce, hops)

    def advance(self, safe):
        while self.ev.next_time() < safe:
            t, *_, h, arg = self.ev.pop()
            h(t, arg)

    def take_outbox(self, dst):
        out, self.out = self.out, []
        return out or None

    def result(self):
        return {"log": self.log}


def build(name, index, args):
    return Bouncer(name, index, args)
