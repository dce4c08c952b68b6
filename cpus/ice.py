"""The ice driver as it runs on a CPU, where it differs from igb's (L6.6
drivers/net/ethernet/intel/ice/ice_txrx.c, ice_lib.c; read from a ≥ 6.4 tree).

`ice_msix_clean_rings` is the hard-IRQ handler: it counts the event and schedules NAPI.
With adaptive-rx on (the default) each completion that re-enables the interrupt feeds
net_dim (`cpus.dim`) a sample, and a new profile's ITR is written from ice's RX table
(nic/devices/e810.toml); with it off the ITR is the fixed rx_usecs. `ice_napi_poll` cleans the TX ring first
(`ice_clean_tx_irq`, ICE_DFLT_IRQ_WORK descriptors, BQL as igb's, ice's wake threshold),
then the RX ring with the whole budget (one RX ring per q_vector); an incomplete poll returns the budget,
a complete one re-enables the interrupt (`ice_enable_interrupt`) and returns at most
budget − 1. `ice_clean_rx_irq` walks the descriptors as igb's does but gives buffers back
once per poll, after the loop (`ice_alloc_rx_bufs(rx_ring, ICE_RX_DESC_UNUSED(rx_ring))`),
not every IGB_RX_BUFFER_WRITE descriptors: the device data says so (`rx_buffer_write = 0`).

`IceTx` is its transmit half: ice_xmit_frame_ring's descriptor counts and stop thresholds
(see the class); the ring work itself and the clean are igb's.

May import: this package's igb and igb_tx (the q_vector, the shared descriptor walk and
ring work), dim, napi and tx.
"""

from __future__ import annotations

from .dim import DIM_START_MEASURE, Dim, DimSample, net_dim
from .igb import IgbDriver, QVector
from .igb_tx import IgbTx
from .napi import napi_schedule
from .tx import ETH_HLEN, IP_HLEN, UDP_HLEN

# ice_txrx.h: MAX_SKB_FRAGS (17) + ICE_DESCS_FOR_CTX_DESC (1) + ICE_DESCS_PER_CACHE_LINE (8)
ICE_DESCS_PER_CACHE_LINE = 8
ICE_DESCS_FOR_CTX_DESC = 1
ICE_DESC_NEEDED = 17 + ICE_DESCS_FOR_CTX_DESC + ICE_DESCS_PER_CACHE_LINE
ETH_ZLEN = 60
# __ip_append_data fills a GSO skb's payload into sk_page_frag's 32 KiB fragments
PAGE_FRAG = 32768


def ice_txd_use_count(size: int) -> int:
    """Data descriptors for one buffer: ICE_MAX_DATA_PER_TXD_ALIGNED (12 KiB) each, the
    division done as ((size * 85) >> 20) + 1 (ice_txrx.c)."""
    return ((size * 85) >> 20) + 1


