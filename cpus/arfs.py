"""Accelerated RFS on the CPU side: `set_rps_cpu`'s CONFIG_RFS_ACCEL branch (L6.6
net/core/dev.c) and the reverse IRQ map it consults (lib/cpu_rmap.c).

When RFS moves a flow to `next_cpu` and the device has `ntuple` on and an rx_cpu_rmap, the
kernel asks the rmap for the RX queue whose IRQ is nearest that CPU; if that is not the
queue the skb came in on and the queue has an rps_flow_table, it calls the driver's
`ndo_rx_flow_steer(dev, skb, rxq_index, flow_id)` with flow_id = hash & that table's mask,
and on success continues with the rflow of the new queue's table. The call itself is a
record to the nic process (nic/arfs.py holds ice's table).
"""

from __future__ import annotations

CPU_RMAP_DIST_INF = 0xFFFF


def cpu_rmap(ncpus: int, vectors: list[tuple[int, list[int]]]) -> list[int]:
    """rx_cpu_rmap after each queue's IRQ affinity was reported (cpu_rmap_update, in
    registration order): CPU -> queue index. alloc_cpu_rmap starts every CPU at
    index cpu % size with distance INF; a CPU in a queue's affinity gets distance 0; the
    others copy the nearest: SMT sibling (1), same package (2), same node (3). softnet's
    host is one package of single-thread cores, so a CPU with no queue of its own takes the
    queue of the first CPU that had one."""
    size = len(vectors)
    index = [c % size for c in range(ncpus)]
    dist = [CPU_RMAP_DIST_INF] * ncpus
    for q, affinity in vectors:
        for c in range(ncpus):
            if index[c] == q:
                dist[c] = CPU_RMAP_DIST_INF
        for c in affinity:
            index[c], dist[c] = q, 0
        for c in range(ncpus):                  # the node is every CPU: all updated
            if dist[c] <= 2:
                continue
            for n in range(ncpus):              # topology_core_cpumask, distance 2
                if dist[c] > 2 and dist[n] <= 2:
                    index[c], dist[c] = index[n], 2
    return index


class Arfs:
    """What set_rps_cpu needs on a CPU that polls RFS queues."""

    __slots__ = ("rmap", "flow_masks", "refused", "steer", "sent", "rflows", "calls",
                 "pending", "forever", "dedup")

    def __init__(self, rmap: list[int], flow_masks: dict[int, int], refused: set[int],
                 steer, pending=(), forever: bool = True, expiry: bool = False) -> None:
        self.rmap = rmap                  # CPU -> RX queue (cpu_rmap_lookup_index)
        self.flow_masks = flow_masks      # every queue with an rps_flow_table -> its mask
        self.refused = refused            # flows ice_rx_flow_steer refuses (not perfect)
        self.steer = steer                # fn(flow, rxq, flow_id): the ndo call, a record
        self.sent: dict[tuple[int, int], int] = {}   # (flow, flow_id) -> rxq last asked
        # the new queue's rps_dev_flow entries that set_rps_cpu hands back; the kernel's
        # table belongs to that queue, here each polling CPU keeps the entries it switched to
        self.rflows: dict[tuple[int, int], object] = {}
        self.calls = 0
        # the (flow, queue) filters not asked for yet (topology.arfs_candidates); with none
        # left, and no flow that alternates, this CPU sends the nic nothing more
        self.pending = {tuple(p) for p in pending}
        self.forever = forever
        # ice ignores a request for the queue an entry already has, so one record per
        # (flow, queue) tells the nic everything — unless entries can expire meanwhile
        self.dedup = not expiry

    def may_steer(self) -> bool:
        return self.forever or bool(self.pending)

    def rx_queue_for(self, queue: int, next_cpu: int, hash_: int, flow: int):
        """(rxq, flow_id) when set_rps_cpu would call ndo_rx_flow_steer and it succeeds,
        else None."""
        rxq = self.rmap[next_cpu]
        if rxq == queue or flow < 0:          # same queue (set_rps_cpu: goto out)
            return None
        mask = self.flow_masks.get(rxq)
        if mask is None or flow in self.refused:      # no flow table / -EOPNOTSUPP
            return None
        flow_id = hash_ & mask
        self.calls += 1
        if not self.dedup or self.sent.get((flow, flow_id)) != rxq:
            self.sent[(flow, flow_id)] = rxq
            self.pending.discard((flow, rxq))
            self.steer(flow, rxq, flow_id)
        return rxq, flow_id
