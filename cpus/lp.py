"""The cpuK logical process: one simulated CPU with the device halves of the queues whose
vectors are affine to it, its softnet_data, its sockets and its applications.

Inputs and outputs are the records of `engine.records` (frames for its RX rings, TX
write-backs, socket hand-offs, backlog enqueues and IPIs, RFS table writes, doorbells,
aRFS steering …); each kind that arrives is filed by its `_file_<kind>` method, and a kind
it does not expect stops the run. `cpus.host` builds and wires its components; its
promises are in `cpus.lookahead`, its end-of-run report in `cpus.report`.
"""

from __future__ import annotations

import heapq

import numpy as np

from softnet.engine.events import PRIO_DEVICE, PRIO_LINK, PRIO_TIMER, EventQueue
from softnet.engine.lp import LogicalProcess
from softnet.engine.records import accepted, refuse
from softnet.engine.skb import SkBuff
from softnet.nic.msix import MsixVector
from softnet.nic.rxring import RxRing

from .app import tcp_reader, tcp_rr_server, udp_reader, udp_rr_server
from .books import Books
from .costs import Costs
from .cpu import TIMER_SOFTIRQ, Cpu
from .igb import ring_backlog
from .lookahead import CpuLookahead, stall_delay
from .kernel import KERNELS
from .napi import SoftnetData
from .report import cpu_report
from .rfs import HEAD_REPORT_DELAY_NS
from .sched import Task
from .series import CpuSeries, SeriesBooks
from .trace import CpuTrace
from .sock import TcpSock, UdpSock, UdpSock3
from .sock_lines import RxLines
from .stack import Snmp
from .tcp_rr import TcpRrSock
from .tx import ETH_HLEN, IP_HLEN, UDP_HLEN, TxQueue, TxSock


class Sysctl:
    __slots__ = ("netdev_budget", "netdev_budget_usecs", "dev_weight", "gro_normal_batch",
                 "netdev_max_backlog", "flow_limit_cpus", "flow_limit_table_len")

    def __init__(self, d: dict) -> None:
        for k in self.__slots__:
            setattr(self, k, d[k])


# tie-break keys of a vector's events at one time: the frames' kick before the assertion
RX_KICK = -(1 << 41)


