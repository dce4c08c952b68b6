"""The 82599's Flow Director in hash (signature) mode, as ixgbe's ATR fills it
(devices-probe-kernels.md §2.2; L6.6 ixgbe_main.c ixgbe_atr,
ixgbe_82599.c ixgbe_fdir_add_signature_filter_82599).

The filters are written by the CPUs' transmit paths (`cpus/ixgbe.py`) and travel with the
tail write that follows them (`db` records). A received frame whose flow has a filter goes
to the filter's queue (FDIRMATCH counts it); every other frame misses (FDIRMISS) and RSS
places it. A flow's filter is rewritten at each sample, so it follows the queue its
reverse traffic last left from. Signature collisions and the table's capacity (8 K
signature filters with ixgbe's 64 KB allocation, far above any softnet run's flows) are
not modelled, so `fdir_overflow` stays 0.

May import: the standard library only.
"""

from __future__ import annotations


class AtrTable:
    """Flow → queue of its signature filter, with the nic's filter-table interface (the
    one nic/arfs.py's table has): `steer` at a record's time, `timers_before` (none)."""

    __slots__ = ("flow_queue", "programmed", "changes", "match", "miss")

    def __init__(self, nflows: int, nports: int = 1) -> None:
        self.flow_queue = [-1] * nflows         # -1: no filter
        self.programmed = 0                     # filter writes that reached the device
        self.changes: list[list[int]] = [[] for _ in range(nflows)]   # [t, queue]
        self.match = [0] * nports               # FDIRMATCH per port: frames steered
        self.miss = [0] * nports                # FDIRMISS: frames looked up in vain

    def steer(self, t: int, flow: int, queue: int) -> None:
        """A filter written by the TX ring `queue` for `flow` (the reversed tuple of the
        segment it sampled), live from `t`."""
        self.programmed += 1
        if self.flow_queue[flow] != queue:
            self.flow_queue[flow] = queue
            self.changes[flow].append([t, queue])

    def timers_before(self, safe: int) -> list[int]:
        return []                               # no service task: nothing expires

    def lookups(self, hit, ports) -> None:
        """Each classified frame's lookup (`hit`: it matched), on its port."""
        for pt in range(len(self.match)):
            on = ports == pt
            n = int(hit[on].sum())
            self.match[pt] += n
            self.miss[pt] += int(on.sum()) - n

    def result(self) -> dict:
        return {"filters_written": self.programmed, "fdir_match": self.match,
                "fdir_miss": self.miss}
