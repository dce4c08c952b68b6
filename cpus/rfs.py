"""RFS: receive flow steering (kernel-spec §7.3, L6.6 net/core/dev.c, include/net/rps.h).

Two tables. `rps_sock_flow_table` is global in the kernel: written by `recvmsg` on the CPU
of the reader (`sock_rps_record_flow`, connected sockets only), read by `get_rps_cpu` on the
CPU that polls an RX queue. Here every CPU that polls an RFS queue keeps a replica, and a
writer sends each change over the interconnect as an `rfs` record — the cache line the
kernel would move. A writer skips a write when the entry already holds its value, as the
kernel does; it knows that value because a slot is written by one CPU only, except for
slots two CPUs' sockets share, which plan time finds and where every read writes.

The per-queue `rps_dev_flow_table` belongs to the CPU polling that queue. Its migration
rule (§7.3) moves a flow to the reader's CPU only once the old CPU has processed the
flow's last enqueued packet (`input_queue_head` past `last_qtail`). The old CPU's head is
another CPU's state: each packet enqueued under an rflow carries a sequence number per
(enqueuing CPU, target CPU), and the target reports back (`qh` records) how far its
backlog has processed them. A report arrives HEAD_REPORT_DELAY_NS plus one interconnect
hop after the fact: a stale head can only postpone a migration, never let a flow overtake
itself.
"""

from __future__ import annotations

from collections import deque

RPS_NO_CPU = 0xFFFF
# How late the enqueuing CPU learns a target's backlog progress, on top of the link. The
# kernel reads the remote input_queue_head live; reading it this much later can only
# postpone a migration (never reorder), and it is lookahead that lets the two CPUs run
# this far apart instead of meeting every 42 ns.
HEAD_REPORT_DELAY_NS = 2000


def roundup_pow_of_two(n: int) -> int:
    return 1 << (n - 1).bit_length() if n > 1 else 1


class SockFlowTable:
    """A replica of rps_sock_flow_table: slot -> ident ((hash & ~cpu_mask) | cpu). The
    kernel's table is one array all CPUs share: a line another CPU wrote since this one
    last read it (`dirty`, 16 four-byte slots a line) is a transfer to read."""

    __slots__ = ("mask", "cpu_mask", "ents", "dirty")

    def __init__(self, entries: int, ncpus: int) -> None:
        self.mask = roundup_pow_of_two(entries) - 1
        self.cpu_mask = roundup_pow_of_two(ncpus) - 1        # rps_cpu_mask
        self.ents: dict[int, int] = {}                     # absent: RPS_NO_CPU
        self.dirty: set[int] = set()                       # lines written elsewhere

    def slot_val(self, hash_: int, cpu: int) -> tuple[int, int]:
        """rps_record_sock_flow's slot and value."""
        return hash_ & self.mask, (hash_ & ~self.cpu_mask & 0xFFFFFFFF) | cpu


class RpsDevFlow:
    __slots__ = ("cpu", "last_seq")

    def __init__(self) -> None:
        self.cpu = RPS_NO_CPU
        self.last_seq: int | None = None    # last packet enqueued under this rflow


