"""How an LP process's frames travel: the data plane behind `process`, in two kinds that
carry the same bytes in the same order per link, so results are identical whichever is used.

- `ZmqLinks`: one PULL inbox per LP and a PUSH per output link over `ipc://` (or `tcp://`
  between machines). Blocks rather than drops at the high-water mark. Each message wakes
  libzmq's I/O threads, which costs a cross-core wake-up per message on a virtualised host.
- `PairLinks`: one AF_UNIX stream socketpair per link, made by the coordinator and handed
  to both ends at start; frames are length-prefixed; no I/O thread. A receiver with a core
  of its own spins for a bounded time before it blocks, so a peer's answer within that time
  costs no wake-up at all (design §2: "a channel without I/O threads that spins for a
  bounded time before blocking"). The kernel's socket buffer is the high-water mark.

Both keep a frame that does not fit parked and retry while the LP serves its input, so two
LPs that feed each other cannot deadlock on full pipes; and both hand out input one frame at
a time, so an LP takes frames only until it can advance again and what stays in the pipe
holds its sender back (memory stays bounded however far ahead a sender could run).

May import: the standard library and pyzmq.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import time
from array import array
from collections import deque

import zmq

HWM = 64                      # ZeroMQ: frames queued per pipe before the sender holds back
_LEN = struct.Struct("<I")    # PairLinks: a frame's length, then the frame
READ_CHUNK = 1 << 18


class LinkBroken(ConnectionError):
    """The process at the other end of a link has gone (the coordinator names it)."""


class ZmqLinks:
    kind = "zmq"
    spins = False                  # libzmq wakes its own threads; spinning only adds to it
    poll_ms = 0                    # the engine's own liveness interval

    def __init__(self, ctx: zmq.Context, name: str, base: str, in_srcs, out_dsts) -> None:
        # a PULL per input link (not one inbox for all), so an LP can choose which links
        # it reads (`next_frame(only=…)`)
        self.ins: dict[str, zmq.Socket] = {}
        for src in sorted(in_srcs):
            s = ctx.socket(zmq.PULL)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVHWM, HWM)
            s.bind(link_endpoint(base, src, name))
            self.ins[src] = s
        self.outs: dict[str, zmq.Socket] = {}
        for dst in out_dsts:
            s = ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, HWM)
            s.connect(link_endpoint(base, name, dst))
            self.outs[dst] = s
        self.parked: dict[str, deque[bytes]] = {dst: deque() for dst in self.outs}
        self._order = list(self.ins)
        self._next = 0

    def put(self, dst: str, data: bytes) -> None:
        self.parked[dst].append(data)

    def flush(self) -> None:
        for dst, q in self.parked.items():
            sock = self.outs[dst]
            while q:
                try:
                    sock.send(q[0], zmq.NOBLOCK)
                except zmq.Again:
                    break
                q.popleft()

    def blocked(self) -> bool:
        return any(self.parked.values())

    def next_frame(self, only: frozenset | None = None) -> bytes | None:
        order = self._order
        n = len(order)
        for k in range(n):
            src = order[(self._next + k) % n]
            if only is not None and src not in only:
                continue
            try:
                frame = self.ins[src].recv(zmq.NOBLOCK)
            except zmq.Again:
                continue
            self._next = (self._next + k + 1) % n
            return frame
        return None

    def buffered(self, only: frozenset | None = None) -> bool:
        return False                   # every frame not taken stays in the socket

    def register(self, poller: zmq.Poller, only: frozenset | None = None) -> None:
        for src, sock in self.ins.items():
            want_event(poller, sock, zmq.POLLIN, only is None or src in only)
        for dst, sock in self.outs.items():
            want_event(poller, sock, zmq.POLLOUT, bool(self.parked[dst]))


class _In:
    __slots__ = ("src", "sock", "buf", "pos", "eof")

    def __init__(self, src: str, sock: socket.socket) -> None:
        self.src = src
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0                   # frames before it have been handed out
        self.eof = False

    def take(self) -> bytes | None:
        """One complete length-prefixed frame, or None."""
        buf, pos = self.buf, self.pos
        if len(buf) - pos < _LEN.size:
            return None
        (n,) = _LEN.unpack_from(buf, pos)
        end = pos + _LEN.size + n
        if len(buf) < end:
            return None
        frame = bytes(buf[pos + _LEN.size:end])
        if end == len(buf):
            buf.clear()
            self.pos = 0
        elif end > READ_CHUNK:         # compact now and then, not per frame
            del buf[:end]
            self.pos = 0
        else:
            self.pos = end
        return frame

    def has_frame(self) -> bool:
        buf, pos = self.buf, self.pos
        return len(buf) - pos >= _LEN.size and \
            len(buf) >= pos + _LEN.size + _LEN.unpack_from(buf, pos)[0]


class _Out:
    __slots__ = ("sock", "queue", "sent")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queue: deque[bytes] = deque()
        self.sent = 0                  # bytes of queue[0] already written


class PairLinks:
    kind = "pair"
    spins = True
    poll_ms = 0

    def __init__(self, in_fds: dict[str, int], out_fds: dict[str, int]) -> None:
        self.ins = [_In(src, adopt_fd(fd)) for src, fd in sorted(in_fds.items())]
        self.outs = {dst: _Out(adopt_fd(fd)) for dst, fd in out_fds.items()}
        self._next = 0                 # which input is read first next time (fairness)
        self._queued = 0               # frames put and not yet wholly sent (hot: a counter)
        self._scratch = bytearray(READ_CHUNK)
        self._scratch_view = memoryview(self._scratch)
        self._avail = array("i", [0])  # FIONREAD's answer

    def put(self, dst: str, data: bytes) -> None:
        self.outs[dst].queue.append(_LEN.pack(len(data)) + data)
        self._queued += 1

    def flush(self) -> None:
        if not self._queued:
            return
        for dst, o in self.outs.items():
            q = o.queue
            while q:
                try:
                    n = o.sock.send(memoryview(q[0])[o.sent:])
                except BlockingIOError:
                    break
                except (BrokenPipeError, ConnectionResetError):
                    raise LinkBroken(dst) from None
                o.sent += n
                if o.sent < len(q[0]):
                    break
                q.popleft()
                o.sent = 0
                self._queued -= 1

    def blocked(self) -> bool:
        return self._queued > 0

    def next_frame(self, only: frozenset | None = None) -> bytes | None:
        return next_in_turn(self, only, self._take)

    def _take(self, i: _In) -> bytes | None:
        """A whole frame from input i: buffered, or after reading what its socket holds."""
        frame = i.take()
        if frame is None and not i.eof:
            try:
                # into one scratch buffer: recv(n) would allocate (and free) n bytes
                # on every call, which for a large n is an mmap each time
                got = i.sock.recv_into(self._scratch)
            except BlockingIOError:
                return None
            if not got:
                i.eof = True
                return None
            i.buf += self._scratch_view[:got]
            frame = i.take()
        return frame

    def buffered(self, only: frozenset | None = None) -> bool:
        """A whole frame waits in this process already: polling the sockets would not
        show it."""
        return any(i.has_frame() for i in self.ins if only is None or i.src in only)

    def readable_now(self, only: frozenset | None = None) -> bool:
        """Input waits in a buffer or a socket (without taking it)."""
        for i in self.ins:
            if only is not None and i.src not in only:
                continue
            if i.has_frame():
                return True
            # bytes waiting, without an exception when there are none (end-of-file shows
            # as none here; the blocking poll sees it)
            if not i.eof and fcntl.ioctl(i.sock.fileno(), termios.FIONREAD, self._avail,
                                         True) == 0 and self._avail[0]:
                return True
        return False

    def spin(self, seconds: float, only: frozenset | None = None) -> bool:
        return spin_for(self, seconds, lambda: self.readable_now(only))

    def register(self, poller: zmq.Poller, only: frozenset | None = None) -> None:
        for i in self.ins:
            want_event(poller, i.sock.fileno(), zmq.POLLIN,
                  not i.eof and (only is None or i.src in only))
        for o in self.outs.values():
            want_event(poller, o.sock.fileno(), zmq.POLLOUT, bool(o.queue))


def next_in_turn(links, only: frozenset | None, take):
    """The next whole frame from the inputs in turn (`only`: from those alone), starting
    after the input that gave the last one, so no input starves; `take(input)` gives a
    frame or None. Shared by the same-host transports."""
    ins = links.ins
    n = len(ins)
    for k in range(n):
        i = ins[(links._next + k) % n]
        if only is not None and i.src not in only:
            continue
        frame = take(i)
        if frame is not None:
            links._next = (links._next + k + 1) % n
            return frame
    return None


def spin_for(links, seconds: float, readable) -> bool:
    """Busy-wait up to `seconds` for input (`readable()`) or room to send the frames
    `links` holds back; True if either came. Shared by the same-host transports."""
    clock = time.perf_counter
    deadline = clock() + seconds
    while clock() < deadline:
        if links.blocked():
            links.flush()
            if not links.blocked():
                return True
        if readable():
            return True
    return False


def want_event(poller: zmq.Poller, what, event: int, on: bool) -> None:
    """Poll `what` (a socket or an fd) for `event`, or not at all."""
    if on:
        poller.register(what, event)
    else:
        try:
            poller.unregister(what)
        except KeyError:
            pass


def link_endpoint(base: str, src: str, dst: str) -> str:
    return f"{base}/{src}.{dst}"


def cycle_inputs(links: list[tuple[str, str]]) -> dict[str, frozenset]:
    """For each LP, the inputs that lie on a cycle of links through it (their sender can
    be held up, through some path, by this LP). An LP blocked on a full output reads only
    these: that is enough to break any cycle of full pipes, and it keeps a blocked LP from
    swallowing a feed-forward sender's output without bound (a sender that runs ahead on
    its own, such as the nic's receive traffic, waits in the pipe instead)."""
    succ: dict[str, set] = {}
    for src, dst in links:
        succ.setdefault(src, set()).add(dst)
        succ.setdefault(dst, set())
    out = {}
    for lp in succ:
        seen, todo = set(), [lp]
        while todo:                    # everything lp can reach
            for nxt in succ[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[lp] = frozenset(src for src, dst in links if dst == lp and src in seen)
    return out


def adopt_fd(fd: int) -> socket.socket:
    s = socket.socket(fileno=fd)
    s.setblocking(False)
    return s


def make_pairs(links: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """Coordinator side: a socketpair per directed link (src, dst) -> (src's fd, dst's fd).
    The fds are inheritable only through `pass_fds`."""
    out = {}
    for src, dst in links:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out[(src, dst)] = (a.detach(), b.detach())
    return out

