"""The host builder (construction apart from execution, as ns-3's helpers keep it): from
one CPU's part of the plan it builds that CPU's components — the protocol stack and its
steering tables, softnet_data's backlog, the TX queues' halves, the driver and its
vectors with their rings and NAPI, the applications — hands each its dependencies and
wires them to the CPU LP (`cpus/lp.py`), which then only files records, advances, hands
out records and reports.

The driver comes from the device's `driver` (its ops: the hard-IRQ handler and the NAPI
poll): `cpus/igb.py`, `cpus/ice.py`, `cpus/e1000e.py` or `cpus/ixgbe.py`; with `nic.napi = false` the handler is the
interrupt-driven one of `cpus/intr_rx.py` around that driver's ring work.

May import: the standard library, `engine`, `nic` (rings, vectors) and this package.
"""

from __future__ import annotations

from softnet.engine.events import PRIO_LOCAL
from softnet.nic.msix import MsixVector
from softnet.nic.rxring import RxRing

from .app import udp_sender
from .arfs import Arfs
from .backlog import Backlog
from .capture import HostTap
from .cpu import NET_RX_SOFTIRQ, NET_TX_SOFTIRQ
from .e1000e import E1000eDriver, E1000eTx
from .gro import GroFlow, GroList
from .ice import IceDriver, IceTx
from .igb import IgbDriver, QVector
from .igb_tx import IgbTx
from .ixgbe import IxgbeDriver, IxgbeTx
from .intr_rx import IntrRx
from .lp import CpuLP
from . import napi_3x
from .napi import NapiStruct, net_rx_action
from .rfs import HeadReports, RfsRx, RfsWriter, SockFlowTable
from .sched import Task
from .stack import Stack
from .tcp_rr import TcpRr
from .tx import Neigh, Tx, TxQueue, TxSock
from .txq_lines import TxqLines


# the drivers modelled, by the name a device data file gives (`driver`): each instance
# offers the hard-IRQ handler (`msix_ring`) and the NAPI poll (`poll`), as the kernel's
# request_irq handler and napi_struct.poll
DRIVERS = {"igb": IgbDriver, "ice": IceDriver, "e1000e": E1000eDriver, "ixgbe": IxgbeDriver}
# … and its transmit half (ndo_start_xmit and the TX clean)
DRIVER_TX = {"igb": IgbTx, "ice": IceTx, "e1000e": E1000eTx, "ixgbe": IxgbeTx}


def build(name: str, index: int, args: dict) -> CpuLP:
    """The LP factory the topology names: one simulated CPU, built and wired."""
    lp = CpuLP(name, index, args)
    _stack(lp, args)
    _steering(lp, args)
    _backlog(lp, args)
    _transmit(lp, name, args)
    _driver(lp, args)
    _servers(lp, args)
    _applications(lp, args)
    _senders(lp, args)
    _taps(lp, args)
    return lp


def _taps(lp: CpuLP, args: dict) -> None:
    """[observe] pcap = ["host"]: the host's own taps, on the receive and transmit path."""
    cap = args["host_capture"]
    if cap is None:
        return
    lp.host_tap = HostTap(cap["count"], set(cap["flows"]) if cap["filtered"] else None,
                          lp.tx.by_flow)
    lp.stack.tap = lp.tx.tap = lp.host_tap


def _stack(lp: CpuLP, args: dict) -> None:
    """The protocol stack, with each flow's hash, protocol, fate and GRO parameters."""
    lp.stack = Stack(lp.cpu, lp.sd, lp.snmp,
                     [f["local"] for f in args["flows"]],
                     [f["sock"] for f in args["flows"]],
                     lp.sockets, lp.books, lp.sysctl.gro_normal_batch,
                     lp._remote_enqueue)
    lp.stack.sw_hash = [f["sw_hash"] for f in args["flows"]]
    lp.stack.hash_cost = 0 if args["device"]["l4_rxhash"] else lp.cpu.costs.flow_dissector
    lp.stack.flow_tcp = [f["proto"] == "tcp" for f in args["flows"]]
    lp.stack.flow_forward = [f.get("forward", False) for f in args["flows"]]
    lp.stack.flow_nf_drop = [f.get("nf_drop") for f in args["flows"]]
    lp.stack.gro_flows = [GroFlow(f["gro"], f["nic_hash"], f["l34_hdr"], f["payload"],
                                  f["gro_lookup"]) for f in args["flows"]]


