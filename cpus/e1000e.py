"""The e1000e driver (82574L) as it runs on a CPU, where it differs from igb's
(devices-probe-kernels.md §1; L6.6 drivers/net/ethernet/intel/e1000e/netdev.c).

Under MSI-X the RX vector's handler, `e1000_intr_msix_rx`, writes a pending ITR and
schedules the one NAPI; the TX vector's, `e1000_intr_msix_tx`, cleans the TX ring itself
in hard-IRQ context (no NAPI, the whole ring) and re-arms. `e1000e_poll` then cleans RX
only, and the RX vector's dynamic ITR here classifies RX alone (the kernel's also counts
the TX totals the TX vector's handler left; they live with that vector, maybe on another
CPU); under MSI (`e1000_intr_msi`) or INTx (`e1000_intr`, reading ICR to learn the
interrupt is its own) one vector takes every cause and the poll cleans TX (the whole
ring) before RX. The ITR is in interrupts/s, written as 1e9 / (itr × 256) in 256 ns
units; in dynamic modes `e1000_set_itr` classifies what each direction moved since the
interrupt (`e1000_update_itr`) and picks 70,000, 20,000 or 4,000 interrupts/s, a rise in
steps; under MSI-X the RX vector's new value is written at its next interrupt.

`E1000eTx` is its transmit half: igb's ring work, with e1000e's wake threshold.

May import: this package's igb and igb_tx (the q_vector, the shared RX walk and ring
work) and napi.
"""

from __future__ import annotations

from .igb import LOW_LATENCY, LOWEST_LATENCY, IgbDriver, QVector, update_itr
from .igb_tx import IgbTx
from .napi import napi_schedule


