"""Request/response clients on the far side of the wire: netperf UDP_RR instances
(shared-state-dim-rr.md §5.1). Each instance is a process with one transaction
outstanding: it sends a request, waits until the whole response is in, counts the
transaction and, after its think time, sends the next. UDP_RR has no retransmission: a
request or response lost anywhere stalls its instance, unless a receive timeout
(netperf's `-e`) is set, after which it sends a fresh request.

The nic runs them: a request starts on the receive wire when its instance sends it, and
the instance learns of a response when the response's last bit leaves the host's port
(its RTT is from the request's start to then). Events are processed in time order up to
a horizon the nic knows nothing earlier can change (`requests_before`).

May import: `engine`, numpy.
"""

from __future__ import annotations

import heapq

from softnet.engine.histogram import Recorder

RESPONSE, TIMEOUT, START = 0, 1, 2     # at one time: a response first, then a timeout


class Instance:
    __slots__ = ("flow", "group", "start", "stop", "think", "timeout", "outstanding",
                 "sent_at", "seq")

    def __init__(self, spec: dict, end: int) -> None:
        self.flow = spec["flow"]             # the instance's own flow (its source port)
        self.group = spec["group"]           # the [[flows]] entry it belongs to
        self.start = spec["start_ns"]
        self.stop = min(spec["stop_ns"] if spec["stop_ns"] is not None else end, end)
        self.think = spec["think_ns"]
        self.timeout = spec["timeout_ns"]    # None: wait for ever, as netperf by default
        self.outstanding = False
        self.sent_at = 0
        self.seq = 0                         # requests sent (a timeout names the one it is for)


class RrClients:
    def __init__(self, instances: list[dict], end: int) -> None:
        self.inst = {s["flow"]: Instance(s, end) for s in instances}
        self.heap: list[tuple] = []
        for i in self.inst.values():
            if i.start < i.stop:
                heapq.heappush(self.heap, (i.start, START, i.flow, 0))
        self.min_think = min((i.think for i in self.inst.values()), default=0)
        self.groups = sorted({i.group for i in self.inst.values()})
        self.transactions = {g: 0 for g in self.groups}
        self.timeouts = {g: 0 for g in self.groups}
        self.rtt = {g: Recorder() for g in self.groups}

    def response(self, t: int, flow: int) -> None:
        """A response to `flow`'s instance left the host's port at t."""
        heapq.heappush(self.heap, (t, RESPONSE, flow, 0))

    def requests_before(self, horizon: int) -> list[tuple[int, int]]:
        """(start time, flow) of the requests the instances send before `horizon`, after
        every event before it."""
        out = []
        heap = self.heap
        while heap and heap[0][0] < horizon:
            t, kind, flow, seq = heapq.heappop(heap)
            i = self.inst[flow]
            if kind == RESPONSE:
                if not i.outstanding:
                    continue                 # answers a request already given up on
                i.outstanding = False
                self.transactions[i.group] += 1
                self.rtt[i.group].add(t - i.sent_at)
                heapq.heappush(heap, (t + i.think, START, flow, 0))
            elif kind == TIMEOUT:
                if i.outstanding and seq == i.seq:
                    i.outstanding = False    # recv timed out: a fresh request now
                    self.timeouts[i.group] += 1
                    heapq.heappush(heap, (t, START, flow, 0))
            elif t < i.stop:
                i.outstanding = True
                i.sent_at = t
                i.seq += 1
                out.append((t, flow))
                if i.timeout is not None:
                    heapq.heappush(heap, (t + i.timeout, TIMEOUT, flow, i.seq))
        return out

    def result(self) -> dict:
        return {g: {"transactions": self.transactions[g], "timeouts": self.timeouts[g],
                    "rtt_ns": self.rtt[g].export(),
                    "outstanding": sum(1 for i in self.inst.values()
                                       if i.group == g and i.outstanding)}
                for g in self.groups}