def _steering(lp: CpuLP, args: dict) -> None:
    """RPS maps, RFS's table replica and aRFS where this CPU polls such queues, and the
    socket flow table writer where its readers are connected."""
    rfs = args.get("rfs") or {}
    entries = rfs.get("sock_flow_entries", 0)
    flow_cnt = {int(q): n for q, n in rfs.get("flow_cnt", {}).items()}
    if entries and flow_cnt:             # this CPU polls RFS queues: a table replica
        lp.stack.rfs = RfsRx(lp.cpu_id, args["ncpus"],
                             SockFlowTable(entries, args["ncpus"]), flow_cnt)
        lp.stack.rfs.xfer = lp.costs.cacheline_transfer
    arfs = rfs.get("arfs")
    if arfs and lp.stack.rfs is not None:   # set_rps_cpu may program NIC filters
        lp.stack.rfs.arfs = Arfs(arfs["rmap"],
                                 {int(q): m for q, m in arfs["flow_masks"].items()},
                                 set(arfs["refused_flows"]), lp._arfs_steer,
                                 arfs["steers"]["pairs"], arfs["steers"]["forever"],
                                 arfs["expiry"])
    lp.rfs_replicas = [f"cpu{c}" for c in rfs.get("replicas", []) if c != lp.cpu_id]
    lp.rfs_writer = None
    mine = [lp.sock_args[a["sock"]] for a in args["apps"]]   # ever owned here
    if entries and any(sa.get("rem_ip") is not None and sa.get("rfs_hash")
                       for sa in mine):
        lp.rfs_writer = RfsWriter(lp.cpu_id, SockFlowTable(entries, args["ncpus"]),
                                  set(rfs.get("shared_slots", [])), lp._rfs_publish)
    lp.stack.rps_maps = {int(q): m for q, m in args["rps_maps"].items()}
    lp.stack.rps_remote = lp._rps_remote
    lp.stack.rps_ipi = lp._rps_ipi
    lp.cpu_lp = {int(c): n for c, n in args["cpu_lp"].items()}   # CPU -> LP name
    lp.lp_cpu = {n: c for c, n in lp.cpu_lp.items()}


def _backlog(lp: CpuLP, args: dict) -> None:
    """softnet_data's backlog (input_pkt_queue, process_queue, flow limit)."""
    rfs = args.get("rfs") or {}
    lp.backlog = Backlog(lp.cpu, lp.sd, lp.stack, lp.books,
                         lp.sysctl.netdev_max_backlog, lp.sysctl.dev_weight,
                         set(lp.sysctl.flow_limit_cpus),
                         lp.sysctl.flow_limit_table_len, lp.stack.send_rps_ipis)
    lp.backlog.complete_early = lp.kernel.backlog_complete_early
    lp.stack.backlog = lp.backlog
    if rfs.get("heads"):                 # an RFS queue's CPU may enqueue here
        lp.backlog.heads = HeadReports(lp._head_report)