def e1000e_itr_ns(itr: int) -> int:
    """e1000e_write_itr: the register holds 1e9 / (itr * 256) in 256 ns units (0: off)."""
    return (1_000_000_000 // (itr * 256)) * 256 if itr else 0


def e1000_update_itr(latency: int, packets: int, nbytes: int) -> int:
    """igb's classifier but for leaving bulk below 6,000 bytes (§1.3)."""
    return update_itr(latency, packets, nbytes, 6000)


class E1000eDriver(IgbDriver):
    """The per-CPU instance of e1000e's receive path and its hard-IRQ TX clean."""

    __slots__ = ()

    def qv_init(self, qv: QVector, msix: bool) -> None:
        """e1000_configure_msix / e1000e_write_itr at open: every vector's EITR (or the one
        ITR) at the starting rate; the TX clean takes the whole ring."""
        qv.vec.interval = e1000e_itr_ns(qv.itr_val)
        if qv.txq is not None:
            qv.tx_work_limit = qv.txq.ring.count
        qv.single = not msix
        if qv.single and qv.itr_setting & 3:
            # e1000_set_itr writes the one ITR from the poll, between interrupts: a bound
            # may count on no more than the dynamic mode's highest rate
            qv.vec.floor = e1000e_itr_ns(70000 if qv.itr_setting == 1 else 20000)

    def e1000_intr_msix_rx(self, qv: QVector) -> int:
        cost = self.e1000e_write_itr(qv)
        qv.rx_total_bytes = qv.rx_total_packets = 0      # the totals run per interrupt
        napi_schedule(self.cpu, self.sd, qv.napi)
        return cost

    def e1000e_write_itr(self, qv: QVector) -> int:
        """rx_ring->set_itr: the value e1000_set_itr left, written as the handler starts."""
        if qv.set_itr:
            qv.vec.interval = e1000e_itr_ns(qv.itr_val)
            qv.set_itr = False
        return self.costs.igb_msix_ring

    def e1000_intr_msix_tx(self, qv: QVector):
        """Cleans TX in hard-IRQ context, then re-enables the TX cause (a ring it could
        not clean whole re-fires through ICS: here the re-arm finds write-backs left)."""
        ring = qv.txq.ring
        ring.tx_total_bytes = ring.tx_total_packets = 0
        yield from self.tx.igb_clean_tx_irq(qv.txq, ring.count)
        yield self.unmask(qv)                            # IMS = tx ims_val

    def e1000_intr_msi(self, qv: QVector) -> int:
        """MSI: read ICR (IAM masks), zero both directions' totals, schedule NAPI."""
        return self._one_vector(qv)

    def e1000_intr(self, qv: QVector) -> int:
        """INTx (IRQF_SHARED): reading ICR says the interrupt is its own
        (E1000_ICR_INT_ASSERTED; nothing else shares the line here), then as MSI."""
        return self._one_vector(qv)

    def _one_vector(self, qv: QVector) -> int:
        qv.rx_total_bytes = qv.rx_total_packets = 0
        if qv.txq is not None:
            qv.txq.ring.tx_total_bytes = qv.txq.ring.tx_total_packets = 0
        napi_schedule(self.cpu, self.sd, qv.napi)
        return self.icr_read_ns + self.costs.igb_msix_ring

    def irq_handler(self, int_mode: str, qv: QVector | None = None):
        if int_mode == "msi":
            return self.e1000_intr_msi
        if int_mode == "legacy":
            return self.e1000_intr
        if qv is not None and qv.rx_ring is None and qv.txq is not None:
            return self.e1000_intr_msix_tx
        return self.e1000_intr_msix_rx

    def e1000_irq_enable(self, qv: QVector) -> int:
        """The end of a complete e1000e_poll: the dynamic ITR, then IMS."""
        if qv.itr_setting & 3:
            self.e1000_set_itr(qv)
        return self.unmask(qv)

    def e1000_set_itr(self, qv: QVector) -> None:
        if not qv.gigabit:
            new_itr = 4000
        else:
            ring = qv.txq.ring if qv.txq is not None else None
            if ring is not None:         # MSI/INTx: this vector's TX; MSI-X: none here
                qv.tx_latency = e1000_update_itr(qv.tx_latency, ring.tx_total_packets,
                                                 ring.tx_total_bytes)
                if qv.itr_setting == 3 and qv.tx_latency == LOWEST_LATENCY:
                    qv.tx_latency = LOW_LATENCY
            qv.rx_latency = e1000_update_itr(qv.rx_latency, qv.rx_total_packets,
                                             qv.rx_total_bytes)
            if qv.itr_setting == 3 and qv.rx_latency == LOWEST_LATENCY:
                qv.rx_latency = LOW_LATENCY
            new_itr = (70000, 20000, 4000)[max(qv.rx_latency, qv.tx_latency)]
        if new_itr != qv.itr_val:
            if new_itr > qv.itr_val:     # more interrupts: approached in steps
                new_itr = min(qv.itr_val + (new_itr >> 2), new_itr)
            qv.itr_val = new_itr
            if qv.single:
                qv.vec.interval = e1000e_itr_ns(new_itr)     # e1000e_write_itr now
            else:
                qv.set_itr = True                            # at the next RX interrupt

    # the driver's ops (request_irq's handlers above; napi_struct.poll)
    msix_ring = e1000_intr_msix_rx
    irq_enable = e1000_irq_enable
    write_itr = e1000e_write_itr
    function_names = {"igb_poll": "e1000e_poll", "igb_clean_rx_irq": "e1000_clean_rx_irq",
                      "igb_clean_tx_irq": "e1000_clean_tx_irq",
                      "igb_xmit_frame_ring": "e1000_xmit_frame"}
    poll = IgbDriver.igb_poll


class E1000eTx(IgbTx):
    """e1000e's transmit half: igb's descriptor work, woken at TX_WAKE_THRESHOLD (32 free)
    by e1000_clean_tx_irq (§1.4). e1000_xmit_frame's own stop threshold is taken as
    igb's (not verified)."""

    __slots__ = ()
    wake_threshold = 32
