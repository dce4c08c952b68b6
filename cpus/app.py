"""Applications: a task pinned to a CPU that reads from its socket, sends (`udp_sender`),
or answers requests (`udp_rr_server`, `tcp_rr_server`: netperf's UDP_RR and TCP_RR
servers).

Each read is `recvmsg` (kernel side, from the cost profile) plus the application's own
`cost_per_read`. A UDP read takes one datagram — a GRO super-datagram whole on a
UDP_GRO socket — and `Udp InDatagrams` counts it (kernel-spec §9.3). A TCP read copies
up to the application's buffer size across queued segments. A reader that finds its
socket empty sleeps until `sk_data_ready` wakes it.

The profile's `udp_recvmsg` was measured with 18-byte payloads (64-byte frames), copy
included; a longer datagram adds `copy_to_user_kb` per KiB beyond those 18 bytes.
"""

from __future__ import annotations

from functools import partial

from .sched import BLOCK

UDP_HDRS = 14 + 20 + 8       # skb->len counts the Ethernet header; payload starts after UDP
MEASURED_PAYLOAD = 18        # 64-byte frame − FCS − headers: what udp_recvmsg's figure copied


def udp_reader(cpu, sock, cost_per_read: int, books, udp_mib: dict, task_ref: list,
               record_flow=None):
    """`record_flow`: RFS's sock_rps_record_flow, which inet_recvmsg calls on every
    recvmsg before the protocol's own (None when RFS is off)."""
    c = cpu.costs
    per_read = c.udp_recvmsg + cost_per_read
    while True:
        yield from udp_recvmsg(cpu, sock, per_read, books, udp_mib, task_ref, record_flow)


def udp_recvmsg(cpu, sock, per_read: int, books, udp_mib: dict, task_ref: list,
                record_flow):
    """One recvmsg: it sleeps in the call until a datagram is queued (__skb_recv_udp),
    then copies it out. Returns the datagram's skb (its flow tells where it came from)."""
    while True:
        if record_flow is not None:
            record_flow(sock)
        skb = sock.recv(cpu.index, cpu.now)
        while skb is None and sock.read_stall:   # the empty check fetched the line back
            stall, sock.read_stall = sock.read_stall, 0
            yield stall
            skb = sock.recv(cpu.index, cpu.now)
        if skb is not None:
            break
        sock.waiter = task_ref[0]
        yield BLOCK
    udp_mib["InDatagrams"] += 1
    books.delivered(skb, cpu.now)
    extra = skb.len - UDP_HDRS - MEASURED_PAYLOAD
    stall, sock.read_stall = sock.read_stall, 0     # spinning, and lines other CPUs wrote
    yield per_read + stall + (extra * cpu.costs.copy_to_user_kb >> 10 if extra > 0 else 0)
    return skb


def udp_rr_server(cpu, sock, tsk, tx, cost_per_read: int, books, udp_mib: dict,
                  task_ref: list, record_flow, responses: dict):
    """netperf's UDP_RR server (recv_omni): recvfrom a request, sendto its response back
    to where it came from on the same socket, blocking while the send buffer is full.
    `responses`: per request flow (its client), the response's payload and skb hash."""
    c = cpu.costs
    per_read = c.udp_recvmsg + cost_per_read
    # per client: how its response is built, what sending it costs, its skb hash
    sends = {f: (partial(tx.rr_response, flow=f, payload=n), sendmsg_cost(c, n), h)
             for f, (n, h) in responses.items()}
    while True:
        skb = yield from udp_recvmsg(cpu, sock, per_read, books, udp_mib, task_ref,
                                     record_flow)
        new_skb, per_send, hash_ = sends[skb.flow]
        yield from wait_for_sndbuf(tsk, task_ref)
        yield from udp_sendmsg(c, tsk, tx, books, udp_mib, new_skb, per_send, hash_)


def wait_for_sndbuf(tsk, task_ref: list):
    """sock_alloc_send_skb finding the send buffer full: SOCK_NOSPACE, and a blocking
    socket sleeps until TX completions free half of it (a non-blocking one goes on, to
    fail with EAGAIN)."""
    while tsk.wmem_alloc >= tsk.sndbuf:
        tsk.nospace = True
        if not tsk.blocking:
            return
        tsk.waiter = task_ref[0]
        tsk.blocked += 1
        yield BLOCK


def sendmsg_cost(c, payload: int) -> int:
    """udp_sendmsg per call, with the copy of its payload from user space."""
    return c.udp_sendmsg + (payload * c.copy_to_user_kb >> 10)


def tcp_reader(cpu, sock, cost_per_read: int, read_size: int, books, task_ref: list,
               record_flow=None):
    """recv(fd, buf, read_size) in a loop on an established connection."""
    per_read = cpu.costs.tcp_recvmsg + cost_per_read
    while True:
        yield from tcp_recvmsg(cpu, sock, per_read, read_size, books, task_ref, record_flow)