def _transmit(lp: CpuLP, name: str, args: dict) -> None:
    """The TX queues' halves held here, the transmit path and the neighbours."""
    txa = args["tx"]
    # the transmit side: the TX queues whose vectors this CPU serves (spec §10, §11)
    # (a queue's producer half — qdisc, next_to_use, dql_queued — lives with the CPU
    # that transmits on it, its consumer half with the CPU its vector cleans on)
    cleaned = {q for v in args["vectors"] for q in v.get("tx_queues", ())}
    busy = set(txa["busy_queues"])          # queues something transmits on
    produced = {int(q) for q, owner in txa["queue_owner"].items()
                if owner == name and (int(q) in cleaned or int(q) in busy)}
    c = lp.costs
    lp.txqs = {q: TxQueue(q, txa["ring"], txa["txqueuelen"], args["hz"],
                          txa.get("qdisc", "pfifo_fast"), txa.get("fq_codel"),
                          TxqLines(c.cacheline_transfer, c.qdisc_lock_hold, lp.cpu_id),
                          lp.kernel.pfifo_fast_nolock)
               for q in sorted(cleaned | produced)}
    lp.txq_cleaned = cleaned
    lp.tx = Tx(lp.cpu, {q: lp.txqs[q] for q in sorted(produced)}, txa["ntxq"],
               txa["xps"], lp.snmp, lp.books, txa["dev_tx_weight"])
    lp.tx.doorbell = lp._doorbell
    lp.tx.bulk_dequeue = lp.kernel.bulk_dequeue
    lp.tx.wfree_remote = lp._wfree
    lp.tx.cleaned_remote = lp._cleaned_remote
    lp.tx.gso_udp_l4 = txa.get("gso_udp_l4", True)
    lp.tx.remote_xmit = lp._remote_xmit
    lp.tx.rerun = lp._tx_rerun_at
    lp.tx.unres_qlen_bytes = txa.get("unres_qlen_bytes", 212992)
    lp.tx.neigh_of_sender = {int(k): v for k, v in txa.get("neigh_of_sender", {}).items()}
    lp.tx.neigh_of_flow = {int(k): v for k, v in txa.get("neigh_of_flow", {}).items()}
    for k in sorted(set(lp.tx.neigh_of_sender.values())
                    | set(lp.tx.neigh_of_flow.values())):
        if k >= 0:
            lp.tx.neigh[k] = Neigh(k, txa["neigh_hash"][k])
    lp.txq_owner = {int(q): owner for q, owner in txa["queue_owner"].items()}
    lp.cpu.softirq_handlers[NET_TX_SOFTIRQ] = lp.tx.net_tx_action
    lp.stack.tx = lp.tx
    lp.tx.gro_flows = lp.stack.gro_flows
    lp.tx.fwd_txq = {int(k): v for k, v in txa.get("fwd_txq", {}).items()}
    rx_action = net_rx_action if lp.kernel.net_rx_action == "6.6" else napi_3x.net_rx_action
    lp.cpu.softirq_handlers[NET_RX_SOFTIRQ] = (
        lambda: rx_action(lp.cpu, lp.sd, lp.sysctl, lp.stack))


def _driver(lp: CpuLP, args: dict) -> None:
    """The driver's per-CPU instance, and each vector this CPU serves with its RX ring,
    the TX queue it cleans and its NAPI."""
    txa = args["tx"]
    dev = args["device"]
    name = dev["driver"]
    txd = DRIVER_TX[name](lp.tx)             # attaches itself: lp.tx.drv
    txd.atr = dev["atr"]
    lp.driver = DRIVERS[name](lp.cpu, lp.sd, lp.stack, lp._rearm, txd)
    lp.driver.icr_read_ns = dev["icr_read_ns"] if dev["int_mode"] != "msix" else 0
    lp.driver.zero_work = name in lp.kernel.drv_zero_work
    intr = None if dev["napi"] else IntrRx(lp.driver)
    if lp.cpu.tracer is not None:            # a trace names the driver's functions its way
        lp.cpu.tracer.names.update(lp.driver.function_names)
        lp.cpu.tracer.names.update(lp.kernel.function_names)
    flow_len = [f["len"] for f in args["flows"]]
    for v in args["vectors"]:
        vec = MsixVector(v["entry"], v["name"], v["irq"], 0)
        ring = None
        for q in v["rx_queues"]:
            ring = RxRing(q, v["rx_ring"], v["drop_en"], v["packet_buffer"], flow_len,
                          dev["truesize"])
            ring.vector = vec
            ring.on_drop = lp.books.drop
            ring.alloc_rx_buffers(ring.desc_unused(), 0)   # igb_configure_rx_ring
            vec.rings.append(ring)
            lp.rings[q] = ring
        qv = QVector(vec, ring, v["itr_setting"], dev["start_itr"], dev["gigabit"],
                     dev["rx_buffer_write"])
        if "itr_rate" in v:                  # e1000e: the register's rate, mode bits kept
            qv.itr_val = v["itr_rate"]
        for q in v.get("tx_queues", ()):
            qv.txq = lp.txqs[q]
            qv.tx_work_limit = txa["work_limit"]
            lp.txq_vec[q] = vec
        lp.driver.qv_init(qv, dev["int_mode"] == "msix")
        # with NAPI the handler schedules the poll; without, it does the work
        # (cpus/intr_rx.py)
        lp.irq_handlers[vec] = (lp.driver.irq_handler(dev["int_mode"], qv) if intr is None
                                else intr.e1000_intr)
        if dev["dim"] is not None:              # ice: its containers' moderation
            lp.driver.dim_init(qv, dev["dim"])
        qv.napi = NapiStruct(v["name"], dev["napi_weight"], lp.driver.poll, qv)
        if dev["gro"]:
            qv.napi.gro = GroList(lp.kernel.gro_hash_buckets, lp.kernel.gro_evict_oldest)
        lp.vectors.append(vec)
        lp.qvectors.append(qv)
        lp.qv_of[vec] = qv
    lp.irq_names = [v.name for v in lp.vectors]


