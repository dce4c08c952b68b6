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
    """struct ice_arfs_entry: the filter's 4-tuple (as a flow index), queue, flow_id, and
    the jiffy it went live (time_activated)."""
    flow: int
    q_index: int
    flow_id: int
    fltr_id: int
    activated: int = 0


class ArfsTable:
    """The PF VSI's aRFS entries, keyed by flow_id as ice_rx_flow_steer searches them.

    Expiry: every run of ice's service task (each time ndo_rx_flow_steer schedules it, and
    the service timer every `period_ns`) deletes the UDP filters activated at least
    `expire_j` jiffies ago (ice_arfs_is_flow_expired; every softnet flow is UDP). The flow
    then arrives on its RSS queue again until set_rps_cpu asks for a new filter.
    rps_may_expire_flow (idle flows) reads the CPUs' flow tables and is not modelled."""

    __slots__ = ("entries", "flow_queue", "last_fltr_id", "requests", "added", "updated",
                 "expired", "changes", "hz", "expire_j", "period_ns", "next_timer")

    def __init__(self, nflows: int, hz: int = 1000, expire_j: int | None = None,
                 period_ns: int = 10**9) -> None:
        self.entries: dict[int, ArfsEntry] = {}
        self.flow_queue = [-1] * nflows        # flow -> queue of its live filter, -1: none
        self.last_fltr_id = 0                   # vsi->arfs_last_fltr_id
        self.requests = 0                       # ndo_rx_flow_steer calls that reached here
        self.added = 0
        self.updated = 0
        self.expired = 0
        self.changes: list[list[int]] = [[] for _ in range(nflows)]   # [t, queue or -1]
        self.hz = hz
        self.expire_j = expire_j                # None: filters never expire
        self.period_ns = period_ns              # serv_tmr_period
        self.next_timer = period_ns

    def _set(self, t: int, flow: int, q: int) -> None:
        if self.flow_queue[flow] != q:
            self.flow_queue[flow] = q
            self.changes[flow].append([t, q])

    def rx_flow_steer(self, t: int, flow: int, rxq: int, flow_id: int) -> None:
        """ice_rx_flow_steer followed by the service task it schedules, at `t`."""
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
        self.service_task(t, skip=e)
        e.activated = t * self.hz // 10**9     # ice_arfs_update_flow_rules, on (re)add
        # the filter matches e.flow's 4-tuple (a flow_id shared by two flows steers the
        # first one's filter, as in ice)
        self._set(t, e.flow, rxq)

    def steer(self, t: int, flow: int, rxq: int, flow_id: int) -> None:
        self.rx_flow_steer(t, flow, rxq, flow_id)

    def lookups(self, hit, ports) -> None:
        """ice counts its Flow Director hits elsewhere (fdir_sb_match is the sideband's)."""

    def service_task(self, t: int, skip: ArfsEntry | None = None) -> None:
        """ice_sync_arfs_fltrs' expiry pass: delete the expired UDP filters."""
        if self.expire_j is None:
            return
        now = t * self.hz // 10**9
        for fid in [f for f, e in self.entries.items()
                    if e is not skip and e.activated + self.expire_j <= now]:
            e = self.entries.pop(fid)
            self.expired += 1
            self._set(t, e.flow, -1)

    def timers_before(self, safe: int) -> list[int]:
        """Service-timer runs earlier than `safe` not yet taken."""
        out = []
        while self.expire_j is not None and self.next_timer < safe:
            out.append(self.next_timer)
            self.next_timer += self.period_ns
        return out

    def result(self) -> dict:
        return {"steer_requests": self.requests, "filters_added": self.added,
                "filters_updated": self.updated, "filters_expired": self.expired,
                "filters_active": len(self.entries)}
