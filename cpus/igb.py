"""The igb driver's receive half as it runs on a CPU (kernel-spec §3.2–§3.4, §3.6).

`igb_msix_ring` is the hard-IRQ handler; `igb_poll` the NAPI poll; `igb_clean_rx_irq`
cleans descriptors, refilling in batches of IGB_RX_BUFFER_WRITE; `igb_ring_irq_enable`
recomputes the interrupt rate (dynamic modes) and re-arms the vector.
"""

from __future__ import annotations

from softnet.engine.events import INF
from softnet.nic.msix import eitr_ns

from .gro import NORMAL, TCP
from .napi import napi_complete_done, napi_schedule

IGB_70K_ITR = 56
IGB_20K_ITR = 196
IGB_4K_ITR = 980
# igb_update_itr's latency ranges (enum latency_range)
LOWEST_LATENCY, LOW_LATENCY, BULK_LATENCY = range(3)


class QVector:
    """igb_q_vector: one interrupt vector, its NAPI and the rings it serves."""

    __slots__ = ("vec", "napi", "rx_ring", "itr_val", "set_itr", "itr_setting",
                 "rx_total_bytes", "rx_total_packets", "gigabit", "ring_packets",
                 "ring_bytes", "rx_buffer_write", "txq", "tx_work_limit", "total_events",
                 "dim", "dim_itr", "dim_intrl", "tx_dim", "tx_dim_itr", "single",
                 "rx_latency", "tx_latency", "rx_next", "tx_next")

    def __init__(self, vec, rx_ring, itr_setting: int, start_itr: int, gigabit: bool,
                 rx_buffer_write: int) -> None:
        self.vec = vec
        self.napi = None
        self.rx_ring = rx_ring
        self.itr_setting = itr_setting
        # igb_set_coalesce / igb_alloc_q_vector: 1 and 3 start at IGB_START_ITR
        self.itr_val = start_itr if 0 < itr_setting <= 3 else itr_setting
        self.set_itr = False
        self.rx_total_bytes = 0
        self.rx_total_packets = 0
        self.gigabit = gigabit
        self.ring_packets = 0      # rx_ring->rx_stats: what /proc/net/dev sums
        self.ring_bytes = 0
        self.rx_buffer_write = rx_buffer_write
        self.txq = None            # the TX queue (cpus.tx.TxQueue) this vector cleans
        self.tx_work_limit = 128   # IGB_DEFAULT_TX_WORK
        # adaptive moderation where the driver runs net_dim (ice): the vector's interrupt
        # count, the state, the profiles' ITR (µs) and the interrupt rate limit (ns)
        self.total_events = 0
        self.dim = None
        self.dim_itr: list[int] = []
        self.dim_intrl = 0
        self.tx_dim = None                 # … and the TX container's (ice's adaptive-tx)
        self.tx_dim_itr: list[int] = []
        # the adapter's only q_vector (no MSI-X): igb_set_itr's per-interrupt classifier,
        # each container's latency range kept from one interrupt to the next
        self.single = False
        self.rx_latency = self.tx_latency = LOWEST_LATENCY
        self.rx_next = self.tx_next = 0    # ixgbe: each container's next update (jiffies)
        vec.interval = eitr_ns(self.itr_val)


def ring_backlog(qv: "QVector", t: int) -> int:
    """Frames that reached the q_vector's RX ring by t and neither the driver took nor the
    ring dropped (a drop is booked when the driver next looks)."""
    ring = qv.rx_ring
    return max(0, ring.arrived_by(t) - qv.ring_packets - ring.rqdpc - ring.mpc)


