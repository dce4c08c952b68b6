"""A CPU's lookahead: the promises a cpuK LP makes on each output link (design §3).

A promise P on a link says "nothing more on this link stamped earlier than P". A CPU
promises per record kind and per destination (engine/records.py names the kinds): a kind
only for data it holds (frames in its rings by flow and where they can be steered, its
backlog, owed IPIs, packets in hand) or after an input that can bring such data, plus the
least CPU work before such a send (`Stack.send_prefix`); it tells its peers those per-kind
bounds (`until`) so a table-write bound is not mixed with a backlog bound; a backlog
enqueue's bound is also told per owner of the sockets its packets are for (`bl@N`), since
the peer hands a packet off only to that owner. Kernel work starts only from an interrupt
(no sooner than its vector's EITR interval allows), a softirq raised by an arrival,
ksoftirqd, a task's wake-up, a TCP timer (`_starts`) or a segment handed to a TCP_RR
connection held here, so the earliest of those bounds every kernel send; a TX
clean's records (sock_wfree, `tc`) only from a write-back, a qdisc drop only from a full
band; a sender asleep until its next send time wakes only then.

Of an interrupt source the bounds read only `earliest(t)` (when it can next fire for a
cause at t) and `masked` (its NAPI is scheduled), so another interrupt model (MSI, INTx)
plugs in by offering those two, not by editing this module.

The bounds are a mixin of `CpuLP` (`cpus/lp.py`), which holds the state they read; the
run stops on any record that arrives behind its receiver's clock, and
`tests/test_lookahead.py` checks, kind by kind, that no record leaves below a promise.

May import: the standard library, `engine`.
"""

from __future__ import annotations

import heapq

from softnet.engine.events import INF
from softnet.engine.lp import EOF_PROMISE
from softnet.engine.records import kinds_where


# How much later than the work it answers a `stall` record is stamped: a stall is sent only
# as a hand-off lands (or a run on another CPU's behalf begins), so the owner can promise
# it this far past its safe time, and a producer that otherwise waits for nothing from the
# owner keeps running that far ahead of it. What the producer paid is exact; it is taken
# this much late, and that delay feeds back into the contention: producers slowed late
# keep their pace meanwhile. One socket fed by 4 producers (bench/shared_state.py) spun
# 44 / 52 / 148 µs per ms with delays of 10 µs / 100 µs / 1 ms (1.58 / 1.48 / 2.19 line
# transfers a packet). It is also the lookahead of the back edge of every socket and TX
# queue other CPUs feed: rounds of 100 ms inline runs (basic / arfs / gro) were 21 / 230 /
# 20 without stall records, 2,054 / 7,392 / 576 at 10 µs, 836 / 989 / 557 at 100 µs and
# 99 / 285 / 94 at 1 ms. Exact mode takes 100 µs; relaxed mode (a quantum), which already
# trades exactness for speed, 1 ms.
STALL_DELAY_NS = 100_000
STALL_DELAY_RELAXED_NS = 1_000_000


def stall_delay(link) -> int:
    return STALL_DELAY_RELAXED_NS if link.quantum else STALL_DELAY_NS

# records sent from kernel steps (receive path, TX cleanup, aRFS), and the inputs that can
# start kernel work here
KERNEL_KINDS = set(kinds_where(from_kernel=True))
CAUSAL_KINDS = set(kinds_where(starts_work=True, dst="cpu"))
# records whose sending needs data this CPU holds (a frame, a backlog packet)
DATA_KINDS = set(kinds_where(needs_data=True))
# records from another CPU that bring packets here: backlog enqueues and their IPIs, a
# handed-over transmit, a hand-off to a socket (a TCP_RR segment answered from here)
RX_WORK_KINDS = ("bl", "ipi", "xq", "sk", "mig")


