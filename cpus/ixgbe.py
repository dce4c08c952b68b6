"""The ixgbe driver (82599) as it runs on a CPU, where it differs from igb's
(devices-probe-kernels.md §2; L6.6 drivers/net/ethernet/intel/ixgbe/ixgbe_main.c).

`ixgbe_msix_clean_rings` only schedules NAPI; under MSI or INTx `ixgbe_intr` reads EICR
first. `ixgbe_poll` has igb_poll's shape (TX with its 256 limit, then RX). Its adaptive ITR
(`rx-usecs 1`, the default) runs at each complete poll: `ixgbe_update_itr` sets each ring
container's delay from what it moved since its last update — a small step up with few
packets, held in the 48–96 "goldilocks" band, halved above, and for 256 or more (or the
latency case) a value from the average wire size — and `ixgbe_set_itr` writes the smaller
of the two at once. q_vector->itr is in 0.25 µs units; EITR takes `itr & 0xFF8`.

`IxgbeTx` is its transmit half: igb's, plus Application Targeted Routing (`ixgbe_atr`):
every TCP segment that is a ring's SYN or its `atr_sample_rate`-th packet since the last
sample writes a Flow Director signature filter that steers the segment's flow, as the
receiver sees it, to this TX ring's queue. The filter reaches the device with the tail
write that follows (nic/atr.py keeps the table).

May import: this package's igb, igb_tx (the transmit half it extends), gro (a flow's kind)
and napi.
"""

from __future__ import annotations

from .gro import TCP
from .igb import IgbDriver, QVector
from .igb_tx import IgbTx
from .napi import napi_schedule

ATR_SAMPLE_RATE = 20                 # ixgbe_sw_init: adapter->atr_sample_rate

IXGBE_MAX_EITR = 0x00000FF8
IXGBE_ITR_ADAPTIVE_MIN_INC = 2
IXGBE_ITR_ADAPTIVE_MIN_USECS = 10
IXGBE_ITR_ADAPTIVE_MAX_USECS = 126
IXGBE_ITR_ADAPTIVE_LATENCY = 0x80
IXGBE_ITR_ADAPTIVE_BULK = 0x00


def ixgbe_itr_ns(itr: int) -> int:
    """ixgbe_write_eitr on the 82599: the interval field in 2 µs steps, itr in 0.25 µs."""
    return (itr & IXGBE_MAX_EITR) * 250