class IgbDriver:
    """The per-CPU instance of the driver's receive path."""

    __slots__ = ("cpu", "sd", "stack", "costs", "rearm", "tx", "icr_read_ns", "zero_work")

    def __init__(self, cpu, sd, stack, rearm, tx=None) -> None:
        self.cpu = cpu
        self.sd = sd
        self.stack = stack
        self.costs = cpu.costs
        self.rearm = rearm           # fn(vector, now): the device re-checks its causes
        self.tx = tx                 # cpus.igb_tx.IgbTx: the driver's transmit half here
        self.icr_read_ns = 0         # rd32(E1000_ICR) across PCIe (MSI and INTx handlers)
        self.zero_work = False       # 3.x igb/ixgbe: a complete poll returns 0 (spec §15.12)

    def igb_msix_ring(self, qv: QVector) -> int:
        cost = self.igb_write_itr(qv)
        napi_schedule(self.cpu, self.sd, qv.napi)
        return cost

    def igb_intr_msi(self, qv: QVector) -> int:
        """MSI: read ICR (which also masks), write a pending ITR, schedule the one NAPI."""
        cost = self.icr_read_ns + self.igb_write_itr(qv)
        napi_schedule(self.cpu, self.sd, qv.napi)
        return cost

    def igb_intr(self, qv: QVector) -> int:
        """Legacy INTx (IRQF_SHARED): the ICR read is how it learns the interrupt is its
        own (E1000_ICR_INT_ASSERTED; nothing else shares the line here), then as MSI."""
        cost = self.icr_read_ns + self.igb_write_itr(qv)
        napi_schedule(self.cpu, self.sd, qv.napi)
        return cost

    def irq_handler(self, int_mode: str, qv: QVector | None = None):
        """request_irq's handler for the interrupt capability the probe ended with (the
        same for every queue vector of igb's)."""
        return {"msix": self.msix_ring, "msi": self.igb_intr_msi,
                "legacy": self.igb_intr}[int_mode]

    def qv_init(self, qv: QVector, msix: bool) -> None:
        """What the driver sets on a vector at open beyond igb's defaults (none here)."""
        qv.single = not msix

    def igb_write_itr(self, qv: QVector) -> int:
        """The new EITR value the last re-arm computed, written as the handler starts."""
        if qv.set_itr:
            qv.vec.interval = eitr_ns(qv.itr_val)
            qv.set_itr = False
        return self.costs.igb_msix_ring

    def igb_poll(self, cpu, napi, budget: int):
        qv = napi.ctx
        clean_complete = True
        work_done = 0
        if qv.txq is not None:                  # TX cleanup first, its own 128 limit
            clean_complete = yield from self.tx.igb_clean_tx_irq(qv.txq, qv.tx_work_limit)
        if qv.rx_ring is not None:
            cleaned = yield from self.igb_clean_rx_irq(qv, budget)
            work_done += cleaned
            if cleaned >= budget:
                clean_complete = False
        if not clean_complete:
            return budget
        if (yield from napi_complete_done(cpu, self.sd, napi, work_done, self.stack)):
            yield self.irq_enable(qv)
        if self.zero_work:
            return 0
        return work_done            # (< budget here: ice's min(work_done, budget - 1))

    def igb_clean_rx_irq(self, qv: QVector, budget: int):
        cpu = self.cpu
        c = self.costs
        ring = qv.rx_ring
        napi = qv.napi
        stack = self.stack
        batch = stack.gro_normal_batch
        write = qv.rx_buffer_write or INF            # 0: once per poll, after the loop
        gro = napi.gro                 # None: GRO off (netif_elide_gro)
        gro_flows = stack.gro_flows
        per_packet = c.igb_clean_rx_packet
        if gro is not None:
            per_packet += c.napi_gro_receive
        lookup = per_packet + c.udp4_gro_lookup
        merge = per_packet + c.tcp_gro_receive
        total_packets = 0
        total_bytes = 0
        cleaned_count = ring.desc_unused()
        while total_packets < budget:
            if cleaned_count >= write:
                ring.alloc_rx_buffers(cleaned_count, cpu.now)
                yield c.igb_alloc_rx_buffer * cleaned_count
                cleaned_count = 0
            skb = ring.next_ready(cpu.now)
            if skb is None:
                break
            cleaned_count += 1
            total_bytes += skb.len
            skb.t_poll = cpu.now
            stack.held += 1
            total_packets += 1
            fl = gro_flows[skb.flow] if gro is not None else None
            if fl is None or fl.kind == NORMAL:
                # napi_gro_receive → GRO_NORMAL (plain UDP is flagged flush, spec §6.3;
                # with GRO off every packet is) → gro_normal_one
                rx_list = napi.rx_list
                rx_list.append(skb)
                napi.rx_count += 1
                if gro is not None:
                    gro.wire += 1
                    gro.to_stack += 1
                    yield lookup if fl.lookup else per_packet
                else:
                    yield per_packet
                if napi.rx_count >= batch:
                    yield from stack.gro_normal_list(napi)
            else:
                done = gro.receive(skb, fl, cpu.jiffies())
                yield merge if fl.kind == TCP else lookup
                if done:
                    yield from stack.gro_complete(napi, done)
        qv.ring_packets += total_packets
        qv.ring_bytes += total_bytes
        qv.rx_total_packets += total_packets
        qv.rx_total_bytes += total_bytes
        if cleaned_count:
            ring.alloc_rx_buffers(cleaned_count, cpu.now)
            yield c.igb_alloc_rx_buffer * cleaned_count
        return total_packets

    # the driver's ops, under the names the CPU calls them by (request_irq's handler,
    # napi_struct.poll)
    msix_ring = igb_msix_ring
    write_itr = igb_write_itr                # (ice writes its ITR elsewhere: a no-op there)
    function_names: dict[str, str] = {}     # generator name -> kernel name, where they differ
    poll = igb_poll

    def igb_ring_irq_enable(self, qv: QVector) -> int:
        if qv.itr_setting & 3:
            if qv.single:                        # adapter->num_q_vectors == 1
                igb_set_itr(qv)
            else:
                igb_update_ring_itr(qv)
        return self.unmask(qv)                   # wr32(E1000_EIMS, eims_value)

    def unmask(self, qv: QVector) -> int:
        """The vector's interrupt enabled again (EIMS, IMS, GLINT_DYN_CTL): the device
        judges its causes anew. Its cost: the register write."""
        qv.vec.masked = False
        self.rearm(qv.vec, self.cpu.now)
        return self.costs.igb_irq_enable

    irq_enable = igb_ring_irq_enable         # the poll's re-arm, a driver's own