class IceDriver(IgbDriver):
    """The per-CPU instance of ice's receive path."""

    __slots__ = ()

    def ice_msix_clean_rings(self, qv: QVector) -> int:
        qv.total_events += 1
        napi_schedule(self.cpu, self.sd, qv.napi)
        return self.costs.igb_msix_ring

    # ice_napi_poll has igb_poll's control flow (TX clean, RX with the whole budget,
    # budget back when incomplete, else napi_complete_done and the re-arm; a complete
    # poll's work is below the budget, so its min(work_done, budget - 1) is work_done)
    ice_napi_poll = IgbDriver.igb_poll

    def ice_enable_interrupt(self, qv: QVector) -> int:
        """The re-arm after a complete poll; ice_napi_poll runs ice_net_dim just before."""
        if qv.dim is not None or qv.tx_dim is not None:
            self.ice_net_dim(qv)
        return self.unmask(qv)               # GLINT_DYN_CTL: INTENA | CLEARPBA, no ITR

    # -- adaptive-rx (shared-state-dim-rr.md §4.4) -----------------------------------------
    @staticmethod
    def dim_init(qv: QVector, dim: dict) -> None:
        """ice_vsi_alloc_q_vector's ITR_DYNAMIC for each container asked (adaptive-rx,
        adaptive-tx): net_dim from the default profile, whose ITR is written at once;
        INTRL caps the rate while either is dynamic. A static TX container throttles its
        causes by ITR1's fixed value."""
        intrl = dim["intrl"] * 1000 if dim["profile"] or dim["tx_profile"] else 0
        qv.dim_intrl = intrl
        floors = []
        if dim["profile"] is not None:
            qv.dim = Dim(dim["start"])
            qv.dim_itr = dim["profile"]
            ice_write_itr(qv, qv.dim_itr[dim["start"]])
            floors += [itr_ns(itr, intrl) for itr in qv.dim_itr]
        else:
            floors.append(qv.vec.interval)
        if dim["tx_profile"] is not None and qv.txq is not None:
            qv.tx_dim = Dim(dim["start"])
            qv.tx_dim_itr = dim["tx_profile"]
            ice_write_itr(qv, qv.tx_dim_itr[dim["start"]], tx=True)
            floors += [itr_ns(itr, intrl) for itr in qv.tx_dim_itr]
        elif qv.txq is not None:
            ice_write_itr(qv, dim["tx_itr"], tx=True)
            floors.append(qv.vec.tx_interval)
        qv.vec.floor = min(floors)

    def ice_net_dim(self, qv: QVector) -> None:
        """A sample of each dynamic container, TX first (its ring's packets and bytes,
        the vector's interrupts); stale after a second without a new start (an idle
        queue), it starts again. A new profile is written by ice_{tx,rx}_dim_work, which
        net_dim queues on this CPU's system workqueue: its kworker runs when the
        scheduler lets it, and measuring waits in DIM_APPLY_NEW_PROFILE until then."""
        now = self.cpu.now
        if qv.tx_dim is not None:
            ring = qv.txq.ring
            if self._net_dim(qv.tx_dim, DimSample(now, ring.packets, ring.bytes,
                                                  qv.total_events)):
                self._schedule_work(qv.tx_dim, self.ice_tx_dim_work(qv))
        if qv.dim is not None:
            if self._net_dim(qv.dim, DimSample(now, qv.ring_packets, qv.ring_bytes,
                                               qv.total_events)):
                self._schedule_work(qv.dim, self.ice_rx_dim_work(qv))

    def _schedule_work(self, dim, work) -> None:
        """schedule_work(&dim->work): nothing if it is still pending (a stale measurement
        restarted meanwhile may decide again before the kworker ran)."""
        if not dim.work_pending:
            dim.work_pending = True
            self.cpu.queue_work(work)

    def ice_rx_dim_work(self, qv: QVector):
        """The profile as it stands when the work runs, written to ITR0."""
        ice_write_itr(qv, qv.dim_itr[qv.dim.profile_ix])
        qv.dim.state = DIM_START_MEASURE
        qv.dim.work_ran(self.cpu.now)
        self._itr_written(qv)
        yield self.costs.ice_write_itr

    def ice_tx_dim_work(self, qv: QVector):
        ice_write_itr(qv, qv.tx_dim_itr[qv.tx_dim.profile_ix], tx=True)
        qv.tx_dim.state = DIM_START_MEASURE
        qv.tx_dim.work_ran(self.cpu.now)
        self._itr_written(qv)
        yield self.costs.ice_write_itr

    def _itr_written(self, qv: QVector) -> None:
        """The write lands between interrupts: an armed vector's next one is judged
        again by the new interval, as a re-arm judges it."""
        if not qv.vec.masked:
            self.rearm(qv.vec, self.cpu.now)

    @staticmethod
    def _net_dim(dim: Dim, sample: DimSample) -> bool:
        if (sample.time - dim.start_sample.time) // 1_000_000 >= 1000:   # ktime_ms_delta
            dim.state = DIM_START_MEASURE
        return net_dim(dim, sample)

    msix_ring = ice_msix_clean_rings
    poll = ice_napi_poll
    irq_enable = ice_enable_interrupt
    # the kernel's names of igb's generators where ice runs them (a trace's slices): the
    # descriptor walks and the ring work are igb's, the refill policy comes with the
    # q_vector's data, the descriptor counts with IceTx
    function_names = {"igb_poll": "ice_napi_poll", "igb_clean_rx_irq": "ice_clean_rx_irq",
                      "igb_clean_tx_irq": "ice_clean_tx_irq",
                      "igb_xmit_frame_ring": "ice_xmit_frame_ring"}


def itr_ns(itr_us: int, intrl_ns: int) -> int:
    """The least gap between interrupts an ITR gives: 2 µs granularity (odd values round
    down), and no less than INTRL allows."""
    return max((itr_us & 0x1FFE) * 1000, intrl_ns)


def ice_write_itr(qv: QVector, itr_us: int, tx: bool = False) -> None:
    """__ice_write_itr of the RX (ITR0) or TX (ITR1) container."""
    ns = itr_ns(itr_us, qv.dim_intrl)
    if tx:
        qv.vec.tx_interval = ns
    else:
        qv.vec.interval = ns


class IceTx(IgbTx):
    """ice's transmit half where it differs from igb's (ice_xmit_frame_ring, ice_tx_map,
    ice_clean_tx_irq): checksum offload rides in the data descriptor, so only TSO/USO
    takes a context descriptor; a packet needs its data descriptors plus a cache line
    (8) and a context descriptor free (ice_maybe_stop_tx), the queue stops below
    ICE_DESC_NEEDED (26) free and wakes at twice that; bytecount is at least ETH_ZLEN."""

    __slots__ = ()
    desc_needed = ICE_DESC_NEEDED

    def tx_descriptors(self, skb) -> tuple[int, int]:
        """ice_xmit_desc_count, and what ice_maybe_stop_tx asks before the packet."""
        if skb.segs:                         # a GRO super-packet: one per page fragment
            data, ctx = skb.nsegs, 1
        elif skb.gso_segs:                   # headers linear, payload in page fragments
            payload = skb.len - ETH_HLEN - IP_HLEN - UDP_HLEN
            data = ice_txd_use_count(ETH_HLEN + IP_HLEN + UDP_HLEN)
            while payload > 0:
                data += ice_txd_use_count(min(payload, PAGE_FRAG))
                payload -= PAGE_FRAG
            ctx = 1
        else:
            data, ctx = ice_txd_use_count(skb.len), 0
        return data + ctx, data + ICE_DESCS_PER_CACHE_LINE + ICE_DESCS_FOR_CTX_DESC

    def bytecount(self, skb) -> int:
        """first->bytecount = max(skb->len, ETH_ZLEN), plus ice_tso's repeated headers."""
        n = super().bytecount(skb)
        return n if skb.gso_segs > 1 or skb.segs else max(n, ETH_ZLEN)
