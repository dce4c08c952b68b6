"""The same-host channel (socketpairs, length-prefixed frames) and its equivalence with
ZeroMQ: the same frames in the same order per link, whatever the socket buffers do."""

import os
import socket

import pytest

from helpers import BASIC, FILES, softnet

from softnet.engine.transport import LinkBroken, PairLinks, make_pairs


def _pair():
    fds = make_pairs([("a", "b")])
    a_end, b_end = fds[("a", "b")]
    return PairLinks({}, {"b": a_end}), PairLinks({"a": b_end}, {})


def _drain(rx, want):
    got = []
    while len(got) < want:
        f = rx.next_frame()
        if f is None:
            continue
        got.append(f)
    return got


def _cross(tx, rx, frames):
    """Put every frame, then flush while the receiver takes what has come; what came."""
    for f in frames:
        tx.put("b", f)
    got = []
    while tx.blocked() or len(got) < len(frames):
        tx.flush()
        f = rx.next_frame()
        if f is not None:
            got.append(f)
    return got


def test_frames_cross_whole_and_in_order_through_partial_writes():
    # a 2 MB frame is larger than the socket buffer: it goes out in pieces while the
    # receiver takes what has come
    frames = [os.urandom(n) for n in (0, 1, 3, 4, 5, 1000, 300_000, 2_000_000, 7)]
    assert _cross(*_pair(), frames) == frames


def test_a_frame_taken_into_the_buffer_is_seen_without_the_socket():
    tx, rx = _pair()
    for k in range(3):
        tx.put("b", bytes([k]) * 10)
    tx.flush()
    assert rx.next_frame() == b"\0" * 10
    # the other two were read along with the first: the socket is empty, the buffer not
    assert rx.buffered()
    assert _drain(rx, 2) == [b"\1" * 10, b"\2" * 10]
    assert not rx.buffered() and rx.next_frame() is None


def test_a_dead_peer_is_a_broken_link_not_a_crash():
    tx, rx = _pair()
    for i in rx.ins:
        i.sock.close()
    tx.put("b", b"x" * 100)
    with pytest.raises(LinkBroken):
        for _ in range(10):
            tx.flush()


def test_make_pairs_gives_connected_ends():
    fds = make_pairs([("x", "y"), ("y", "x")])
    assert len({fd for ends in fds.values() for fd in ends}) == 4
    a, b = (socket.socket(fileno=fd) for fd in fds[("x", "y")])
    a.sendall(b"hi")
    assert b.recv(2) == b"hi"
    for s in (a, b):
        s.close()
    for fd in fds[("y", "x")]:
        os.close(fd)


def test_every_transport_gives_identical_files(tmp_path):
    sets = ["--set", 'duration="5ms"', "--set", "flows.0.rate=1Mpps",
            "--set", 'nic.rps_cpus={ "rx-0" = "e" }']
    for t in ("pair", "zmq", "shm"):
        r = softnet("run", BASIC, "--transport", t, "--out", str(tmp_path / t), "--quiet",
                    *sets)
        assert r.returncode == 0, r.stderr
    for f in FILES:
        for t in ("zmq", "shm"):
            assert (tmp_path / "pair" / f).read_bytes() == \
                (tmp_path / t / f).read_bytes(), (t, f)


# -- the shared-memory rings (engine/shm.py) ----------------------------------------------
def _shm(cap):
    from softnet.engine.shm import ShmLinks, make_rings
    bells = make_pairs([("a", "b")])
    rings = make_rings([("a", "b")], cap=cap)
    a_end, b_end = bells[("a", "b")]
    ring = rings[("a", "b")]
    return (ShmLinks({}, {"b": ring}, {}, {"b": a_end}),
            ShmLinks({"a": os.dup(ring)}, {}, {"a": b_end}, {}))


def test_shm_frames_cross_whole_and_in_order_through_wrap_and_a_full_ring():
    """A 4 KiB ring: frames wrap around its end, and a writer finding it full waits
    (asleep, its flag set) until the reader makes room and rings it."""
    frames = [os.urandom(n) for n in (0, 1, 3, 1000, 3000, 7, 2500, 4000, 11)]
    assert _cross(*_shm(4096), frames) == frames


def test_shm_wakes_a_sleeping_reader_through_its_doorbell():
    import select
    tx, rx = _shm(1 << 16)
    poller = select.poll()
    assert rx.register(poller) is False          # nothing yet: it may sleep
    tx.put("b", b"hello")
    tx.flush()                                   # sees the reader asleep: rings it
    assert poller.poll(1000), "the doorbell did not ring"
    assert rx.next_frame() == b"hello" and rx.next_frame() is None


def test_shm_a_frame_larger_than_the_ring_is_refused():
    tx, _ = _shm(4096)
    with pytest.raises(RuntimeError, match="does not fit"):
        tx.put("b", b"x" * 5000)


def test_shm_a_dead_reader_is_a_broken_link_for_a_waiting_writer():
    tx, rx = _shm(4096)
    tx.put("b", b"x" * 4000)
    tx.put("b", b"y" * 4000)                     # cannot fit until the first is read
    tx.flush()
    assert tx.blocked()
    for i in rx.ins:
        i.bell.close()
    import select
    tx.register(select.poll())
    with pytest.raises(LinkBroken):
        tx.next_frame()                          # wakes: the doorbell says the peer left


def test_a_blocked_lp_reads_only_links_on_a_cycle_through_it():
    from softnet.engine.transport import cycle_inputs
    links = [("nic", "cpu0"), ("nic", "cpu1"), ("cpu0", "cpu1"), ("cpu1", "cpu0"),
             ("a", "b"), ("b", "c"), ("c", "a"), ("cpu1", "nic")]
    c = cycle_inputs(links)
    # the nic's frames to cpu0 are feed-forward unless a path leads back to the nic
    assert c["cpu0"] == {"cpu1", "nic"}          # cpu0 → cpu1 → nic: the nic can wait on it
    assert c["a"] == {"c"} and c["b"] == {"a"} and c["c"] == {"b"}
    assert cycle_inputs(links[:4])["cpu0"] == {"cpu1"}    # no TX: the nic only feeds
    assert cycle_inputs(links[:4])["nic"] == frozenset()
