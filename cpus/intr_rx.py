"""Interrupt-driven receive: a driver built without NAPI (`nic.napi = false`), as drivers
were before NAPI and e1000 was without CONFIG_E1000_NAPI through 2.6
(devices-probe-kernels.md §5).

The hard-IRQ handler does all the device work itself, after 2.6.20's `e1000_intr`: up to
E1000_MAX_INTR passes, each cleaning every completed RX descriptor (no work limit; each
frame to `netif_rx`, buffers given back as the driver gives them back) and every
completed TX descriptor, stopping at the first pass that cleaned nothing; then the
interrupt is re-armed, and the hardware's ITR alone spaces the next one. Protocol work
waits in the backlog for NET_RX (`process_backlog`, its quota and the budget), so under
overload the handler, which preempts the softirq, takes the CPU, the backlog overflows
(`netdev_max_backlog`, softnet `dropped`) after the frames have cost their interrupt
work, and delivery falls: receive livelock (§5.2).

May import: this package's igb (the q_vector), napi, and the engine's constants.
"""

from __future__ import annotations

from softnet.engine.events import INF

E1000_MAX_INTR = 10


class IntrRx:
    """The driver's receive and TX-completion work, all in hard-IRQ context; wraps the
    driver's instance for its ring work, ITR and re-arm."""

    __slots__ = ("drv", "cpu", "stack", "costs")

    def __init__(self, drv) -> None:
        self.drv = drv
        self.cpu = drv.cpu
        self.stack = drv.stack
        self.costs = drv.costs

    def e1000_intr(self, qv):
        """The handler: a generator of steps run with interrupts off (reading ICR first
        where the interrupt is MSI or INTx)."""
        yield self.drv.icr_read_ns + self.drv.write_itr(qv)
        for _ in range(E1000_MAX_INTR):
            rx = yield from self.e1000_clean_rx_irq(qv)
            tx = False
            if qv.txq is not None and qv.txq.ring.hw_done:
                tx = True
                yield from self.drv.tx.igb_clean_tx_irq(qv.txq, qv.txq.ring.count)
            if not rx and not tx:
                break
        yield self.drv.irq_enable(qv)

    def e1000_clean_rx_irq(self, qv):
        """e1000_clean_rx_irq without NAPI: while descriptors are done, each frame to
        netif_rx; buffers back every rx_buffer_write descriptors and at the end."""
        cpu = self.cpu
        c = self.costs
        ring = qv.rx_ring
        if ring is None:
            return 0
        stack = self.stack
        write = qv.rx_buffer_write or INF
        per_packet = c.igb_clean_rx_packet
        packets = 0
        cleaned_count = ring.desc_unused()
        while True:
            if cleaned_count >= write:
                ring.alloc_rx_buffers(cleaned_count, cpu.now)
                yield c.igb_alloc_rx_buffer * cleaned_count
                cleaned_count = 0
            skb = ring.next_ready(cpu.now)
            if skb is None:
                break
            cleaned_count += 1
            packets += 1
            # the ring's counters as each frame goes (the clean has no limit: a run may
            # end inside it)
            qv.ring_packets += 1
            qv.ring_bytes += skb.len
            qv.rx_total_packets += 1
            qv.rx_total_bytes += skb.len
            skb.t_poll = cpu.now
            stack.held += 1
            yield per_packet + stack.netif_rx(skb, cpu.now + per_packet)
        if cleaned_count:
            ring.alloc_rx_buffers(cleaned_count, cpu.now)
            yield c.igb_alloc_rx_buffer * cleaned_count
        return packets