def tcp_recvmsg(cpu, sock, per_read: int, read_size: int, books, task_ref: list,
                record_flow):
    """One recv: it sleeps in the call until data is queued (sk_wait_data), then copies
    up to `read_size` bytes and frees the skbs it emptied."""
    c = cpu.costs
    while True:
        if record_flow is not None:
            record_flow(sock)
        copied, freed, frags = sock.read(read_size, books, cpu.now)
        if copied:
            break
        sock.waiter = task_ref[0]
        yield BLOCK
    yield per_read + (copied * c.copy_to_user_kb >> 10) + freed * c.kfree_skb + \
        frags * c.kfree_skb_frag


def tcp_rr_server(cpu, sk, tsk, tx, rr, cost_per_read: int, books, task_ref: list,
                  record_flow):
    """netperf's TCP_RR server on one accepted connection (recv_omni): recv the request
    (MSG_WAITALL: one segment holds it), then send the response — tcp_sendmsg, whose
    tcp_push → tcp_write_xmit transmits it at once, carrying the request's ACK and arming
    the loss probe (`rr`: cpus.tcp_rr.TcpRr)."""
    c = cpu.costs
    per_read = c.tcp_recvmsg + cost_per_read
    per_send = c.tcp_sendmsg + (sk.response * c.copy_to_user_kb >> 10)
    while True:
        yield from tcp_recvmsg(cpu, sk, per_read, sk.payload, books, task_ref, record_flow)
        skb = tx.tcp_segment(sk, sk.rcv_nxt, sk.response)
        books.tx_sent[tsk.index] += 1
        tx.own(skb, tsk)                      # (the transmitted clone)
        tsk.sent += 1
        yield per_send
        rr.sent(sk, cpu.now)
        yield from tx.send_bh(skb, tsk, sk.hash)


def udp_sender(cpu, tsk, tx, spec: dict, books, udp_mib: dict, task_ref: list, sleep_until,
               new_skb):
    """sendto() in a loop (kernel-spec §10.1): one datagram per call, `interval_ns` apart
    (pacing is ideal: the application wakes at each send time at no cost) or back to back
    when 0. A send finding the send buffer full fails with EAGAIN (non-blocking; Udp
    SndbufErrors) or sleeps until TX completions free half of it (blocking).

    A datagram above the MTU is built as several skbs (ip_fragments); with UDP_SEGMENT
    one skb holds the whole payload. Either way one sendmsg is one `sent`, charged the
    copy of its whole payload."""
    c = cpu.costs
    per_send = sendmsg_cost(c, spec["payload"])
    interval = spec["interval_ns"]
    count = spec["count"]
    next_t = spec["start_ns"]
    stop = spec["stop_ns"]
    sent = 0
    while count is None or sent < count:
        now = cpu.now
        if stop is not None and now >= stop:
            return
        if now < next_t:
            sleep_until(next_t, task_ref[0])
            yield BLOCK
            continue
        yield from wait_for_sndbuf(tsk, task_ref)
        sent += 1
        if interval:
            next_t = max(next_t + interval, cpu.now)
        yield from udp_sendmsg(c, tsk, tx, books, udp_mib, new_skb, per_send)


def udp_sendmsg(c, tsk, tx, books, udp_mib: dict, new_skb, per_send: int,
                hash_: int | None = None):
    """One sendto() in the kernel: the send buffer check (EAGAIN), ip_make_skb (ENOBUFS
    when a datagram above the MTU outgrows twice the send buffer), then udp_send_skb →
    ip_send_skb with BH disabled (`tx.send_bh`)."""
    books.tx_sent[tsk.index] += 1
    if tsk.wmem_alloc >= tsk.sndbuf:             # EAGAIN
        tsk.eagain += 1
        udp_mib["SndbufErrors"] += 1
        books.tx_drops["sndbuf_eagain"] = books.tx_drops.get("sndbuf_eagain", 0) + 1
        books.tx_dropped[tsk.index] += 1
        yield c.udp_sendmsg
        return
    skbs = new_skb(tsk)
    if len(skbs) > 1:
        # __ip_append_data: skbs after the first come from alloc_skb only while
        # wmem_alloc + what this call already took ≤ 2 × sk_sndbuf, else -ENOBUFS:
        # ip_flush_pending_frames frees the lot, udp_sendmsg counts SndbufErrors
        taken = tsk.wmem_alloc + skbs[0].truesize
        for skb in skbs[1:]:
            if taken > 2 * tsk.sndbuf:
                break
            taken += skb.truesize
        else:
            taken = 0
        if taken:
            udp_mib["SndbufErrors"] += 1
            books.tx_drops["sndbuf_enobufs"] = books.tx_drops.get("sndbuf_enobufs", 0) + 1
            books.tx_dropped[tsk.index] += 1
            yield per_send
            return
    tracer = tx.cpu.tracer
    if tracer is not None and tracer.sample:
        tracer.send(skbs[-1].id, tsk.index, tx.cpu.now)
    for skb in skbs:
        tx.own(skb, tsk)
    tsk.sent += 1
    yield per_send
    yield from tx.send_bh(skbs if len(skbs) > 1 else skbs[0], tsk,
                          tsk.hash if hash_ is None else hash_)