class RfsRx:
    """The steering side on a CPU that polls RX queues with an rps_flow_table."""

    __slots__ = ("me", "ncpus", "sock_table", "flow_tables", "next_seq", "done",
                 "migrations", "deferred", "arfs", "xfer", "line_cost", "fetched")

    def __init__(self, me: int, ncpus: int, sock_table: SockFlowTable | None,
                 flow_cnt: dict[int, int]) -> None:
        self.me = me
        self.ncpus = ncpus
        self.sock_table = sock_table
        # queue -> (mask, slot -> RpsDevFlow)
        self.flow_tables = {q: (roundup_pow_of_two(n) - 1, {}) for q, n in flow_cnt.items()}
        self.next_seq: dict[int, int] = {}   # target CPU -> last number handed out
        self.done: dict[int, int] = {}       # target CPU -> processed up to (reported)
        self.migrations = 0
        self.deferred = 0                    # lookups that kept a flow on its old CPU
        self.arfs = None                     # cpus.arfs.Arfs when the device does aRFS
        self.xfer = 0                        # a line's transfer (ns), from the profile
        self.line_cost = 0                   # what the last lookup paid for its line
        self.fetched = 0                     # lookups that fetched a line written elsewhere

    def get_rps_cpu(self, queue: int, rps_map, hash_: int, flow: int = -1):
        """(cpu, rflow): cpu -1 when neither RFS nor RPS picks one."""
        ft = self.flow_tables.get(queue)
        st = self.sock_table
        self.line_cost = 0
        if ft is not None and st is not None:
            slot = hash_ & st.mask
            if st.dirty and slot >> 4 in st.dirty:    # a reader elsewhere wrote the line
                st.dirty.discard(slot >> 4)
                self.line_cost = self.xfer
                self.fetched += 1
            ident = st.ents.get(slot)
            if ident is not None and not (ident ^ hash_) & ~st.cpu_mask & 0xFFFFFFFF:
                next_cpu = ident & st.cpu_mask
                if next_cpu < self.ncpus:
                    mask, flows = ft
                    rflow = flows.get(hash_ & mask)
                    if rflow is None:
                        rflow = flows[hash_ & mask] = RpsDevFlow()
                    tcpu = rflow.cpu
                    if tcpu != next_cpu and tcpu != RPS_NO_CPU and not self.drained(rflow):
                        self.deferred += 1           # still queued there: stay, no reorder
                    elif tcpu != next_cpu:
                        rflow = self.set_rps_cpu(queue, rflow, next_cpu, hash_, flow)
                        tcpu = next_cpu
                    return tcpu, rflow
        if rps_map:
            return rps_map[(hash_ * len(rps_map)) >> 32], None
        return -1, None

    def possible_cpus(self, queue: int, rps_map, hash_: int, me: int,
                      local_writes: bool) -> set[int]:
        """Every CPU get_rps_cpu (above) may pick for a packet of this hash from `queue`
        while the tables change only as they can without an input: a matching sock-table
        slot sends it to the slot's CPU, or to the flow's old CPU while it drains there; a
        reader on this CPU (`local_writes`) may overwrite the slot meanwhile — then RPS
        decides, or the slot names this CPU, or a slot that now matches keeps the flow on
        its old CPU. What an input
        changes (an RFS table write) the lookahead bounds apart."""
        rps = rps_map[(hash_ * len(rps_map)) >> 32] if rps_map else me
        ft = self.flow_tables.get(queue)
        if ft is None:
            return {rps}
        mask, flows = ft
        rf = flows.get(hash_ & mask)
        old = rf.cpu if rf is not None and rf.cpu != RPS_NO_CPU else None
        st = self.sock_table
        if st is not None:
            ident = st.ents.get(hash_ & st.mask)
            if ident is not None and not (ident ^ hash_) & ~st.cpu_mask & 0xFFFFFFFF \
                    and ident & st.cpu_mask < self.ncpus:
                out = {ident & st.cpu_mask}
                if old is not None:
                    out.add(old)               # (aRFS's switched-to entries hold next_cpu)
                if local_writes:
                    out |= {rps, me}           # overwritten, by another socket or ours
                return out
        out = {rps}
        if local_writes:                       # our reader's write makes it match us
            out.add(me)
            if old is not None:
                out.add(old)
        return out

    def set_rps_cpu(self, queue: int, rflow: RpsDevFlow, next_cpu: int, hash_: int,
                    flow: int) -> RpsDevFlow:
        """last_qtail = next_cpu's head (nothing of this flow is queued there yet) and
        rflow->cpu = next_cpu; with aRFS, on the new queue's entry once the driver took the
        filter (the old queue's entry keeps its CPU, as in the kernel)."""
        a = self.arfs
        if a is not None:
            hit = a.rx_queue_for(queue, next_cpu, hash_, flow)
            if hit is not None:
                old, rflow = rflow, a.rflows.get(hit)
                if rflow is None:
                    rflow = a.rflows[hit] = RpsDevFlow()
                if rflow.cpu != next_cpu and old.cpu != RPS_NO_CPU:
                    self.migrations += 1
                rflow.cpu = next_cpu        # again and again while the old queue feeds
                rflow.last_seq = None
                return rflow
        if rflow.cpu != RPS_NO_CPU:
            self.migrations += 1
        rflow.cpu = next_cpu
        rflow.last_seq = None
        return rflow

    def drained(self, rflow: RpsDevFlow) -> bool:
        """(int)(per_cpu(softnet_data, tcpu).input_queue_head - rflow->last_qtail) >= 0"""
        return rflow.last_seq is None or self.done.get(rflow.cpu, 0) >= rflow.last_seq

    def stamp(self, skb, rflow: RpsDevFlow) -> None:
        """enqueue_to_backlog's *qtail = ++input_queue_tail, numbered per target."""
        n = self.next_seq.get(rflow.cpu, 0) + 1
        self.next_seq[rflow.cpu] = n
        rflow.last_seq = n
        skb.rps_src = self.me
        skb.rps_seq = n


