"""aRFS filters in the device: ice's aRFS hash table and the Flow Director entries it
programs (L6.6 drivers/net/ethernet/intel/ice/ice_arfs.c).

`ice_rx_flow_steer` runs on the CPU in get_rps_cpu's `set_rps_cpu`; its table is the PF's,
shared by every CPU, so here it lives with the nic process and each call arrives as an
`arfs` record stamped one PCIe latency after the call (design §2: the PCIe link carries
MMIO). The driver looks the entry up by `flow_id` (the slot in the target queue's
rps_flow_table): a new flow_id gets a new entry built from this skb's 4-tuple; an ACTIVE
entry with another queue is re-aimed; one already aimed at that queue is left alone.
`ice_sync_arfs_fltrs` then writes the INACTIVE entries to the Flow Director; softnet makes
an entry live when its record lands (the workqueue delay before the service task runs is
not modelled, so an entry is never seen INACTIVE — ice leaves those alone too).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ArfsEntry:
    """struct ice_arfs_entry: the filter's 4-tuple (as a flow index), queue, flow_id."""
    flow: int
    q_index: int
    flow_id: int
    fltr_id: int


class ArfsTable:
    """The PF VSI's aRFS entries, keyed by flow_id as ice_rx_flow_steer searches them."""

    __slots__ = ("entries", "flow_queue", "last_fltr_id", "requests", "added", "updated",
                 "changes")

    def __init__(self, nflows: int) -> None:
        self.entries: dict[int, ArfsEntry] = {}
        self.flow_queue = [-1] * nflows        # flow -> queue of its live filter, -1: none
        self.last_fltr_id = 0                   # vsi->arfs_last_fltr_id
        self.requests = 0                       # ndo_rx_flow_steer calls that reached here
        self.added = 0
        self.updated = 0
        self.changes: list[list[int]] = [[] for _ in range(nflows)]   # [t, queue] pairs

    def rx_flow_steer(self, t: int, flow: int, rxq: int, flow_id: int) -> None:
        """ice_rx_flow_steer followed by the service task's ice_sync_arfs_fltrs, at `t`."""
        self.requests += 1
        e = self.entries.get(flow_id)
        if e is not None:
            if e.q_index == rxq:
                return
            e.q_index = rxq                    # ACTIVE entry re-aimed at the new queue
            self.updated += 1
        else:
            self.last_fltr_id += 1
            e = self.entries[flow_id] = ArfsEntry(flow, rxq, flow_id, self.last_fltr_id)
            self.added += 1
        # the filter matches e.flow's 4-tuple (a flow_id shared by two flows steers the
        # first one's filter, as in ice)
        if self.flow_queue[e.flow] != rxq:
            self.flow_queue[e.flow] = rxq
            self.changes[e.flow].append([t, rxq])

    def result(self) -> dict:
        return {"steer_requests": self.requests, "filters_added": self.added,
                "filters_updated": self.updated, "filters_active": len(self.entries)}