class CpuLP(CpuLookahead, LogicalProcess):
    def __init__(self, name: str, index: int, args: dict) -> None:
        self.name = name
        self.index = index
        self.cpu_id = args["cpu"]
        self.end = args["duration_ns"]
        self.lp_index = args["lp_index"]               # LP name -> index, for tie-breaks
        self.ev = EventQueue(index)
        # a filing method for every record kind a CPU receives as a record (engine/records.py)
        self._file = {kind: getattr(self, f"_file_{kind}") for kind in accepted("cpu")}
        self.costs = Costs(args["costs"])
        self.cpu = Cpu(self.cpu_id, args["ncpus"], self.costs, args["hz"], self.ev)
        self.kernel = KERNELS[args["kernel"]]
        self.sysctl = Sysctl(args["sysctl"])
        self.sd = SoftnetData(self.kernel.napi_missed)
        self.snmp = Snmp()
        nflows = len(args["flows"])
        txa = args["tx"]
        series_ns = args["series_ns"]
        self.books = (SeriesBooks if series_ns else Books)(nflows, txa["nsenders"])
        self.sockets: dict[int, UdpSock] = {}           # the sockets this CPU owns now
        self.sock_args = {s["index"]: s for s in args["sockets"]}
        # socket -> [[from time, owner LP], …]: a reader that migrates takes its socket
        self.sock_owners = {s["index"]: s["owners"] for s in args["sockets"]}
        # socket -> every CPU that owns it at some time (where a hand-off to it may go)
        self._owner_cpus = {s["index"]: {int(lp[3:]) for _, lp in s["owners"]}
                            for s in args["sockets"]}
        self.pending: dict[int, list] = {}    # hand-offs that landed before their socket
        self._ic = None                        # an interconnect link (all share a latency)
        for s in args["sockets"]:
            if s["owners"][0][1] == name and not s.get("sender"):
                self.sockets[s["index"]] = self._make_sock(s)
        self.outbox: dict[str, list] = {}
        self.out_seq = 0
        # the components, built and wired by the host builder (cpus/host.py)
        self.stack = self.backlog = self.tx = self.driver = None
        self.irq_handlers: dict = {}        # vector -> request_irq's handler (driver, mode)
        self.rfs_writer = None
        self.rfs_replicas: list[str] = []
        self.cpu_lp: dict[int, str] = {}                # CPU -> LP name, and back
        self.lp_cpu: dict[str, int] = {}
        self.txqs: dict[int, TxQueue] = {}              # TX queues with a half here
        self.txq_cleaned: set[int] = set()              # … whose clean runs here
        self.txq_owner: dict[int, str] = {}             # TX queue -> its producer's LP
        self.txq_vec: dict[int, MsixVector] = {}        # TX queue cleaned here -> vector
        self.tx_socks: dict[int, TxSock] = {}           # senders' sockets here
        self.tx_sock_lp: dict[int, str] = {}            # every sender's socket -> its LP
        self.tx_task: dict[int, Task] = {}              # a socket sent on here -> its task
        self.vectors: list[MsixVector] = []             # the vectors this CPU serves
        self.qvectors: list = []                        # … their driver q_vectors
        self.qv_of: dict = {}
        self.rings: dict[int, RxRing] = {}              # RX queue -> its ring
        self.irq_names: list[str] = []
        self.tasks: list[Task] = [self.cpu.ksoftirqd]
        self.sender_tasks: list[Task] = []
        self.server_tasks: list[Task] = []      # udp_rr servers: readers that also send
        self.rr_responses: dict[int, dict] = {}  # server app -> response payload by flow
        self.tcp_rr = None                       # cpus.tcp_rr.TcpRr (the host builder's)
        self._tcp_rr_here = any(s.get("rr") and s["owners"][0][1] == name
                                for s in args["sockets"])
        self._tcp_seq = 0                        # TCP timers armed here (event keys)
        self.app_args: dict[int, dict] = {}
        self.app_task: dict[int, Task] = {}
        self._mig_out: list[tuple] = []        # (time, socket, new owner LP), in time order
        self._mig_in: list[int] = []           # times readers move here, in time order
        self._init_lookahead()
        self.series = CpuSeries(self, series_ns, self.end) if series_ns else None
        self.host_tap = None                    # cpus.capture.HostTap (the host builder's)
        tr = args["trace"]
        if tr is not None:
            self.cpu.tracer = t = CpuTrace(
                tr["window"][0], tr["window"][1], tr["max"], sample=tr["sample"],
                flows=tr["flows"], senders=tr["senders"])
            self.books.tap = lambda stage, flow, n: t.drop(self.cpu.now, stage, flow, n)
            if tr["sample"]:
                self.books.read_tap = lambda skb, pid, t_wire, t_poll, now: t.read(
                    pid, skb.flow, skb.queue, t_wire, t_poll, now,
                    self.cpu.sched.current.name if self.cpu.sched.current else "softirq")
            t.read_counters = self._trace_counters

    def _trace_counters(self) -> list[tuple[str, int]]:
        """What a trace's counters show, read as a hard IRQ begins."""
        now = self.cpu.now
        out = [(f"rx-{qv.rx_ring.index} ring backlog", ring_backlog(qv, now))
               for qv in self.qvectors if qv.rx_ring is not None]
        out += [(f"{qv.vec.name} ITR interval", qv.vec.interval) for qv in self.qvectors]
        out.append(("backlog queue", self.backlog.queued()))
        out += [(f"socket {s.index} rmem_alloc", s.rmem_alloc) for s in self.sockets.values()]
        for q in self.tx.queues:                # the TX queues transmitted on from here
            txq = self.txqs[q]
            out += [(f"tx-{q} qdisc backlog", txq.qdisc.backlog),
                    (f"tx-{q} BQL limit", txq.dql.limit),
                    (f"tx-{q} BQL inflight", txq.dql.inflight())]
        return out

    # -- the transmit side ---------------------------------------------------------------
    def _sleep_until(self, t: int, task: Task) -> None:
        """A paced sender's next send time: woken then, at no cost (ideal pacing)."""
        self.tx.ids += 1
        self.ev.schedule_keyed(t, PRIO_TIMER, self.index, -(1 << 40) - self.tx.ids,
                               self._wake_task, task)
        heapq.heappush(self._task_starts, t)

    # -- TCP_RR connections held here (cpus/tcp_rr.py) ---------------------------------
    def _tcp_timer_at(self, t: int, sk, which: int, gen: int) -> None:
        """A connection's timer armed to run at `t` (a timer_list expiry: kernel work)."""
        self._tcp_seq += 1
        self.ev.schedule_keyed(t, PRIO_TIMER, self.index, -(2 << 40) - self._tcp_seq,
                               self._tcp_timer, (sk, which, gen))
        heapq.heappush(self._starts, t)

    def _tcp_timer(self, t: int, arg) -> None:
        """run_timer_softirq: its work is this CPU's softirq time, taken at its next step."""
        sk, which, gen = arg
        cost = self.tcp_rr.timer(sk, which, gen, t, self.cpu_id)
        if cost:
            self.cpu.kstat_softirqs[TIMER_SOFTIRQ] += 1
            self._charge(self.cpu_id, t, cost)

    def _wake_task(self, t: int, task: Task) -> None:
        self.cpu.sched.wake(task)

    def _arp_arrive(self, t: int, neigh: int) -> None:
        self.tx.neigh_update(neigh)

    def _doorbell(self, t: int, queue: int, pkts: list, clean: list,
                  fdir: list | None = None) -> None:
        """The tail write: the packets behind it, as (id, flow, sender, frame length, frames);
        a GRO super-packet being forwarded leaves as its segments again (TSO). A sender's
        piece of a send (IP fragment, software GSO segment) or a GSO skb the device
        segments adds (last frame's length, more pieces follow)."""
        out = []
        for p in pkts:
            if p.sock >= 0 and (p.gso_segs or p.frag or p.more):
                # a sender's piece, or a GSO skb the device segments: frames of its first
                # and last segment, and whether the send goes on in later pieces
                # (… and which piece it is: a capture gives it its headers)
                if p.gso_segs:
                    n = p.gso_segs
                    frame = ETH_HLEN + IP_HLEN + UDP_HLEN + p.gso_size
                    last = p.len - (n - 1) * p.gso_size
                    out.append((p.id, p.flow, p.sock, frame, n, last, p.lost, p.frag))
                else:
                    # a piece of a send that lost one: never ends the send on the wire
                    out.append((p.id, p.flow, p.sock, p.len, 1, p.len, p.more or p.lost,
                                p.frag))
                continue
            n = p.nsegs
            frame = p.len - (n - 1) * self.stack.gro_flows[p.flow].payload if n > 1 else p.len
            out.append((p.id, p.flow, p.sock, frame, n))
        body = (queue, out, clean)
        # TCP_RR segments: their words, for nic.rr
        words = [p.tcp for p in pkts] if any(p.tcp for p in pkts) else None
        if fdir:                              # ATR's filters, written before this tail
            body += (words, list(fdir))
        elif words is not None:
            body += (words,)
        self.out_seq += 1
        self.outbox.setdefault("nic", []).append(
            ("db", self.out_links["nic"].deliver(t), self.out_seq, body))

    def _remote_xmit(self, t: int, queue: int, skb: SkBuff, hash_: int) -> None:
        dst = self.txq_owner[queue]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("xq", self.out_links[dst].deliver(t), self.out_seq,
             (queue, skb.to_wire(), hash_)))

    def _wfree(self, t: int, sock: int, truesize: int) -> None:
        """sock_wfree on the sender's CPU (its socket's owner)."""
        tsk = self.tx_socks.get(sock)
        if tsk is not None:
            self._wfree_local(tsk, truesize)
            return
        dst = self.tx_sock_lp[sock]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("wf", self.out_links[dst].deliver(t), self.out_seq, (sock, truesize)))

    def _cleaned_remote(self, t: int, queue: int, descs: int, nbytes: int,
                        packets: int) -> None:
        """A clean here of a queue another CPU transmits on: what it did to the queue,
        for that CPU's producer half."""
        dst = self.txq_owner[queue]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("tc", self.out_links[dst].deliver(t), self.out_seq,
             (queue, descs, nbytes, packets)))

    def _tc_arrive(self, t: int, arg) -> None:
        (queue, descs, nbytes, packets), src_cpu = arg
        self.txqs[queue].lines.written(src_cpu, t)   # dql_completed, next_to_clean
        self.tx.drv.cleaned(queue, descs, nbytes, packets)

    def _wfree_local(self, tsk: TxSock, truesize: int) -> None:
        if tsk.wfree(truesize):                  # sk_write_space wakes the sender
            w, tsk.waiter = tsk.waiter, None
            self.cpu.sched.wake(w)

    def _wf_arrive(self, t: int, arg) -> None:
        sock, truesize = arg
        self._wfree_local(self.tx_socks[sock], truesize)

    def _xq_arrive(self, t: int, arg) -> None:
        queue, skb, hash_, src_cpu = arg
        # a sender's datagram was sent from its task; a forwarded packet from softirq
        self._charge(src_cpu, t, self.tx.xmit_arrive(skb, queue, hash_, src_cpu, t),
                     skb.sock)

    def _tx_rerun_at(self, t: int, txq: TxQueue, cpu: int) -> None:
        """CPU `cpu`'s NET_TX runs a queue whose producer half is here, at `t`."""
        self.ev.schedule(t, self._tx_rerun, (txq, cpu))
        heapq.heappush(self._starts, t)

    def _tx_rerun(self, t: int, arg) -> None:
        txq, cpu = arg
        if txq.rerun_at == t:
            txq.rerun_at = -1
        self._charge(cpu, t, self.tx.run_for(cpu, t, self.tx.net_tx_for(txq)))

    def _txc_arrive(self, t: int, arg) -> None:
        """A descriptor written back (DD): the vector's cause is latched."""
        queue, clean = arg
        ring = self.txqs[queue].ring
        ring.in_flight.append(clean)
        ring.hw_done += 1
        vec = self.txq_vec[queue]
        if vec.tx_interval is None:
            vec.cause_pending = True
        else:
            vec.tx_cause = True                # ITR1: the TX container's own throttle
        self._schedule_irq(vec, t)

    def _make_sock(self, s: dict) -> UdpSock:
        common = (s["index"], s["bind_ip"], s["port"], s["rcvbuf"], s["owner"], s["inode"],
                  s.get("rem_ip"), s.get("rem_port"))
        if s.get("rr"):
            rr = s["rr"]
            sk = TcpRrSock(*common, payload=s["payload"], hz=self.cpu.hz,
                           response=rr["response"], hash_=rr["hash"], flow=rr["flow"],
                           handshake_us=rr["handshake_us"], rto_min_us=rr["rto_min_us"])
        elif s["proto"] == "tcp":
            sk = TcpSock(*common, payload=s["payload"])
        else:
            c = self.costs
            cls = UdpSock if self.kernel.lazy_rmem_release else UdpSock3
            sk = cls(*common, lines=RxLines(c.cacheline_transfer, c.udp_rxq_hold,
                                            self.cpu_id))
            sk.udp_gro = s.get("udp_gro", False)
        sk.rfs_hash = s.get("rfs_hash")
        return sk

    def _start_app(self, a: dict, sk: UdpSock, runnable: bool) -> None:
        """The reader task on this CPU: runnable, or asleep in recvmsg on `sk`."""
        ref: list = [None]
        record = self.rfs_writer and self.rfs_writer.record
        if isinstance(sk, TcpRrSock):
            body = tcp_rr_server(self.cpu, sk, self.tx_socks[a["sock"]], self.tx,
                                 self.tcp_rr, a["cost_per_read_ns"], self.books, ref, record)
        elif sk.is_tcp:
            body = tcp_reader(self.cpu, sk, a["cost_per_read_ns"], a["read_size"],
                              self.books, ref, record)
        elif a.get("serve") == "rr":
            body = udp_rr_server(self.cpu, sk, self.tx_socks[a["sock"]], self.tx,
                                 a["cost_per_read_ns"], self.books, self.snmp.udp, ref,
                                 record, self.rr_responses[a["sock"]])
        else:
            body = udp_reader(self.cpu, sk, a["cost_per_read_ns"], self.books,
                              self.snmp.udp, ref, record)
        task = Task(a["name"], 3, body)
        ref[0] = task
        self.tasks.append(task)
        self.app_task[a["sock"]] = task
        if a.get("serve"):
            self.server_tasks.append(task)
            self.tx_task[a["sock"]] = task
        if runnable:
            self.cpu.sched.wake(task)
        else:
            sk.waiter = task

    # -- a reader moving to another CPU (taskset at a given time) ------------------------
    def _migrate_out(self, t: int, sidx: int) -> None:
        """The reader leaves this CPU's run queue and its socket goes with it, as state in
        a `mig` record to the new owner (the kernel moves nothing: the socket is shared
        memory; here its owner changes)."""
        at, _, dst = self._mig_out.pop(0)
        sk = self.sockets.pop(sidx)
        task = self.app_task.pop(sidx)
        runnable = task.on_rq
        if runnable:
            self.cpu.sched.block(task)
        sk.waiter = None
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("mig", self.out_links[dst].deliver(self.cpu.now), self.out_seq,
             (sidx, runnable, sk.export_state())))

    def _mig_arrive(self, t: int, arg) -> None:
        sidx, runnable, state = arg
        self._mig_in.pop(0)
        sk = self._make_sock(self.sock_args[sidx])
        sk.import_state(state, SkBuff.from_wire)
        self.sockets[sidx] = sk
        if self.rfs_writer is not None:
            self.rfs_writer.forget(sk)
        self._start_app(self.app_args[sidx], sk, runnable)
        for skb, src_cpu in self.pending.pop(sidx, ()):
            self._charge(src_cpu, t, self.stack.sock_enqueue(sk, skb, src_cpu, t))

    def _owner_at(self, sidx: int, t: int) -> str:
        owner = None
        for at, lp in self.sock_owners[sidx]:
            if at > t:
                break
            owner = lp
        return owner

    # -- interrupts from the device half --------------------------------------------------
    def _schedule_irq(self, vec: MsixVector, now: int) -> None:
        t = vec.next_fire(now)
        if t is not None and t != vec.irq_at:
            vec.irq_at = t
            # key fixed by (vector, time): independent of when the records arrived
            self.ev.schedule_keyed(t, PRIO_DEVICE, self.index, -1 - vec.entry,
                                   self._irq_assert, vec)
            heapq.heappush(self._starts, t)

    def _rearm(self, vec: MsixVector, now: int) -> None:
        for r in vec.rings:
            r.materialize(now)
        self._schedule_irq(vec, now)

    def _rx_kick(self, t: int, vec: MsixVector) -> None:
        """Frames reach a ring of `vec` from `t` on: an armed vector's next interrupt is
        judged again (a frame can bring it before a TX cause's throttled one)."""
        if not vec.masked:
            self._schedule_irq(vec, t)

    def _irq_assert(self, t: int, vec: MsixVector) -> None:
        if vec.irq_at != t or vec.masked:
            return
        for r in vec.rings:
            r.materialize(t)
        vec.fire(t)
        self.cpu.raise_irq(self.irq_handlers[vec], self.qv_of[vec], vec.name, t)

    # -- sockets on other CPUs ------------------------------------------------------------
    def _remote_enqueue(self, t: int, sidx: int, skb: SkBuff) -> None:
        """To the CPU that owns the socket when the record lands (every interconnect link
        has the same latency); if that is this CPU, the socket is on its way here."""
        owners = self.sock_owners[sidx]
        dst = owners[0][1]
        d = None
        if len(owners) > 1:
            if self._ic is None:             # links are attached after construction
                self._ic = next(l for l in self.out_links.values()
                                if l.kind == "interconnect")
            d = self._ic.deliver(t)
            dst = self._owner_at(sidx, d)
        self.out_seq += 1
        if dst == self.name:
            self.ev.schedule_keyed(d, PRIO_LINK, self.index, self.out_seq, self._sock_arrive,
                                   (sidx, skb, self.cpu_id))
            heapq.heappush(self._sk_starts, d)
            return
        self.outbox.setdefault(dst, []).append(
            ("sk", self.out_links[dst].deliver(t), self.out_seq, (sidx, skb.to_wire())))

    def _rps_remote(self, t: int, target: int, skb: SkBuff) -> None:
        dst = self.cpu_lp[target]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("bl", self.out_links[dst].deliver(t), self.out_seq, skb.to_wire()))

    def _rps_ipi(self, t: int, target: int) -> None:
        dst = self.cpu_lp[target]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("ipi", self.out_links[dst].deliver(t), self.out_seq, None))

    # -- RFS: table writes out, backlog progress back ------------------------------------
    def _rfs_publish(self, slot: int, val: int) -> None:
        t = self.cpu.now
        if self.stack.rfs is not None:
            self.stack.rfs.sock_table.ents[slot] = val
        for dst in self.rfs_replicas:
            self.out_seq += 1
            self.outbox.setdefault(dst, []).append(
                ("rfs", self.out_links[dst].deliver(t), self.out_seq, (slot, val)))

    def _arfs_steer(self, flow: int, rxq: int, flow_id: int) -> None:
        """ndo_rx_flow_steer from get_rps_cpu: a record to the nic (its MMIO write)."""
        t = self.cpu.now + self.stack.hash_cost + self.costs.get_rps_cpu
        self.out_seq += 1
        self.outbox.setdefault("nic", []).append(
            ("arfs", self.out_links["nic"].deliver(t), self.out_seq, (flow, rxq, flow_id)))

    def _rfs_arrive(self, t: int, arg) -> None:
        slot, val = arg
        st = self.stack.rfs.sock_table
        st.ents[slot] = val
        st.dirty.add(slot >> 4)              # the writer's CPU holds the line now

    def _head_report(self, src: int, done: int) -> None:
        if src == self.cpu_id:
            self.stack.rfs.done[src] = done
            return
        dst = self.cpu_lp[src]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("qh", self.out_links[dst].deliver(self.cpu.now + HEAD_REPORT_DELAY_NS),
             self.out_seq, done))

    def _qh_arrive(self, t: int, arg) -> None:
        src, done = arg
        d = self.stack.rfs.done
        if done > d.get(src, 0):
            d[src] = done

    def _backlog_arrive(self, t: int, arg) -> None:
        src, skb = arg
        self.backlog.enqueue_to_backlog(skb, src)

    def _ipi_arrive(self, t: int, src: int) -> None:
        if self.backlog.ipi_from(src):
            self.cpu.raise_irq(self._rps_trigger_softirq, None, "CAL", t)

    def _rps_trigger_softirq(self, _arg) -> int:
        self.backlog.rps_trigger_softirq()
        return self.costs.ipi_call_function

    def _sock_arrive(self, t: int, arg) -> None:
        sidx, skb, src_cpu = arg
        skb.t_sock = t
        sk = self.sockets.get(sidx)
        if sk is None:                       # its reader is moving here: the socket follows
            self.pending.setdefault(sidx, []).append((skb, src_cpu))
            return
        idle = self.cpu.is_idle()
        before = self.cpu.sched.need_resched
        self._charge(src_cpu, t, self.stack.sock_enqueue(sk, skb, src_cpu, t))
        if not idle and not before and self.cpu.sched.need_resched:
            # a remote wake-up that preempts a busy CPU kicks it with a reschedule IPI;
            # an idle CPU polling on its flags needs none
            self.cpu.raise_irq(self._ipi_handler, None, "RES", t)

    def _charge(self, cpu: int, t: int, extra: int, sock: int = -1) -> None:
        """What CPU `cpu` paid for work run here at `t` on its behalf (a hand-off queued
        on a socket here: spinning, lines, a free; a transmit on a queue held here) goes
        back to it in a `stall` record, taken a stall delay later at its next step (which
        keeps the lookahead: see cpus/lookahead.py): in softirq, or (`sock` ≥ 0) in the
        task that sends on that socket."""
        if not extra:
            return
        if cpu == self.cpu_id:               # a hand-off to a socket on its way here
            self._stall_arrive(t, (extra, sock))
            return
        dst = self.cpu_lp[cpu]
        link = self.out_links[dst]
        self.out_seq += 1
        self.outbox.setdefault(dst, []).append(
            ("stall", link.deliver(self.stall_sent(t, link)), self.out_seq, (extra, sock)))

    def stall_sent(self, t: int, link) -> int:
        """When a stall answering work at `t` leaves: a stall delay later, or half way to
        the run's end when that is sooner, so what the last stretch cost lands within the
        run (the peers then meet more often only in that last stretch)."""
        return t + min(stall_delay(link), max(0, (self.end - t - link.latency) // 2))

    def _stall_arrive(self, t: int, arg) -> None:
        ns, sock = arg
        self.cpu.charge_late(ns, self.tx_task[sock] if sock >= 0 else None)

    def _ipi_handler(self, _arg) -> int:
        return self.costs.ipi_call_function

    # -- LP contract ----------------------------------------------------------------------
    def receive(self, src: str, payload) -> None:
        until = payload.get("until")
        if until is not None:
            mine = self._until_in.setdefault(src, {})
            for k, v in until.items():
                if v > mine.get(k, -1):
                    mine[k] = v
        ru = payload.get("rx_until")
        if ru is not None and ru > self._rx_until.get(src, -1):
            self._rx_until[src] = ru
        rx = payload.get("rx")
        if rx is not None:
            stamps, ids, flows, wires, queues, words = (np.frombuffer(c, dtype=np.int64)
                                                        for c in rx)
            # grouped by queue, not sorted overall: the least stamp is the one to check
            if stamps.size and int(stamps.min()) < self.sync.advanced_to:
                raise RuntimeError(f"{self.name}: a frame from {src} stamped "
                                   f"{int(stamps.min())} arrived after advancing to "
                                   f"{self.sync.advanced_to}")
            # the first new frame of each vector's rings: its interrupt is judged then, as
            # an event, so in time order however late in a round the frames were filed
            first: dict = {}
            if len(self.rings) == 1:
                (q, ring), = self.rings.items()
                ring.add_arrivals(stamps.tolist(), ids.tolist(), flows.tolist(), wires.tolist(),
                                  words.tolist())
                if stamps.size:
                    first[ring.vector] = int(stamps.min())
            else:
                for q, ring in self.rings.items():
                    m = queues == q
                    if m.any():
                        ring.add_arrivals(stamps[m].tolist(), ids[m].tolist(),
                                          flows[m].tolist(), wires[m].tolist(),
                                          words[m].tolist())
                        s = int(stamps[m].min())
                        v = ring.vector
                        first[v] = min(first.get(v, s), s)
            for vec, s in first.items():
                self.ev.schedule_keyed(s, PRIO_DEVICE, self.index, RX_KICK - vec.entry,
                                       self._rx_kick, vec)
                # the driver may write a lower interval before then (ice's net_dim, from
                # its kworker, armed or not): the least it may write bounds it
                heapq.heappush(self._starts, vec.earliest_bound(s))
        recs = payload.get("cpu")
        if recs is not None:
            origin = self.lp_index[src]
            src_cpu = self.lp_cpu.get(src, -1)
            floor = self.sync.advanced_to
            link = getattr(self, "in_links", {}).get(src)    # unit tests may have none
            carries = link.carries if link is not None else ()
            accepts = accepted("cpu", carries)
            file = self._file
            for kind, stamp, seq, body in recs:
                if stamp < floor:            # a promise was broken: fail, never mis-order
                    raise RuntimeError(f"{self.name}: a {kind} record from {src} stamped "
                                       f"{stamp} arrived after advancing to {floor}")
                if kind not in accepts:
                    refuse(kind, self.name, src, carries)
                file[kind](stamp, origin, seq, body, src_cpu)

    # Filing a record that arrived: its event, keyed by its sender, and the start-time heaps
    # the lookahead reads (which records can start work here, and when).
    def _file_sk(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._sock_arrive,
                               (body[0], SkBuff.from_wire(body[1]), src_cpu))
        heapq.heappush(self._sk_starts, stamp)

    def _file_bl(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._backlog_arrive,
                               (src_cpu, SkBuff.from_wire(body)))
        heapq.heappush(self._starts, stamp)
        heapq.heappush(self._data_starts, stamp)

    def _file_ipi(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._ipi_arrive, src_cpu)
        heapq.heappush(self._starts, stamp)

    def _file_xq(self, stamp, origin, seq, body, src_cpu) -> None:
        skb = SkBuff.from_wire(body[1])
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._xq_arrive,
                               (body[0], skb, body[2], src_cpu))
        heapq.heappush(self._starts, stamp)
        heapq.heappush(self._xq_starts, stamp)

    def _file_wf(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._wf_arrive, body)
        heapq.heappush(self._task_starts, stamp)

    def _file_arp(self, stamp, origin, seq, body, src_cpu) -> None:
        # a neighbour answered (arp_rcv)
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._arp_arrive, body)
        heapq.heappush(self._starts, stamp)

    def _file_txc(self, stamp, origin, seq, body, src_cpu) -> None:
        queue, times, clean = body
        vec = self.txq_vec[queue]
        for k, t in enumerate(times):
            self.ev.schedule_keyed(t, PRIO_DEVICE, origin, seq + k, self._txc_arrive,
                                   (queue, clean[k]))
            # a write-back starts work only through the vector's interrupt, no sooner than
            # its EITR interval allows (a later interrupt moves that only later), however
            # low the driver may set it meanwhile
            e = vec.earliest_bound(t)
            heapq.heappush(self._starts, e)
            heapq.heappush(self._txc_starts, e)

    def _file_tc(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._tc_arrive,
                               (body, src_cpu))
        heapq.heappush(self._starts, stamp)

    def _file_mig(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._mig_arrive, body)
        heapq.heappush(self._sk_starts, stamp)
        heapq.heappush(self._data_starts, stamp)

    def _file_stall(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._stall_arrive, body)

    def _file_qh(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._qh_arrive, (src_cpu, body))

    def _file_rfs(self, stamp, origin, seq, body, src_cpu) -> None:
        self.ev.schedule_keyed(stamp, PRIO_LINK, origin, seq, self._rfs_arrive, body)
        heapq.heappush(self._data_starts, stamp)

    def advance(self, safe: int) -> None:
        if self.series is not None:
            self.series.advance(safe)       # to each interval boundary first, sampled there
        self.cpu.run(safe)
        # The start-time heaps only bound promises from `safe` on (each reader drops what
        # lies before it first): drop those entries now, or a heap whose reader is not
        # consulted in this configuration grows by one entry per record for the whole run.
        for heap in (self._starts, self._sk_starts, self._data_starts, self._task_starts,
                     self._txc_starts, self._xq_starts):
            while heap and heap[0] < safe:
                heapq.heappop(heap)

    def take_outbox(self, dst: str):
        recs = self.outbox.pop(dst, None)
        out = {"cpu": recs} if recs else {}
        until = self._until_out.get(dst)
        if until and until != self._until_sent.get(dst):
            # per-kind promises (last round's: still valid lower bounds) let dst tell,
            # e.g., "no table write before X" from "no backlog packet before Y"
            self._until_sent[dst] = until
            out["until"] = until
        return out or None

    def progress(self) -> dict:
        # offered as far as this CPU's clock: frames that have reached its rings by now (the
        # nic runs ahead, so its own count would run ahead of everything else shown)
        t = self.sync.advanced_to
        return {"offered": sum(r.arrived_by(t) for r in self.rings.values()),
                "delivered": self.books.delivered_total,
                "dropped": sum(self.books.drops.values()),
                "sent": sum(t.sent for t in self.tx_socks.values())}

    def result(self) -> dict:
        out = cpu_report(self)
        if self.series is not None:
            out["series"] = self.series.export()
        if self.cpu.tracer is not None:
            out["trace"] = self.cpu.tracer.export()
        if self.host_tap is not None:
            out["host_capture"] = self.host_tap.export()
        return out