class HeadReports:
    """On a backlog's CPU: how far it has processed each enqueuing CPU's tracked packets.
    `done` for a source is the highest number below which nothing of it is still queued."""

    __slots__ = ("pending", "seen", "report")

    def __init__(self, report) -> None:
        self.pending: dict[int, deque] = {}
        self.seen: dict[int, int] = {}
        self.report = report            # fn(src_cpu, done)

    def queued(self, skb) -> None:
        self.pending.setdefault(skb.rps_src, deque()).append(skb.rps_seq)
        self.seen[skb.rps_src] = skb.rps_seq

    def dropped(self, skb) -> None:
        src = skb.rps_src
        self.seen[src] = skb.rps_seq
        if not self.pending.get(src):
            self.report(src, skb.rps_seq)

    def processed(self, skb) -> None:
        src = skb.rps_src
        q = self.pending[src]
        q.popleft()
        self.report(src, q[0] - 1 if q else self.seen[src])


class RfsWriter:
    """sock_rps_record_flow on the reader's CPU: writes that change a slot go to every
    replica (this CPU's own, if it polls an RFS queue, and the other CPUs' as records)."""

    __slots__ = ("me", "table", "last", "shared", "publish", "writes")

    def __init__(self, me: int, table: SockFlowTable, shared: set[int], publish) -> None:
        self.me = me
        self.table = table
        self.last: dict[int, int] = {}   # slot -> value this CPU wrote last
        self.shared = shared             # slots other CPUs' sockets write too
        self.publish = publish           # fn(slot, value)
        self.writes = 0

    def record(self, sk) -> None:
        h = sk.rxhash
        if not h or sk.rem_ip is None:      # only connected (TCP_ESTABLISHED) sockets
            return
        slot, val = self.table.slot_val(h, self.me)
        if self.last.get(slot) != val or slot in self.shared:
            self.last[slot] = val
            self.writes += 1
            self.publish(slot, val)

    def forget(self, sk) -> None:
        """A reader moved here: the slot holds what its previous CPU wrote, not what this
        CPU wrote last time the reader was here."""
        if sk.rfs_hash:
            self.last.pop(self.table.slot_val(sk.rfs_hash, self.me)[0], None)

    def may_write(self, sockets) -> bool:
        """False once every connected socket here has written its slot for good: from then
        on this CPU sends no more RFS records (its promise on those links is 'never')."""
        for sk in sockets:
            if sk.rem_ip is None or not sk.rfs_hash:
                continue                     # never written: no flow reaches it
            slot, val = self.table.slot_val(sk.rfs_hash, self.me)
            if slot in self.shared or self.last.get(slot) != val:
                return True
        return False