def ixgbe_update_itr(itr_now: int, container: int, packets: int, nbytes: int,
                     stale: bool, gigabit: bool) -> int:
    """One ring container's new delay (µs, with the latency flag); `itr_now` is the
    q_vector's (0.25 µs units), `container` the container's last value, `stale` that more
    than a jiffy passed since its last update, `gigabit` a 1 Gb/s link (else 10)."""
    itr = IXGBE_ITR_ADAPTIVE_MIN_USECS | IXGBE_ITR_ADAPTIVE_LATENCY
    if stale:
        return itr
    if not packets:
        itr = min((itr_now >> 2) + IXGBE_ITR_ADAPTIVE_MIN_INC, IXGBE_ITR_ADAPTIVE_MAX_USECS)
        return itr + (container & IXGBE_ITR_ADAPTIVE_LATENCY)
    if packets < 4 and nbytes < 9000:
        itr = IXGBE_ITR_ADAPTIVE_LATENCY
    elif packets < 48:
        return min((itr_now >> 2) + IXGBE_ITR_ADAPTIVE_MIN_INC, IXGBE_ITR_ADAPTIVE_MAX_USECS)
    elif packets < 96:
        return itr_now >> 2
    elif packets < 256:
        return max(itr_now >> 3, IXGBE_ITR_ADAPTIVE_MIN_USECS)
    else:
        itr = IXGBE_ITR_ADAPTIVE_BULK
    # adjust_by_size: (170 * (size + 24)) / (size + 640), 256 times too large
    avg = nbytes // packets
    if avg <= 60:
        avg = 5120
    elif avg <= 316:
        avg = avg * 40 + 2720
    elif avg <= 1084:
        avg = avg * 15 + 11452
    elif avg < 1968:
        avg = avg * 5 + 22420
    else:
        avg = 32256
    if itr & IXGBE_ITR_ADAPTIVE_LATENCY:
        avg >>= 1
    step = IXGBE_ITR_ADAPTIVE_MIN_INC
    if gigabit:
        return itr + -(-min(avg, 8064) // (step * 64)) * step
    return itr + -(-avg // (step * 256)) * step


class IxgbeDriver(IgbDriver):
    """The per-CPU instance of ixgbe's receive path."""

    __slots__ = ()

    def qv_init(self, qv: QVector, msix: bool) -> None:
        """ixgbe_alloc_q_vector: both containers start at the largest adaptive delay with
        the latency flag; EITR at the vector's starting itr."""
        qv.single = not msix
        qv.rx_latency = qv.tx_latency = (IXGBE_ITR_ADAPTIVE_MAX_USECS
                                         | IXGBE_ITR_ADAPTIVE_LATENCY)
        qv.rx_next = qv.tx_next = 0
        qv.vec.interval = ixgbe_itr_ns(qv.itr_val)
        if qv.itr_setting & 1:
            # ixgbe_set_itr writes EITR from the poll, between interrupts: a bound may
            # count on no less than the adaptive minimum
            qv.vec.floor = ixgbe_itr_ns(IXGBE_ITR_ADAPTIVE_MIN_USECS << 2)

    def ixgbe_msix_clean_rings(self, qv: QVector) -> int:
        napi_schedule(self.cpu, self.sd, qv.napi)
        return self.costs.igb_msix_ring

    def ixgbe_intr(self, qv: QVector) -> int:
        """MSI or INTx: mask, read EICR (not its own if zero: here it always is), schedule
        the first q_vector's NAPI."""
        napi_schedule(self.cpu, self.sd, qv.napi)
        return self.icr_read_ns + self.costs.igb_msix_ring

    def irq_handler(self, int_mode: str, qv: QVector | None = None):
        return self.ixgbe_msix_clean_rings if int_mode == "msix" else self.ixgbe_intr

    def ixgbe_irq_enable(self, qv: QVector) -> int:
        """The end of a complete ixgbe_poll: the adaptive ITR (rx_itr_setting & 1), then
        ixgbe_irq_enable_queues for this vector."""
        if qv.itr_setting & 1:
            self.ixgbe_set_itr(qv)
        return self.unmask(qv)

    def ixgbe_set_itr(self, qv: QVector) -> None:
        now = self.cpu.jiffies()
        ring = qv.txq.ring if qv.txq is not None else None
        if ring is not None:          # a container without rings keeps its value
            qv.tx_latency = ixgbe_update_itr(qv.itr_val, qv.tx_latency,
                                             ring.tx_total_packets, ring.tx_total_bytes,
                                             now > qv.tx_next, qv.gigabit)
            qv.tx_next = now + 1
            ring.tx_total_bytes = ring.tx_total_packets = 0
        if qv.rx_ring is not None:
            qv.rx_latency = ixgbe_update_itr(qv.itr_val, qv.rx_latency,
                                             qv.rx_total_packets, qv.rx_total_bytes,
                                             now > qv.rx_next, qv.gigabit)
            qv.rx_next = now + 1
            qv.rx_total_bytes = qv.rx_total_packets = 0
        new_itr = (min(qv.rx_latency, qv.tx_latency) & ~IXGBE_ITR_ADAPTIVE_LATENCY) << 2
        if new_itr != qv.itr_val:
            qv.itr_val = new_itr
            qv.vec.interval = ixgbe_itr_ns(new_itr)       # ixgbe_write_eitr, at once

    # the driver's ops (request_irq's handlers above; napi_struct.poll)
    msix_ring = ixgbe_msix_clean_rings
    irq_enable = ixgbe_irq_enable
    function_names = {"igb_poll": "ixgbe_poll", "igb_clean_rx_irq": "ixgbe_clean_rx_irq",
                      "igb_clean_tx_irq": "ixgbe_clean_tx_irq",
                      "igb_xmit_frame_ring": "ixgbe_xmit_frame_ring"}
    poll = IgbDriver.igb_poll


class IxgbeTx(IgbTx):
    """ixgbe's transmit half: igb's ring work, and ATR when Flow Director's hash mode is
    on (`atr`: more than one RSS queue under MSI-X, ntuple off)."""

    __slots__ = ()

    def ixgbe_atr(self, ring, skb) -> int:
        """ixgbe_atr (L6.6): the ring's count goes up for every packet; a TCP segment
        (the handshake is not sent, so no SYN samples at once) that finds it at the sample
        rate resets it and writes the filter of its flow as the receiver sees it, aimed at
        this ring's queue: a TCP_RR response's is its client's flow. A forwarded TCP
        segment's would be the flow back, and is not kept: a forwarded flow's queues are
        fixed when the run is planned (its TX queue follows from its RX CPU). Its cost:
        FDIRHASH and FDIRCMD, posted writes as the tail's."""
        ring.atr_count += 1
        forwarded = skb.sock == -1 and self.tx.gro_flows[skb.flow].kind == TCP
        if not (skb.tcp or forwarded) or ring.atr_count < ATR_SAMPLE_RATE:
            return 0
        ring.atr_count = 0
        if skb.tcp:
            ring.fdir.append(skb.flow)
        return self.costs.igb_tx_doorbell
