"""Same-host links over shared memory (design §2), as SimBricks connects its simulators: a
ring per directed link in a memfd that both ends map, so a frame crosses with two copies
and no system call while both ends are awake. The link's socketpair stays as its doorbell:
an end that is about to sleep says so in the ring's header, and the other end then writes
one byte to wake it (the reader when a frame arrives, the writer when room is made).

The header's flags and indices are plain stores on memory both processes map; a wake-up
lost to store/load reordering costs one short poll (`poll_ms`), never a hang. Results do
not depend on the transport: the frames are the same bytes in the same order per link.

May import: the standard library and `engine.transport` (LinkBroken, its fd helpers).
"""

from __future__ import annotations

import mmap
import os
import select
import socket
import struct
from collections import deque

from .transport import LinkBroken, adopt_fd, next_in_turn, spin_for, want_event

HDR = 64                         # write index (Q @0), read index (Q @8), flags (I @16, @20)
CAP = 1 << 22                    # data bytes per link (a frame must fit: see put)
_Q = struct.Struct("<Q")
_I = struct.Struct("<I")
_LEN = _I                        # a frame's length, before it in the ring
W_AT, R_AT, READER_ASLEEP, WRITER_ASLEEP = 0, 8, 16, 20


def make_rings(links: list[tuple[str, str]], cap: int = CAP) -> dict[tuple[str, str], int]:
    """Coordinator side: a zeroed memfd per directed link (src, dst) -> its fd, passed to
    both ends (`pass_fds`); closed with the processes, so nothing is left behind."""
    out = {}
    for src, dst in links:
        fd = os.memfd_create(f"softnet-{src}.{dst}", 0)
        os.ftruncate(fd, HDR + cap)
        out[(src, dst)] = fd
    return out