def igb_update_ring_itr(qv: QVector) -> None:
    """Average-wire-size heuristic for multi-vector MSI-X (kernel-spec §3.6)."""
    if not qv.gigabit:
        new_val = IGB_4K_ITR
    else:
        ring = qv.txq.ring if qv.txq is not None else None
        tx_packets = ring.tx_total_packets if ring is not None else 0
        if not qv.rx_total_packets and not tx_packets:
            qv.rx_total_bytes = qv.rx_total_packets = 0
            return
        avg = qv.rx_total_bytes // qv.rx_total_packets if qv.rx_total_packets else 0
        if tx_packets:                  # the larger of the RX and TX average sizes
            avg = max(avg, ring.tx_total_bytes // tx_packets)
        avg += 24                       # CRC, preamble and gap
        avg = min(avg, 3000)
        new_val = avg // 3 if 300 < avg < 1200 else avg // 2
        if new_val < IGB_20K_ITR and qv.itr_setting == 3:
            new_val = IGB_20K_ITR       # conservative mode caps at ~20k irq/s
    if new_val != qv.itr_val:
        qv.itr_val = new_val
        qv.set_itr = True
    qv.rx_total_bytes = qv.rx_total_packets = 0
    if qv.txq is not None:
        qv.txq.ring.tx_total_bytes = qv.txq.ring.tx_total_packets = 0


def update_itr(latency: int, packets: int, nbytes: int, bulk_until: int) -> int:
    """One container's latency range from what it moved since the last interrupt: the
    e1000 family's classifier, whose bulk state is left below `bulk_until` bytes (igb
    1,500, e1000e 6,000)."""
    if packets == 0:
        return latency
    if latency == LOWEST_LATENCY:
        if nbytes // packets > 8000:                 # TSO and jumbo frames
            return BULK_LATENCY
        if packets < 5 and nbytes > 512:
            return LOW_LATENCY
    elif latency == LOW_LATENCY:                      # 50 µs, 20,000 ints/s
        if nbytes > 10000:
            if nbytes // packets > 8000 or packets < 10 or nbytes // packets > 1200:
                return BULK_LATENCY
            if packets > 35:
                return LOWEST_LATENCY
        elif nbytes // packets > 2000:
            return BULK_LATENCY
        elif packets <= 2 and nbytes < 512:
            return LOWEST_LATENCY
    elif latency == BULK_LATENCY:                     # 250 µs, 4,000 ints/s
        if nbytes > 25000:
            if packets > 35:
                return LOW_LATENCY
        elif nbytes < bulk_until:
            return LOW_LATENCY
    return latency


def igb_update_itr(latency: int, packets: int, nbytes: int) -> int:
    return update_itr(latency, packets, nbytes, 1500)


def igb_set_itr(qv: QVector) -> None:
    """The single-vector heuristic (no MSI-X): each container's latency range, the higher
    of the two picks 70K, 20K or 4K interrupts/s (dynamic conservative never the first);
    a rise is approached in steps, a fall taken at once. Written at the next interrupt."""
    if not qv.gigabit:
        new_itr = IGB_4K_ITR
    else:
        ring = qv.txq.ring if qv.txq is not None else None
        if ring is not None:
            qv.tx_latency = igb_update_itr(qv.tx_latency, ring.tx_total_packets,
                                           ring.tx_total_bytes)
            ring.tx_total_bytes = ring.tx_total_packets = 0
        qv.rx_latency = igb_update_itr(qv.rx_latency, qv.rx_total_packets, qv.rx_total_bytes)
        qv.rx_total_bytes = qv.rx_total_packets = 0
        current = max(qv.rx_latency, qv.tx_latency)
        if current == LOWEST_LATENCY and qv.itr_setting == 3:
            current = LOW_LATENCY
        new_itr = (IGB_70K_ITR, IGB_20K_ITR, IGB_4K_ITR)[current]
    if new_itr != qv.itr_val:
        if new_itr > qv.itr_val:
            new_itr = max(new_itr * qv.itr_val // (new_itr + (qv.itr_val >> 2)), new_itr)
        qv.itr_val = new_itr
        qv.set_itr = True
