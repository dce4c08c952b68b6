"""Request/response clients on the far side of the wire: netperf UDP_RR and TCP_RR
instances (shared-state-dim-rr.md §5.1). Each instance is a process with one transaction
outstanding: it sends a request, waits until the whole response is in, counts the
transaction and, after its think time, sends the next. UDP_RR has no retransmission: a
request or response lost anywhere stalls its instance, unless a receive timeout
(netperf's `-e`) is set, after which it sends a fresh request. A TCP_RR instance's
connection is a Linux 6.6 peer's (`tcp_timers`): a lost request is sent again by the
loss probe or the retransmission timer; a response is acknowledged by the next request,
or by a delayed ACK when the think time outlasts the delayed-ACK timer; a duplicate
response is answered at once with a duplicate ACK.

A TCP_RR segment carries its word (`SkBuff.tcp`): +k for the data of transaction k (a
request, or the response to it), -k for a pure ACK of that data. A request k acknowledges
response k-1 and a response k request k, as their piggybacked ACKs do.

The nic runs them: a request starts on the receive wire when its instance sends it, and
the instance learns of a response when the response's last bit leaves the host's port
(its RTT is from the request's start to then). Events are processed in time order up to
a horizon the nic knows nothing earlier can change (`requests_before`).

May import: `engine`, numpy.
"""

from __future__ import annotations

import heapq

from softnet.engine.histogram import Recorder

from .tcp_timers import PROBE, TCP_ATO_MIN_US, Sender, usecs_to_jiffies, wheel_expiry

# at one time: a response first, then a timeout, a start, a TCP timer, a delayed ACK
RESPONSE, TIMEOUT, START, RTX, DELACK = 0, 1, 2, 3, 4


class Instance:
    __slots__ = ("flow", "group", "start", "stop", "think", "timeout", "outstanding",
                 "sent_at", "seq", "tcp", "rcvd", "acked", "dup_from", "rtt", "done")

    def __init__(self, spec: dict, end: int, hz: int) -> None:
        self.flow = spec["flow"]             # the instance's own flow (its source port)
        self.group = spec["group"]           # the [[flows]] entry it belongs to
        self.start = spec["start_ns"]
        self.stop = min(spec["stop_ns"] if spec["stop_ns"] is not None else end, end)
        self.think = spec["think_ns"]
        self.timeout = spec["timeout_ns"]    # None: wait for ever, as netperf by default
        self.outstanding = False
        self.sent_at = 0
        self.seq = 0                         # requests sent (a timeout names the one it is for)
        # TCP_RR: the connection's sender, the last response received, the last one ACKed
        self.tcp = (Sender(hz, spec["handshake_us"], spec["rto_min_us"])
                    if spec.get("proto") == "tcp_rr" else None)
        self.rcvd = 0
        self.acked = 0
        self.dup_from = 0      # no copy of a response already had can come before this
        self.rtt = Recorder(1024)  # this instance's transactions (netperf's own figures)
        self.done = 0