class _Ring:
    __slots__ = ("mm", "cap")

    def __init__(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        self.mm = mmap.mmap(fd, size)
        self.cap = size - HDR

    def get(self, at: int) -> int:
        return _Q.unpack_from(self.mm, at)[0] if at < 16 else _I.unpack_from(self.mm, at)[0]

    def put_q(self, at: int, v: int) -> None:
        _Q.pack_into(self.mm, at, v)

    def flag(self, at: int, v: int) -> None:
        _I.pack_into(self.mm, at, v)

    def write(self, pos: int, data) -> None:
        """Copy `data` in at ring position `pos`, wrapping at the end."""
        cap, mm = self.cap, self.mm
        i = pos % cap
        n = len(data)
        first = min(n, cap - i)
        mm[HDR + i:HDR + i + first] = data[:first]
        if first < n:
            mm[HDR:HDR + n - first] = data[first:]

    def read(self, pos: int, n: int) -> bytes:
        cap, mm = self.cap, self.mm
        i = pos % cap
        first = min(n, cap - i)
        if first == n:
            return mm[HDR + i:HDR + i + n]
        return mm[HDR + i:HDR + cap] + mm[HDR:HDR + n - first]


class _In:
    __slots__ = ("src", "ring", "bell", "r", "eof")

    def __init__(self, src: str, ring: _Ring, bell: socket.socket) -> None:
        self.src = src
        self.ring = ring
        self.bell = bell
        self.r = ring.get(R_AT)
        self.eof = False

    def ready(self) -> bool:
        return self.ring.get(W_AT) > self.r

    def take(self) -> bytes | None:
        ring = self.ring
        if ring.get(W_AT) <= self.r:
            return None
        n = _LEN.unpack(ring.read(self.r, _LEN.size))[0]
        frame = ring.read(self.r + _LEN.size, n)
        self.r += _LEN.size + n
        ring.put_q(R_AT, self.r)
        if ring.get(WRITER_ASLEEP):          # room made: wake a writer waiting for it
            ring.flag(WRITER_ASLEEP, 0)
            _ring_bell(self.bell, self.src)
        return frame


class _Out:
    __slots__ = ("dst", "ring", "bell", "w", "queue")

    def __init__(self, dst: str, ring: _Ring, bell: socket.socket) -> None:
        self.dst = dst
        self.ring = ring
        self.bell = bell
        self.w = ring.get(W_AT)
        self.queue: deque[bytes] = deque()


def _ring_bell(bell: socket.socket, peer: str) -> None:
    try:
        bell.send(b"\x01")
    except BlockingIOError:
        pass                             # bytes already wait there: it will wake
    except (BrokenPipeError, ConnectionResetError):
        raise LinkBroken(peer) from None


def _drain(bell: socket.socket) -> bool:
    """Read the doorbell's bytes; False when the peer has gone (end of file)."""
    while True:
        try:
            got = bell.recv(4096)
        except BlockingIOError:
            return True
        except (ConnectionResetError, BrokenPipeError):
            return False
        if not got:
            return False


class ShmLinks:
    kind = "shm"
    spins = True
    poll_ms = 2                          # a lost wake-up costs at most this

    def __init__(self, in_rings: dict[str, int], out_rings: dict[str, int],
                 in_bells: dict[str, int], out_bells: dict[str, int]) -> None:
        self.ins = [_In(src, _Ring(fd), adopt_fd(in_bells[src]))
                    for src, fd in sorted(in_rings.items())]
        self.outs = {dst: _Out(dst, _Ring(fd), adopt_fd(out_bells[dst]))
                     for dst, fd in out_rings.items()}
        self._next = 0
        self._queued = 0
        self._armed = False

    # -- sending ---------------------------------------------------------------------
    def put(self, dst: str, data: bytes) -> None:
        o = self.outs[dst]
        if _LEN.size + len(data) > o.ring.cap:
            raise RuntimeError(f"a frame of {len(data)} bytes for {dst} does not fit its "
                               f"link's ring ({o.ring.cap} bytes)")
        o.queue.append(data)
        self._queued += 1

    def flush(self) -> None:
        if not self._queued:
            return
        for o in self.outs.values():
            q = o.queue
            ring = o.ring
            wrote = False
            while q:
                data = q[0]
                need = _LEN.size + len(data)
                if ring.cap - (o.w - ring.get(R_AT)) < need:
                    ring.flag(WRITER_ASLEEP, 1)      # the reader wakes us when it reads
                    if ring.cap - (o.w - ring.get(R_AT)) < need:
                        break
                    ring.flag(WRITER_ASLEEP, 0)
                ring.write(o.w, _LEN.pack(len(data)))
                ring.write(o.w + _LEN.size, data)
                o.w += need
                q.popleft()
                self._queued -= 1
                wrote = True
            if wrote:
                ring.put_q(W_AT, o.w)
                if ring.get(READER_ASLEEP):
                    ring.flag(READER_ASLEEP, 0)
                    _ring_bell(o.bell, o.dst)

    def blocked(self) -> bool:
        return self._queued > 0

    # -- receiving -------------------------------------------------------------------
    def _wake_up(self) -> None:
        """After a sleep: take back the asleep flags and the doorbells' bytes."""
        self._armed = False
        for i in self.ins:
            i.ring.flag(READER_ASLEEP, 0)
            if not i.eof and not _drain(i.bell):
                i.eof = True
        for o in self.outs.values():
            if not _drain(o.bell) and o.queue:
                raise LinkBroken(o.dst)

    def next_frame(self, only: frozenset | None = None) -> bytes | None:
        if self._armed:
            self._wake_up()
        return next_in_turn(self, only, _In.take)

    def buffered(self, only: frozenset | None = None) -> bool:
        """A whole frame waits in a ring (visible without a system call)."""
        return any(i.ready() for i in self.ins if only is None or i.src in only)

    def spin(self, seconds: float, only: frozenset | None = None) -> bool:
        return spin_for(self, seconds, lambda: self.buffered(only))

    def register(self, poller, only: frozenset | None = None) -> bool:
        """Say we sleep (in each ring we wait on) and poll the doorbells; True when input
        came meanwhile (then do not sleep)."""
        self._armed = True
        for i in self.ins:
            want = not i.eof and (only is None or i.src in only)
            if want:
                i.ring.flag(READER_ASLEEP, 1)
            want_event(poller, i.bell.fileno(), select.POLLIN, want)
        for o in self.outs.values():
            want_event(poller, o.bell.fileno(), select.POLLIN, bool(o.queue))
        return self.buffered(only)
