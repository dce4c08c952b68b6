"""Applications: a task pinned to a CPU that reads datagrams from its socket.

Each read is `recvmsg` (kernel side, from the cost profile) plus the application's own
`cost_per_read`. `Udp InDatagrams` counts on read (kernel-spec §9.3). A reader that finds
its socket empty sleeps until `sk_data_ready` wakes it.
"""

from __future__ import annotations

from .sched import BLOCK


def udp_reader(cpu, sock, cost_per_read: int, books, task_ref: list, record_flow=None):
    """`record_flow`: RFS's sock_rps_record_flow, which inet_recvmsg calls on every
    recvmsg before the protocol's own (None when RFS is off)."""
    c = cpu.costs
    per_read = c.udp_recvmsg + cost_per_read
    while True:
        if record_flow is not None:
            record_flow(sock)
        skb = sock.recv()
        if skb is None:
            sock.waiter = task_ref[0]
            yield BLOCK
            continue
        books.delivered(skb, cpu.now)
        yield per_read
