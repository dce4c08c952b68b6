"""The ice driver's receive half as it runs on a CPU, where it differs from igb's
(L6.6 drivers/net/ethernet/intel/ice/ice_txrx.c, ice_lib.c; read from a ≥ 6.4 tree).

`ice_msix_clean_rings` is the hard-IRQ handler: it counts the event and schedules NAPI
(no interrupt-rate write of its own: the ITR is the device's, fixed here, net_dim not
modelled — see nic/devices/e810.toml). `ice_napi_poll` cleans the TX ring first
(`ice_clean_tx_irq`, ICE_DFLT_IRQ_WORK descriptors, BQL and wake as igb's), then the RX ring
with the whole budget (one RX ring per q_vector); an incomplete poll returns the budget,
a complete one re-enables the interrupt (`ice_enable_interrupt`) and returns at most
budget − 1. `ice_clean_rx_irq` walks the descriptors as igb's does but gives buffers back
once per poll, after the loop (`ice_alloc_rx_bufs(rx_ring, ICE_RX_DESC_UNUSED(rx_ring))`),
not every IGB_RX_BUFFER_WRITE descriptors: the device data says so (`rx_buffer_write = 0`).

May import: this package's igb (the q_vector and the shared descriptor walk) and napi.
"""

from __future__ import annotations

from .igb import IgbDriver, QVector
from .napi import napi_complete_done, napi_schedule


class IceDriver(IgbDriver):
    """The per-CPU instance of ice's receive path."""

    __slots__ = ()

    def ice_msix_clean_rings(self, qv: QVector) -> int:
        napi_schedule(self.cpu, self.sd, qv.napi)      # q_vector->total_events++ first
        return self.costs.igb_msix_ring

    def ice_napi_poll(self, cpu, napi, budget: int):
        qv = napi.ctx
        clean_complete = True
        if qv.txq is not None:
            clean_complete = yield from self.tx.igb_clean_tx_irq(qv.txq, qv.tx_work_limit)
        work_done = 0
        if qv.rx_ring is not None:
            cleaned = yield from self.ice_clean_rx_irq(qv, budget)
            work_done += cleaned
            if cleaned >= budget:
                clean_complete = False
        if not clean_complete:
            return budget
        if (yield from napi_complete_done(cpu, self.sd, napi, work_done, self.stack)):
            yield self.ice_enable_interrupt(qv)
        return min(work_done, budget - 1)

    # the descriptor walk is igb's; the refill policy comes with the q_vector's data
    ice_clean_rx_irq = IgbDriver.igb_clean_rx_irq

    def ice_enable_interrupt(self, qv: QVector) -> int:
        qv.vec.masked = False                # GLINT_DYN_CTL: INTENA | CLEARPBA, no ITR
        self.rearm(qv.vec, self.cpu.now)
        return self.costs.igb_irq_enable

    msix_ring = ice_msix_clean_rings
    poll = ice_napi_poll