class RrClients:
    def __init__(self, instances: list[dict], end: int, hz: int = 1000) -> None:
        self.jiffy_ns = 1_000_000_000 // hz
        self.inst = {s["flow"]: Instance(s, end, hz) for s in instances}
        self.heap: list[tuple] = []
        for i in self.inst.values():
            if i.start < i.stop:
                heapq.heappush(self.heap, (i.start, START, i.flow, 0))
        # how soon after a response reaches it an instance can send: its think time (a
        # TCP_RR instance's delayed ACK may come first); a duplicate ACK answers at once,
        # but only a response sent again, which the server's timer sends no sooner than
        # tcp_rto_min after the request it answers (`dup_heap`)
        delack_ns = usecs_to_jiffies(TCP_ATO_MIN_US, hz) * self.jiffy_ns
        self.min_think = min((min(i.think, delack_ns) if i.tcp is not None
                              else i.think for i in self.inst.values()), default=0)
        self.dup_heap: list[tuple[int, int]] = []
        self.groups = sorted({i.group for i in self.inst.values()})
        self.transactions = {g: 0 for g in self.groups}
        self.timeouts = {g: 0 for g in self.groups}
        self.rtt = {g: Recorder() for g in self.groups}
        self.tcp_out = {g: {"probes": 0, "timeouts": 0, "retrans_segs": 0, "acks": 0,
                            "dupacks": 0} for g in self.groups}

    def response(self, t: int, flow: int, word: int = 0) -> None:
        """A segment for `flow`'s instance (a response, or for TCP_RR a pure ACK: its
        word) left the host's port at t."""
        heapq.heappush(self.heap, (t, RESPONSE, flow, word))

    def send_bound(self, done_bound: int) -> int:
        """The earliest an instance can send for a response not yet known, which leaves
        the host's port at `done_bound` or later: its think time or delayed ACK after the
        response it waits for, or at once a duplicate ACK for a copy of the last response
        it had. That copy is the server's probe or RTO, no sooner than tcp_rto_min after
        the server sent the response, itself after the request's first send; and it
        concerns the last response, since the server's segments leave in order (one TX
        queue: its owner's, its hash) and it stops sending a response again once the
        next request acknowledges it. `_tcp_event` checks this as it answers."""
        b = done_bound + self.min_think
        heap = self.dup_heap
        while heap and heap[0][0] != self.inst[heap[0][1]].dup_from:
            heapq.heappop(heap)             # superseded by a later response
        return min(b, max(heap[0][0], done_bound)) if heap else b

    def next_send(self, done_bound: int) -> int:
        """No instance sends before this: its next event's time (a start, a timeout, a
        response it has), or `send_bound` for a response not yet known."""
        b = self.send_bound(done_bound)
        return min(self.heap[0][0], b) if self.heap else b

    def requests_before(self, horizon: int) -> list[tuple[int, int, int]]:
        """(start time, flow, TCP word) of the segments the instances send before
        `horizon`, after every event before it."""
        out = []
        heap = self.heap
        while heap and heap[0][0] < horizon:
            t, kind, flow, seq = heapq.heappop(heap)
            i = self.inst[flow]
            if i.tcp is not None:
                self._tcp_event(t, kind, i, seq, out)
                continue
            if kind == RESPONSE:
                if not i.outstanding:
                    continue                 # answers a request already given up on
                i.outstanding = False
                self._completed(i, t)
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
                out.append((t, flow, 0))
                if i.timeout is not None:
                    heapq.heappush(heap, (t + i.timeout, TIMEOUT, flow, i.seq))
        return out

    def _completed(self, i: Instance, t: int) -> None:
        """A transaction of instance `i` completed at `t`: its RTT from the request."""
        self.transactions[i.group] += 1
        self.rtt[i.group].add(t - i.sent_at)
        i.rtt.add(t - i.sent_at)
        i.done += 1

    def _tcp_event(self, t: int, kind: int, i: Instance, arg: int, out: list) -> None:
        """One event of a TCP_RR instance (`arg`: a segment's word, or a timer's arming)."""
        snd = i.tcp
        jn = self.jiffy_ns
        flow = i.flow
        heap = self.heap
        if kind == START:
            if t >= i.stop:
                return
            i.seq += 1
            i.outstanding = True
            i.sent_at = t
            i.acked = i.rcvd                 # the request carries the ACK of the last response
            out.append((t, flow, i.seq))
            heapq.heappush(heap, (snd.sent(i.seq, t, jn), RTX, flow, snd.gen))
        elif kind == RTX:
            if arg != snd.gen or not snd.out:
                return                       # re-armed or cancelled since
            k = self.tcp_out[i.group]
            kind = snd.fire(t, jn)
            if kind:
                k["probes" if kind == PROBE else "timeouts"] += 1
                k["retrans_segs"] += 1
                out.append((t, flow, snd.out))
            heapq.heappush(heap, (snd.timer_at, RTX, flow, snd.gen))
        elif kind == DELACK:
            if i.acked < arg == i.rcvd:     # no request has carried the ACK meanwhile
                i.acked = arg
                self.tcp_out[i.group]["acks"] += 1
                out.append((t, flow, -arg))
        elif arg < 0:                        # a pure ACK of request -arg
            if snd.out == -arg:
                snd.acked(t, jn)
        elif arg == i.seq and i.outstanding:  # the response: it acknowledges the request
            if snd.out == arg:
                snd.acked(t, jn)
            i.outstanding = False
            i.rcvd = arg
            i.dup_from = i.sent_at + snd.rto.rto_min * 1000   # (both ends share it)
            heapq.heappush(self.dup_heap, (i.dup_from, flow))
            self._completed(i, t)
            # the next request carries its ACK, unless the delayed ACK runs first
            clk = t // jn
            at = wheel_expiry(clk + snd.rto.delack_j(), clk) * jn
            if i.think >= at - t or t + i.think >= i.stop:    # (no next request)
                heapq.heappush(heap, (at, DELACK, flow, arg))
            heapq.heappush(heap, (t + i.think, START, flow, 0))
        else:                                # a response already had: a duplicate ACK
            if t < i.dup_from:                   # what send_bound promised on
                raise RuntimeError(f"rr instance {flow}: a copy of response {arg} at {t}, "
                                   f"before {i.dup_from}")
            self.tcp_out[i.group]["dupacks"] += 1
            out.append((t, flow, -i.rcvd))

    def result(self) -> dict:
        return {g: {"transactions": self.transactions[g], "timeouts": self.timeouts[g],
                    "rtt_ns": self.rtt[g].export(),
                    "outstanding": sum(1 for i in self.inst.values()
                                       if i.group == g and i.outstanding),
                    # per instance (flow index): transactions and RTT
                    "instances": [[i.flow, i.done, i.rtt.export()]
                                  for i in self.inst.values() if i.group == g],
                    **({"client_tcp": self.tcp_out[g]} if any(
                        i.tcp is not None for i in self.inst.values() if i.group == g)
                       else {})}
                for g in self.groups}