class CpuLookahead:
    """The promise() of a cpuK LP and the earliest-time bounds it is built from."""

    def _init_lookahead(self) -> None:
        """The state the bounds keep: start-time heaps of what has been filed, per-round
        caches, the per-kind bounds told and heard."""
        self._causal: list[str] | None = None   # inputs that can make this CPU send
        self._plans: dict = {}                  # output link -> its promise's _LinkPlan
        self._die: dict = {}                     # this round's data-input bounds, by class
        self._starts: list[int] = []             # times of events that start kernel work
        self._sk_starts: list[int] = []          # times of socket hand-offs landing here
        self._task_starts: list[int] = []        # sender wake-ups (pacing timers, wf)
        self._sk_in: list[str] = []
        self._wf_in: list[str] = []
        self._pe_key = None                      # promise() caches per round
        self._kernel_e = INF
        self._app_e = None
        self._task_e = None
        self._rx_until: dict[str, int] = {}     # the nic's promise for frames alone
        self._poss_key = None
        self._poss = None
        self._data_starts: list[int] = []        # received backlog packets, table writes,
                                                 # moving sockets: data not yet applied
        self._until_out: dict[str, dict] = {}
        self._until_sent: dict[str, dict] = {}
        self._until_in: dict[str, dict] = {}
        self._db_e = None
        self._fq_codel = None                    # a TX queue here runs fq_codel
        self._txc_starts: list[int] = []         # held write-backs, at their IRQ's earliest
        self._xq_starts: list[int] = []          # held hand-offs to a TX queue here
        self._bl_owner: dict = {}                # backlog target -> its packets' owners

    def promise(self, dst: str, safe: int) -> int:
        """Kernel records (socket hand-offs, backlog enqueues, IPIs, backlog progress) leave
        only from kernel steps of the receive path: an interrupt's softirq, ksoftirqd, a
        backlog poll — never from a socket enqueue landing here. So their earliest send is
        the earliest of: now, if such work is under way; the next event that starts such
        work; the promise of an input that can bring such work (frames, backlog enqueues,
        IPIs). From there, a record of each kind leaves only after a known minimum of work
        (`Stack.send_prefix`): that stretch is lookahead too. RFS table writes come from
        an application's recvmsg instead: now if an application is runnable, else once a
        datagram can reach one of its sockets; and never again once every connected
        socket here has written its slot for good."""
        link = self.out_links[dst]
        key = (self.sync.rounds, safe)
        if self._pe_key != key:
            self._pe_key = key
            self._kernel_e = self._kernel_earliest(safe)
            self._app_e = None
            self._task_e = None
            self._db_e = None
            self._die = {}
        plan = self._plans.get(dst)
        if plan is None:
            plan = self._plans[dst] = _LinkPlan(self, dst)
        arfs_off = plan.arfs and not self.stack.rfs.arfs.may_steer()
        wf_b = None
        if plan.wf_kernel:
            wf_b = self._wfree_earliest(safe)
        kernel, data, prefixes, prefix = plan.variant(self, arfs_off, wf_b is not None)
        wf_task = INF
        if "wf" in kernel and (self.sender_tasks or self.server_tasks):
            # a sender's own dev_queue_xmit may free other CPUs' skbs (a qdisc drop)
            if self._task_e is None:
                self._task_e = self._sender_earliest(safe)
            wf_task = self._task_e
        e = INF
        until = {}                           # per-kind bounds, told to dst (see receive)
        if data:
            # each kind is sent only for data this CPU holds; without it, only after an
            # input that can bring such data
            for k in kernel:
                if self._may_send_now(dst, k):
                    b = max(self._kernel_e, safe)
                else:
                    b = max(self._data_input_cached(k, dst), safe)
                if b < INF:
                    b += (0 if k == "ipi" and plan.cpu in self.sd.rps_ipi_list
                          else prefixes[k])
                    if k == "sk":
                        # a hand-off goes to the socket's owner when it lands: not to
                        # dst before dst owns one (a reader that moves there later),
                        # i.e. not sent before that time less the link's delivery
                        b = max(b, self._owned_from(plan.cpu, safe)
                                - link.latency - link.quantum)
                    if b < e:
                        e = b
                until[k] = link.deliver(b) if b < INF else EOF_PROMISE
                if k == "bl":
                    # … and per owner of the sockets its packets are for: dst hands a
                    # packet off (sk) only to that owner
                    for o in plan.owners:
                        if self._may_send_now(dst, k, o):
                            bo = max(self._kernel_e, safe)
                        else:
                            bo = max(self._data_input_cached(k, dst), safe)
                        until[f"bl@{o}"] = (link.deliver(bo + prefixes[k]) if bo < INF
                                            else EOF_PROMISE)
        elif kernel or not plan.kinds:
            e = min(self._kernel_e, wf_task)
            if e < INF:
                if plan.ipi and self.sd.rps_ipi_list:
                    e = max(e, safe)         # an IPI owed already leaves at the next poll end
                else:
                    e = max(e, safe) + prefix
        if wf_b is not None:
            e = min(e, wf_b)
            until["wf"] = link.deliver(wf_b) if wf_b < INF else EOF_PROMISE
        if plan.tc:                          # a clean's effect on dst's producer half
            b = self._clean_earliest(safe, tc=True)
            e = min(e, b)
            until["tc"] = link.deliver(b) if b < INF else EOF_PROMISE
        if plan.rfs:
            if self._app_e is None:
                self._app_e = self._app_earliest(safe)
            b = max(self._app_e, safe)
            e = min(e, b)
            until["rfs"] = link.deliver(b) if b < INF else EOF_PROMISE
        if until:
            self._until_out[dst] = until
        if plan.stall:                       # answers a hand-off landing at `safe` or later
            b = self.stall_sent(safe, link)
            d = stall_delay(link)
            if len(plan.kinds) == 1 and b == safe + d:
                # a link for stalls alone is told in steps of half the delay (a frame for
                # every step here would wake its receiver for nothing), but not near the
                # end, where the delay shrinks: there only the exact bound moves on
                b -= b % (d // 2)
            e = min(e, b)
        if plan.mig:                         # a socket leaves at its reader's move, or later
            for at, _, to in self._mig_out:
                if to == dst:
                    e = min(e, max(at, safe))
                    break
        if plan.wf_fq_codel:
            # fq_codel frees other senders' skbs (overflow, CoDel) in a local sender's
            # dev_queue_xmit too
            if self._task_e is None:
                self._task_e = self._sender_earliest(safe)
            e = min(e, max(self._task_e, safe) + self.costs.udp_sendmsg)
        if plan.xq or plan.db:               # sends from a sender's sendmsg
            if self._task_e is None:
                self._task_e = self._sender_earliest(safe)
            c = self.costs
            if plan.xq:                      # a sender's, or a forwarded packet's
                e = min(e, max(min(self._task_e, self._kernel_e), safe) + c.ip_output)
            if plan.db:
                if self._db_e is None:
                    self._db_e = self._doorbell_earliest(safe)
                e = min(e, max(min(self._task_e, self._db_e), safe) + c.igb_xmit_frame)
        if e >= INF:
            return EOF_PROMISE
        return link.deliver(e)

    def _kernel_earliest(self, safe: int, rx_until: dict | None = None,
                         kinds: tuple | None = None):
        cpu = self.cpu
        e = cpu.now if (cpu.softirq_frames or cpu.irq_queue or cpu.softirq_pending
                        or cpu.ksoftirqd.on_rq or cpu.hardirq_gen is not None) else INF
        if self._causal is None:         # links are attached after construction
            # (a TCP_RR connection held here answers a segment handed over with an ACK,
            # sent from here as it lands: those hand-offs start kernel work too)
            self._causal = [src for src, l in self.in_links.items()
                            if not l.carries or set(l.carries) & CAUSAL_KINDS
                            or (self._tcp_rr_here and "sk" in l.carries)]
            self._sk_in = [src for src, l in self.in_links.items()
                           if {"sk", "mig"} & set(l.carries)]
            self._wf_in = [src for src, l in self.in_links.items() if "wf" in l.carries]
            self._xq_in = [src for src, l in self.in_links.items() if "xq" in l.carries]
            self._txc_in = [src for src, l in self.in_links.items() if "txc" in l.carries]
            self._txc_vecs = list(set(self.txq_vec.values()))
            self._pcie_in = {src for src, l in self.in_links.items() if l.kind == "pcie"}
            # an ARP reply starts work without an interrupt: no EITR bound on its link
            self._pcie_gated = {src for src in self._pcie_in
                                if "arp" not in self.in_links[src].carries}
            self._rx_rfs_in = [src for src, l in self.in_links.items()
                               if not l.carries or set(l.carries) & {"rx", "rfs", "mig"}]
            self._bl_in_list = [src for src, l in self.in_links.items() if "bl" in l.carries]
            self._bl_in = set(self._bl_in_list)
        if e > safe:
            # every event earlier than `safe` has run; a superseded IRQ time left in
            # the heap only makes the bound more cautious
            starts = self._starts
            while starts and starts[0] < safe:
                heapq.heappop(starts)
            if starts and starts[0] < e:
                e = starts[0]
            ins = self.sync.in_promise
            vecs = self.vectors
            # whatever the nic sends starts work here only through one of this CPU's
            # vectors, which fire no sooner than their EITR interval allows; a masked
            # vector means its NAPI is scheduled, and then work is under way already
            gated = bool(vecs) and not any(v.masked for v in vecs)
            for src in self._causal:
                p = ins[src]
                if kinds is not None and src not in self._pcie_in:
                    p = self._in_kind(src, kinds)    # only what those records start
                if rx_until is not None and src in rx_until and rx_until[src] > p:
                    p = rx_until[src]
                if gated and src in self._pcie_gated:
                    p = min(v.earliest_bound(p) for v in vecs)
                if p < e:
                    e = p
        return e

    def _wfree_earliest(self, safe: int):
        """The earliest sock_wfree of another CPU's socket: its skb is freed here only by
        igb_clean_tx_irq once its descriptor is written back, or by a qdisc drop (or a
        dead fragment's kfree) as NET_TX takes a packet handed over (`xq`). So the bound
        is the earliest clean (a write-back already in, one held for later through its
        vector's EITR, or one the nic has yet to send) and the earliest hand-off, each
        plus the work before its free. None when a held skb may be freed at any kernel
        step: fq_codel (its drops pick any flow's skbs), skbs mid-step, packets waiting
        for a neighbour."""
        tx = self.tx
        if self._fq_codel is None:
            self._fq_codel = any(q.qdisc.kind == "fq_codel" for q in self.txqs.values())
        if self._fq_codel or tx.in_hand or tx.neigh_flush \
                or tx.frag_failed or any(n.queue for n in tx.neigh.values()):
            return None
        c = self.costs
        clean = self._clean_earliest(safe)
        ins = self.sync.in_promise
        heap = self._xq_starts               # hand-offs held
        while heap and heap[0] < safe:
            heapq.heappop(heap)
        drop = heap[0] if heap else INF
        for src in self._xq_in:
            if ins[src] < drop:
                drop = ins[src]
        if drop < INF:
            # a hand-off runs dev_queue_xmit as it lands, in its sender's time (several
            # senders' overlap): a drop frees at least dev_queue_xmit's work (or a dead
            # fragment's kfree) after it lands
            drop = max(drop, safe) + min(c.dev_queue_xmit, c.kfree_skb)
        return min(clean, drop)

    def _clean_earliest(self, safe: int, tc: bool = False) -> int:
        """The earliest record igb_clean_tx_irq can send (a sock_wfree, or with `tc` the
        clean's effect on a producer elsewhere): after a packet's clean, in a poll that
        starts from a write-back already in (when its vector's EITR lets the interrupt
        fire), one held for later, or one the nic has yet to send; at once only while
        NAPI is under way (the vector masked), and then a clean already running may end
        (and send its `tc`) as soon as it resumes."""
        if self._causal is None:
            self._kernel_earliest(safe)
        vecs = self._txc_vecs
        if any(v.masked for v in vecs):
            if tc:
                return max(self._kernel_e, safe)
            clean = self._kernel_e           # NAPI is under way
        elif any(txq.ring.hw_done for txq in self.txqs.values()):
            # cleaning is due, in the poll its vector's interrupt schedules
            clean = min(v.earliest_bound(safe) for v in vecs)
        else:
            heap = self._txc_starts          # write-backs held, at their IRQ's earliest
            while heap and heap[0] < safe:
                heapq.heappop(heap)
            clean = heap[0] if heap else INF
            ins = self.sync.in_promise
            for src in self._txc_in:         # write-backs still to come
                p = ins[src]
                if vecs:
                    p = min(v.earliest_bound(p) for v in vecs)
                if p < clean:
                    clean = p
        if clean < INF:
            clean = max(clean, safe) + self.costs.igb_clean_tx_packet
        return clean

    def _owned_from(self, cpu: int, safe: int) -> int:
        """The earliest time from `safe` on at which `cpu` owns a socket (INF: never)."""
        name = self.cpu_lp[cpu]
        e = INF
        for owners in self.sock_owners.values():
            cur = None
            for at, lp in owners:           # [from time, owner LP], in time order
                if at <= safe:
                    cur = lp
                elif lp == name:
                    e = min(e, at)
                    break
            if cur == name:
                return safe
        return e

    def _data_input_cached(self, kind: str, dst: str) -> int:
        """`_data_input_earliest`, once per round for each class of kind it tells apart."""
        cls = (kind, dst) if kind in ("qh", "sk") else "bl"
        v = self._die.get(cls)
        if v is None:
            v = self._die[cls] = self._data_input_earliest(kind, dst)
        return v

    def _may_send_now(self, dst: str, kind: str, owner: int | None = None) -> bool:
        """Can what this CPU holds now (frames in its rings, skbs in flight in its stack,
        its backlog, owed IPIs) lead to a record of `kind` for `dst`? Each frame's
        possible steering targets follow the tables as they are; they change only when
        an input arrives (an RFS write), which `_data_input_earliest` bounds."""
        key = self._pe_key
        if self._poss_key != key:
            self._poss_key = key
            self._poss = self._possible_sends()
        poss = self._poss
        if poss is None:
            return True
        bl, sk, busy = poss
        if owner is not None:                          # a backlog packet for owner's socket
            return owner in self._bl_owner.get(self.lp_cpu[dst], ())
        d = self.lp_cpu[dst]
        if kind == "bl":
            return d in bl
        if kind == "ipi":
            return d in bl or d in self.sd.rps_ipi_list
        if kind == "sk":                               # (landed before their socket:
            return d in sk or bool(self.pending)       # kept whole, as a backlog's)
        return busy                                    # qh: a backlog to run

    def _possible_sends(self):
        """(backlog/IPI targets, socket owners, backlog busy) the held frames can reach,
        or None when anything may go anywhere (skbs mid-step, IPIs owed)."""
        if self.stack.held or self.stack.fwd_pending:
            return None
        me = self.cpu_id
        bl: set = set()
        sk: set = set()
        bl_owner: dict = {}                  # backlog target -> owners of its packets' sockets
        for q, ring in self.rings.items():
            for f in ring.held_flows():      # (frames still on the link: data inputs)
                t = self._steer_targets(q, f)
                bl |= t
                s = self.stack.flow_sock[f]
                if s is not None:
                    owners = self._owner_cpus[s]
                    for x in t:
                        bl_owner.setdefault(x, set()).update(owners)
                    if me in t:
                        sk |= owners
        # a backlog packet goes up the stack here (no second steering): a hand-off only to
        # its socket's owner
        bk = self.backlog
        flows = {skb.flow for skb in bk.input_pkt_queue}
        flows.update(skb.flow for skb in bk.process_queue)
        if bk.in_hand is not None:
            flows.add(bk.in_hand.flow)
        owners = self._owner_cpus
        for f in flows:
            s = self.stack.flow_sock[f]
            if s is not None:
                sk |= owners[s]
        bl.discard(me)
        sk.discard(me)
        self._bl_owner = bl_owner
        return bl, sk, bool(flows or self.pending)

    def _steer_targets(self, q: int, flow: int) -> set:
        """Where get_rps_cpu may send a frame of `flow` from queue q, tables as now (the
        rule beside the data path's, in cpus/rfs.py), or RPS's map, or here."""
        st = self.stack
        h = st.sw_hash[flow]
        m = st.rps_maps.get(q)
        if st.rfs is not None:
            return st.rfs.possible_cpus(q, m, h, self.cpu_id, self.rfs_writer is not None)
        return {m[(h * len(m)) >> 32]} if m else {self.cpu_id}

    def _data_input_earliest(self, kind: str, dst: str) -> int:
        """The earliest an input can bring data that leads to a record of `kind` for
        `dst`: steering (bl, ipi) needs a new frame from the nic (through a vector's
        interrupt) or an RFS table write; a socket hand-off (sk) also a backlog packet
        from another CPU; a head report (qh) a backlog packet from `dst` itself."""
        if self._causal is None:
            self._kernel_earliest(0)
        ins = self.sync.in_promise
        # data already received and waiting in the event heap comes first
        ds = self._data_starts
        safe = self.sync.advanced_to
        while ds and ds[0] < safe:
            heapq.heappop(ds)
        first = ds[0] if ds else INF
        if kind == "qh":
            return min(first, self._in_kind(dst, ("bl",)) if dst in self._bl_in else INF)
        # which of a source's record kinds can bring the data
        wanted = ("rx", "rfs", "mig", "bl") if kind == "sk" else ("rx", "rfs", "mig")
        srcs = self._rx_rfs_in + (self._bl_in_list if kind == "sk" else [])
        # a hand-off goes to dst only for a packet of a socket dst owns: a backlog
        # source's bound for such packets, where it gives one
        owner = f"bl@{self.lp_cpu[dst]}" if kind == "sk" else None
        e = INF
        vecs = self.vectors
        gated = bool(vecs) and not any(v.masked for v in vecs)
        for src in srcs:
            if src in self._pcie_in:
                p = ins[src]
                ru = self._rx_until.get(src)   # the nic's frames alone, not write-backs
                if ru is not None and ru > p:
                    p = ru
                if gated:
                    p = min(v.earliest_bound(p) for v in vecs)
            else:
                p = self._in_kind(src, wanted, owner)
            if p < e:
                e = p
        # frames filed but still on the PCIe link arrive at their stamps (not held data:
        # `_possible_sends`), whatever else came first
        for ring in self.rings.values():
            s = ring.first_pending_stamp()
            if s is not None:
                if gated:
                    s = min(v.earliest_bound(s) for v in vecs)
                if s < e:
                    e = s
        return min(e, first)

    def _in_kind(self, src: str, kinds: tuple, bl_key: str | None = None) -> int:
        """The least of src's per-kind promises for `kinds` it carries (its link promise
        where it gave none, or for kinds it does not report); for backlog enqueues,
        `bl_key`'s bound (those carrying a given owner's packets) where src gives it."""
        link = self.in_links[src]
        p = self.sync.in_promise[src]
        until = self._until_in.get(src)
        if until is None:
            return p
        best = INF
        for k in link.carries:
            if k not in kinds:
                continue
            v = until.get(k)
            if k == "bl" and bl_key is not None:
                v = until.get(bl_key, v)
            b = p if v is None else max(p, v)
            if b < best:
                best = b
        return best

    def _sender_earliest(self, safe: int):
        """When a sending application here can next call sendmsg: now if one is runnable;
        else, for one asleep in sock_alloc_send_skb, kernel work or a send-buffer release
        that can wake it; else only its pacing timer (a sender waiting for its next send
        time is woken by nothing else)."""
        senders, servers = self.sender_tasks, self.server_tasks
        if not senders and not servers:
            return INF
        if any(t.on_rq for t in senders) or any(t.on_rq for t in servers):
            return self.cpu.now
        e = INF
        if servers:        # asleep in recvmsg: a request queued to its socket wakes one
            # (a frame's receive work or a hand-off, not a TX completion, which frees
            # send-buffer space only: that case is the sndbuf wait below)
            e = self._wake_earliest(safe, (self._sk_starts,), "_sk_in",
                                    base=self._rx_kernel_earliest(safe))
        if any(tsk.waiter is not None for tsk in self.tx_socks.values()):
            return min(e, self._wake_earliest(safe, (self._task_starts,), "_wf_in"))
        heap = self._task_starts                # pacing timers (and wf arrivals, later)
        while heap and heap[0] < safe:
            heapq.heappop(heap)
        return min(e, heap[0]) if heap else e

    def _doorbell_earliest(self, safe: int):
        """Kernel work that can ring a doorbell. While every qdisc here is empty and nothing
        is handed over, a completion cannot lead to one (waking a queue finds nothing to
        send): only a
        frame (forwarding) or a handed-over packet can, so the nic's link counts with its
        promise for frames alone."""
        if all(txq.qdisc.empty() for txq in self.txqs.values()) \
                and not self.tx.neigh_flush \
                and not any(n.queue for n in self.tx.neigh.values()):
            return self._rx_kernel_earliest(safe)
        return self._kernel_e

    def _rx_kernel_earliest(self, safe: int):
        """Kernel work that can bring a packet to send or to read: started by anything but
        a TX completion — the nic's receive-only promise (`rx_until`) in place of its
        whole one, and of other CPUs' records only those that bring packets (a clean's
        `tc` and `wf` find nothing to send with every qdisc empty, and wake no reader)."""
        if not self._rx_until:
            return self._kernel_e
        e = self._kernel_earliest(safe, self._rx_until, RX_WORK_KINDS)
        self._kernel_earliest(safe)           # leave the cached bounds as they were
        return e

    def _app_earliest(self, safe: int):
        w = self.rfs_writer
        if w is None:
            return INF
        if w.may_write(self.sockets.values()):
            return self._task_earliest(safe)
        if self._mig_in:
            # only a reader still to come can write, not before its move here
            return max(self._mig_in[0], self._task_earliest(safe))
        return INF

    def _task_earliest(self, safe: int):
        """When an application task here can next run: now if one is runnable; else the
        earliest of kernel work (it can queue to a socket or free send-buffer space), a
        pacing timer, and the inputs that can wake one (socket hand-offs, a moving
        socket, send-buffer releases)."""
        if any(t.on_rq for t in self.tasks[1:]):
            return self.cpu.now
        return self._wake_earliest(safe, (self._sk_starts, self._task_starts),
                                   "_sk_in", "_wf_in")

    def _wake_earliest(self, safe: int, heaps: tuple, *inputs: str,
                       base: int | None = None):
        """The earliest of kernel work (`base`, else all of it), the events in `heaps` not
        yet run, and the promises of the input links named by `inputs` (attributes listing
        sources)."""
        e = self._kernel_e if base is None else base
        for heap in heaps:
            while heap and heap[0] < safe:
                heapq.heappop(heap)
            if heap and heap[0] < e:
                e = heap[0]
        if self._causal is None:
            self._kernel_earliest(safe)
        for name in inputs:
            kinds = _WAKE_KINDS[name]
            for src in getattr(self, name):
                p = self._in_kind(src, kinds)
                if p < e:
                    e = p
        return e


# the record kinds through which each list of inputs can wake a task
_WAKE_KINDS = {"_sk_in": ("sk", "mig"), "_wf_in": ("wf",)}


class _LinkPlan:
    """What one output link's promise depends on, worked out once: which kinds it carries,
    the kernel kinds among them (with aRFS's while it may steer, with sock_wfree's while
    it has no bound of its own), and the least work before each (`Stack.send_prefix`)."""

    __slots__ = ("kinds", "cpu", "arfs", "wf_kernel", "rfs", "mig", "xq", "db", "ipi",
                 "tc", "stall", "owners", "wf_fq_codel", "_variants")

    def __init__(self, lp, dst: str) -> None:
        kinds = lp.out_links[dst].carries
        self.kinds = kinds
        self.cpu = lp.lp_cpu.get(dst)
        kernel = [k for k in kinds if k in KERNEL_KINDS]
        self.arfs = "arfs" in kernel
        self.wf_kernel = "wf" in kernel
        self.rfs = "rfs" in kinds
        self.mig = "mig" in kinds
        self.xq = "xq" in kinds
        self.db = "db" in kinds
        self.ipi = "ipi" in kinds
        self.tc = "tc" in kinds              # bounded by the clean alone (_clean_earliest)
        self.stall = "stall" in kinds
        # CPUs that own a socket at some time, but dst: where dst may hand a packet off
        self.owners = sorted({c for cs in lp._owner_cpus.values() for c in cs}
                             - {self.cpu}) if "bl" in kinds else []
        self.wf_fq_codel = "wf" in kinds and bool(lp.sender_tasks or lp.server_tasks) and any(
            q.qdisc.kind == "fq_codel" for q in lp.txqs.values())
        self._variants: dict = {}

    def variant(self, lp, arfs_off: bool, wf_bounded: bool) -> tuple:
        """(kernel kinds, all of them data kinds, least work per kind, least work before
        any of them) with aRFS and sock_wfree left out as asked."""
        v = self._variants.get((arfs_off, wf_bounded))
        if v is None:
            kernel = tuple(k for k in self.kinds if k in KERNEL_KINDS and k != "tc"
                           and not (k == "arfs" and arfs_off)
                           and not (k == "wf" and wf_bounded))
            send_prefix = lp.stack.send_prefix
            prefixes = {k: send_prefix(k) for k in kernel}
            prefix = min(send_prefix(k) for k in kernel or ("sk",))
            v = self._variants[(arfs_off, wf_bounded)] = (
                kernel, bool(kernel) and set(kernel) <= DATA_KINDS, prefixes, prefix)
        return v