def _servers(lp: CpuLP, args: dict) -> None:
    """udp_rr and tcp_rr servers here: the send side of their sockets, and the response
    payload and skb hash of each flow they answer (the reader task itself starts with the
    applications); the TCP_RR connections' state and timers."""
    lp.tcp_rr = TcpRr(lp.stack, lp.tx, lp.tx_socks, lp.snmp.tcp, lp.snmp.tcpext,
                      lp.cpu.jiffy_ns)
    lp.tcp_rr.arm = lp._tcp_timer_at
    lp.stack.tcp_rr = lp.tcp_rr
    for sd in args["servers"]:
        sa = lp.sock_args[sd["app"]]
        if sa.get("rr"):                 # TCP_RR: connected, its random sk_txhash
            lp.tx_socks[sd["app"]] = TxSock(sd["app"], sd["sk_sndbuf"], sa["rr"]["hash"],
                                            True, True)
        else:
            # unconnected: no hash or queue of its own, each response has its flow's
            lp.tx_socks[sd["app"]] = TxSock(sd["app"], sd["sk_sndbuf"], 0, False, True)
        lp.rr_responses[sd["app"]] = {int(f): tuple(v) for f, v in sd["responses"].items()}
        lp.tx.rr_servers.add(sd["app"])


def _applications(lp: CpuLP, args: dict) -> None:
    """Readers that start here, and the moves of readers (and their sockets) in and out."""
    lp.app_args = {a["sock"]: a for a in args["apps"]}
    for a in args["apps"]:
        tl = a["timeline"]
        if tl[0][1] == lp.cpu_id:
            lp._start_app(a, lp.sockets[a["sock"]], True)
        for (_, old), (at, new) in zip(tl, tl[1:]):
            if old == lp.cpu_id:
                lp._mig_out.append((at, a["sock"], f"cpu{new}"))
            if new == lp.cpu_id:
                lp._mig_in.append(at)
    lp._mig_out.sort()
    lp._mig_in.sort()


def _senders(lp: CpuLP, args: dict) -> None:
    """Sending applications here, each with its socket's send side."""
    lp.tx.senders_payload = {sd["app"]: (sd["payload"], sd.get("gso_size", 0))
                             for sd in args["senders"]}
    for sd in args["senders"]:
        tsk = TxSock(sd["app"], sd["sk_sndbuf"], sd["hash"], sd["connected"],
                     sd["blocking"])
        tsk.tx_queue = sd["queue"]       # netdev_pick_tx's choice, fixed for the flow
        tsk.port_base = sd.get("port_base", 0)
        lp.tx_socks[sd["app"]] = tsk
        ref: list = [None]
        spec = {"payload": sd["payload"], "interval_ns": sd["interval_ns"],
                "count": sd["count"], "start_ns": sd["start_ns"], "stop_ns": sd["stop_ns"]}
        task = Task(sd["name"], 3, udp_sender(lp.cpu, tsk, lp.tx, spec, lp.books,
                                              lp.snmp.udp, ref, lp._sleep_until,
                                              lp.tx.ip_make_skb))
        ref[0] = task
        lp.tasks.append(task)
        lp.sender_tasks.append(task)
        lp.tx_task[sd["app"]] = task
        lp.cpu.sched.wake(task)
    for s_ in args["sockets"]:
        if s_.get("sender") or s_.get("serve"):      # where its send side lives
            lp.tx_sock_lp[s_["index"]] = s_["owners"][0][1]
    for k, (at, sidx, _) in enumerate(lp._mig_out):
        lp.ev.schedule_keyed(at, PRIO_LOCAL, lp.index, -1000 - k, lp._migrate_out, sidx)
