"""igb's transmit half (kernel-spec §3.5, §3.7, §11): `igb_xmit_frame_ring` — what
ndo_start_xmit does on the transmitting CPU (descriptors, next_to_use, netdev_tx_sent_queue,
the stop checks, the tail write) — and `igb_clean_tx_irq` — what the TX vector's poll does
where its interrupt lands (write-backs cleaned, sock_wfree, next_to_clean,
netdev_tx_completed_queue, the wake). The kernel-side transmit path (`cpus/tx.py`'s `Tx`)
calls the driver through `start_xmit`; a driver whose transmit differs brings its own
module. An E810 (ice) uses this one with its own numbers for now.

May import: this package's tx (the transmit path it serves) and the engine.
"""

from __future__ import annotations

from .tx import ETH_HLEN, IP_HLEN, NETDEV_TX_BUSY, NETDEV_TX_OK, UDP_HLEN, TxQueue

DESC_NEEDED = 21                  # MAX_SKB_FRAGS + 4 (spec §1)
# igb_xmit_frame_ring: one data descriptor per 32 KiB of linear data, plus the context
# descriptor of a checksum-offloaded (CHECKSUM_PARTIAL) UDP packet
IGB_MAX_DATA_PER_TXD = 32768


def txd_use_count(nbytes: int) -> int:
    return -(-nbytes // IGB_MAX_DATA_PER_TXD)


class IgbTx:
    """The driver's transmit half for one CPU's `Tx` (attached to it as `tx.drv`)."""

    __slots__ = ("tx", "cpu", "costs", "atr")

    def __init__(self, tx) -> None:
        self.tx = tx
        self.cpu = tx.cpu
        self.costs = tx.costs
        self.atr = False                 # ixgbe's ATR: IxgbeTx.ixgbe_atr samples each packet
        tx.drv = self

    # ring free descriptors below which the queue stops after a packet (igb_maybe_stop_tx's
    # DESC_NEEDED); the clean wakes it at twice that (TX_WAKE_THRESHOLD)
    desc_needed = DESC_NEEDED
    wake_threshold = 0               # a driver's own TX_WAKE_THRESHOLD; 0: twice the above

    def tx_descriptors(self, skb) -> tuple[int, int]:
        """(descriptors the packet takes, free descriptors the driver wants before it
        takes them). igb: data descriptors (a GRO super-packet: one per page fragment,
        sent with TSO) and the context descriptor of checksum/TSO offload;
        igb_maybe_stop_tx(ring, data + 3)."""
        count = (skb.nsegs if skb.segs else txd_use_count(skb.len))
        if skb.sock >= 0 or skb.segs:
            count += 1          # a forwarded (CHECKSUM_NONE) or ARP packet needs none
        if skb.gso_segs:
            # a UDP GSO skb (igb_tso, L4T_UDP): the headers, the payload's page fragments
            count = 1 + txd_use_count(skb.len - ETH_HLEN - IP_HLEN - UDP_HLEN) + 1
        return count, count + 2

    def bytecount(self, skb) -> int:
        """first->bytecount: what BQL and the ring's byte counters see."""
        return tx_bytecount(skb, self.tx.seg_payload(skb))

    # -- the driver's transmit (igb_xmit_frame_ring, spec §3.7) ----------------------------
    def igb_xmit_frame_ring(self, txq: TxQueue, skb, more: bool):
        ring = txq.ring
        c = self.costs
        count, wanted = self.tx_descriptors(skb)
        if ring.desc_unused() < wanted:
            # the driver's maybe_stop_tx: stop, re-check (nothing cleaned meanwhile on
            # this CPU), BUSY
            txq.drv_xoff = True
            return NETDEV_TX_BUSY
        if self.tx.tap is not None:        # dev_queue_xmit_nit: tcpdump on the host
            self.tx.tap.transmit(self.cpu.now, txq.index, skb)
        tracer = self.cpu.tracer
        if tracer is not None and tracer.sample:
            tracer.xmit(skb, self.cpu.now)
        self.tx.mark_lost(skb)
        atr = self.ixgbe_atr(ring, skb) if self.atr else 0
        ring.used += count
        bytecount = self.bytecount(skb)
        ring.unsent.append(skb)
        ring.unsent_clean.append((count, skb.gso_segs or skb.nsegs, bytecount, skb.sock,
                                  skb.truesize))
        self.tx.in_hand.pop(id(skb), None)
        txq.dql.queued(bytecount)                     # netdev_tx_sent_queue
        if txq.dql.avail() < 0:
            txq.stack_xoff = True
        if ring.desc_unused() < self.desc_needed:     # maybe_stop_tx(ring, DESC_NEEDED)
            txq.drv_xoff = True
        if txq.stopped() or not more:                # __netdev_tx_sent_queue's xmit_more
            # the tail write follows the descriptor writes
            self.tx.doorbell(self.cpu.now + c.igb_xmit_frame + atr, txq.index, ring.unsent,
                             ring.unsent_clean, ring.fdir)
            ring.unsent = []
            ring.unsent_clean = []
            ring.fdir = []
            yield c.igb_xmit_frame + atr + c.igb_tx_doorbell
        else:
            yield c.igb_xmit_frame + atr
        return NETDEV_TX_OK


    start_xmit = igb_xmit_frame_ring        # ndo_start_xmit

    # -- TX completion (igb_clean_tx_irq, spec §3.5, §11) ------------------------------
    def igb_clean_tx_irq(self, txq: TxQueue, work_limit: int):
        """Returns True when the ring was cleaned within `work_limit` packets."""
        ring = txq.ring
        c = self.costs
        budget = work_limit
        packets = nbytes = 0
        cpu = self.cpu
        local = txq.index in self.tx.queues     # the producer half is here too
        descs = 0
        while budget > 0 and ring.hw_done:
            count, segs, bytecount, sock, truesize = ring.in_flight.popleft()
            ring.hw_done -= 1
            if local:
                ring.used -= count
            descs += count
            packets += segs                             # tx_buffer->gso_segs
            nbytes += bytecount
            budget -= 1
            if sock >= 0:                               # sock_wfree, as the skb is freed
                self.tx.wfree_remote(cpu.now + c.igb_clean_tx_packet, sock, truesize)
            yield c.igb_clean_tx_packet                # napi_consume_skb, unmap
        ring.packets += packets
        ring.bytes += nbytes
        if cpu.tracer is not None:
            cpu.tracer.args("igb_clean_tx_irq", queue=txq.index, packets=packets,
                            bytes=nbytes)
        ring.tx_total_packets += packets
        ring.tx_total_bytes += nbytes
        if not local:
            # next_to_clean, dql_completed and the wake act on the producer half, which
            # another CPU holds: it sees them one line transfer later, and this CPU
            # fetches that half's line (dql's adj_limit, the queue's state) to write them
            if descs:
                self.tx.cleaned_remote(cpu.now, txq.index, descs, nbytes, packets)
                yield c.cacheline_transfer
            return budget != 0
        self.completed(txq, nbytes, packets)
        return budget != 0

    def completed(self, txq: TxQueue, nbytes: int, packets: int) -> None:
        """The end of igb_clean_tx_irq on the producer half: netdev_tx_completed_queue
        (dql_completed, STACK_XOFF cleared) and the wake of a queue the ring stopped."""
        if nbytes:                                      # netdev_tx_completed_queue
            txq.dql.completed(nbytes, self.cpu.jiffies())
            if txq.stack_xoff and txq.dql.avail() >= 0:
                txq.stack_xoff = False
                if not txq.stopped():        # netif_schedule_queue: not if the ring is full
                    self.tx.netif_schedule(txq)
        if packets and txq.drv_xoff and txq.ring.desc_unused() >= (
                self.wake_threshold or 2 * self.desc_needed):
            txq.drv_xoff = False                        # netif_wake_subqueue
            txq.ring.restart_queue += 1
            self.tx.netif_schedule(txq)

    def cleaned(self, queue: int, descs: int, nbytes: int, packets: int) -> None:
        """A clean on another CPU (`tc`): next_to_clean has moved, then as `completed`."""
        txq = self.tx.queues[queue]
        txq.ring.used -= descs
        self.completed(txq, nbytes, packets)


def tx_bytecount(skb, seg_payload: int = 0) -> int:
    """first->bytecount: skb->len, plus for a segmentation-offloaded skb the headers the
    device repeats on every segment after the first (igb_tso/ice_tso: (gso_segs − 1) ×
    hdr_len). What BQL and the ring's byte counters see. A forwarded GRO super-packet
    (TSO again: tcp_gro_complete set gso_segs) repeats its first segment's headers: all
    its frames are as long as the first."""
    if skb.gso_segs > 1:
        return skb.len + (skb.gso_segs - 1) * (ETH_HLEN + IP_HLEN + UDP_HLEN)
    if skb.segs:
        n = skb.nsegs
        first = skb.len - (n - 1) * seg_payload
        return first * n
    return skb.len
