"""Dynamic interrupt moderation: lib/dim's `net_dim` as Linux 6.6 has it (lib/dim/net_dim.c,
lib/dim/dim.c, include/linux/dim.h; shared-state-dim-rr.md §4.1–§4.2).

A driver feeds it a sample (time, and its cumulative interrupt, packet and byte counts) at
each NAPI completion. Once 64 interrupts have passed since the start sample it compares the
rates per millisecond (bytes, then packets, then interrupts: fewer is better) with the
last decision's and walks a table of moderation profiles: a step to the right (more
moderation) or left while things get better, a turn when they do not, parking on top of
the best profile found (or tired after ten steps). What a profile means is the driver's
(ice: its own ITR table, `cpus.ice`).

May import: the standard library only.
"""

from __future__ import annotations

DIM_NEVENTS = 64
NET_DIM_PARAMS_NUM_PROFILES = 5

# dim->state
DIM_START_MEASURE, DIM_MEASURE_IN_PROGRESS, DIM_APPLY_NEW_PROFILE = 0, 1, 2
# dim->tune_state (a zeroed struct dim parks on top)
DIM_PARKING_ON_TOP, DIM_PARKING_TIRED, DIM_GOING_RIGHT, DIM_GOING_LEFT = 0, 1, 2, 3
DIM_STATS_WORSE, DIM_STATS_SAME, DIM_STATS_BETTER = 0, 1, 2
DIM_STEPPED, DIM_TOO_TIRED, DIM_ON_EDGE = 0, 1, 2


class DimSample:
    __slots__ = ("time", "pkt_ctr", "byte_ctr", "event_ctr")

    def __init__(self, time: int = 0, pkt_ctr: int = 0, byte_ctr: int = 0,
                 event_ctr: int = 0) -> None:
        self.time = time                  # ns (ktime_get)
        self.pkt_ctr = pkt_ctr & 0xFFFFFFFF
        self.byte_ctr = byte_ctr & 0xFFFFFFFF
        self.event_ctr = event_ctr & 0xFFFF


class DimStats:
    __slots__ = ("ppms", "bpms", "epms")

    def __init__(self, ppms: int = 0, bpms: int = 0, epms: int = 0) -> None:
        self.ppms, self.bpms, self.epms = ppms, bpms, epms


class Dim:
    """struct dim (what net_dim uses of it)."""

    __slots__ = ("state", "prev_stats", "start_sample", "profile_ix", "tune_state",
                 "steps_right", "steps_left", "tired", "decisions", "changes", "queued_at",
                 "applied", "wait_total", "wait_max", "work_pending")

    def __init__(self, profile_ix: int) -> None:
        self.state = DIM_START_MEASURE
        self.prev_stats = DimStats()
        self.start_sample = DimSample()
        self.profile_ix = profile_ix
        self.tune_state = DIM_PARKING_ON_TOP
        self.steps_right = self.steps_left = self.tired = 0
        self.decisions = 0                # not the kernel's: what a run reports
        self.changes = 0
        self.queued_at = 0                # when the driver's work was queued
        self.applied = 0                  # … run, and how long each waited for its kworker
        self.wait_total = self.wait_max = 0
        self.work_pending = False         # WORK_STRUCT_PENDING of dim->work

    def work_ran(self, now: int) -> None:
        self.work_pending = False
        wait = now - self.queued_at
        self.applied += 1
        self.wait_total += wait
        self.wait_max = max(self.wait_max, wait)


def significant(val: int, ref: int) -> bool:
    """IS_SIGNIFICANT_DIFF: more than 10 % apart (integer arithmetic)."""
    return bool(ref) and 100 * abs(val - ref) // ref > 10


def div_round_up(n: int, d: int) -> int:
    return -(-n // d)


def dim_calc_stats(start: DimSample, end: DimSample) -> DimStats | None:
    """Rates per millisecond between two samples; None when no µs has passed. The
    interrupt rate counts DIM_NEVENTS, not the events that actually passed."""
    delta_us = (end.time - start.time) // 1000          # ktime_us_delta
    if not delta_us:
        return None
    npkts = (end.pkt_ctr - start.pkt_ctr) & 0xFFFFFFFF  # BIT_GAP(32, …)
    nbytes = (end.byte_ctr - start.byte_ctr) & 0xFFFFFFFF
    return DimStats(div_round_up(npkts * 1000, delta_us),
                    div_round_up(nbytes * 1000, delta_us),
                    div_round_up(DIM_NEVENTS * 1000, delta_us))


def net_dim_stats_compare(curr: DimStats, prev: DimStats) -> int:
    if not prev.bpms:
        return DIM_STATS_BETTER if curr.bpms else DIM_STATS_SAME
    if significant(curr.bpms, prev.bpms):
        return DIM_STATS_BETTER if curr.bpms > prev.bpms else DIM_STATS_WORSE
    if not prev.ppms:
        return DIM_STATS_BETTER if curr.ppms else DIM_STATS_SAME
    if significant(curr.ppms, prev.ppms):
        return DIM_STATS_BETTER if curr.ppms > prev.ppms else DIM_STATS_WORSE
    if not prev.epms:
        return DIM_STATS_SAME
    if significant(curr.epms, prev.epms):
        return DIM_STATS_BETTER if curr.epms < prev.epms else DIM_STATS_WORSE
    return DIM_STATS_SAME


def net_dim_step(dim: Dim) -> int:
    if dim.tired == NET_DIM_PARAMS_NUM_PROFILES * 2:
        return DIM_TOO_TIRED
    if dim.tune_state == DIM_GOING_RIGHT:
        if dim.profile_ix == NET_DIM_PARAMS_NUM_PROFILES - 1:
            return DIM_ON_EDGE
        dim.profile_ix += 1
        dim.steps_right += 1
    elif dim.tune_state == DIM_GOING_LEFT:
        if dim.profile_ix == 0:
            return DIM_ON_EDGE
        dim.profile_ix -= 1
        dim.steps_left += 1
    dim.tired += 1
    return DIM_STEPPED


def net_dim_exit_parking(dim: Dim) -> None:
    dim.tune_state = DIM_GOING_LEFT if dim.profile_ix else DIM_GOING_RIGHT
    net_dim_step(dim)


def dim_park_on_top(dim: Dim) -> None:
    dim.steps_right = dim.steps_left = dim.tired = 0
    dim.tune_state = DIM_PARKING_ON_TOP


def dim_park_tired(dim: Dim) -> None:
    dim.steps_right = dim.steps_left = 0
    dim.tune_state = DIM_PARKING_TIRED


def dim_on_top(dim: Dim) -> bool:
    if dim.tune_state == DIM_GOING_RIGHT:
        return dim.steps_left > 1 and dim.steps_right == 1
    if dim.tune_state == DIM_GOING_LEFT:
        return dim.steps_right > 1 and dim.steps_left == 1
    return True                           # parked


def dim_turn(dim: Dim) -> None:
    if dim.tune_state == DIM_GOING_RIGHT:
        dim.tune_state = DIM_GOING_LEFT
        dim.steps_left = 0
    elif dim.tune_state == DIM_GOING_LEFT:
        dim.tune_state = DIM_GOING_RIGHT
        dim.steps_right = 0


def net_dim_decision(curr: DimStats, dim: Dim) -> bool:
    """Returns whether the profile changed."""
    prev_state = dim.tune_state
    prev_ix = dim.profile_ix
    if dim.tune_state == DIM_PARKING_ON_TOP:
        if net_dim_stats_compare(curr, dim.prev_stats) != DIM_STATS_SAME:
            net_dim_exit_parking(dim)
    elif dim.tune_state == DIM_PARKING_TIRED:
        dim.tired -= 1
        if not dim.tired:
            net_dim_exit_parking(dim)
    else:
        if net_dim_stats_compare(curr, dim.prev_stats) != DIM_STATS_BETTER:
            dim_turn(dim)
        if dim_on_top(dim):
            dim_park_on_top(dim)
        else:
            res = net_dim_step(dim)
            if res == DIM_ON_EDGE:
                dim_park_on_top(dim)
            elif res == DIM_TOO_TIRED:
                dim_park_tired(dim)
    if prev_state != DIM_PARKING_ON_TOP or dim.tune_state != DIM_PARKING_ON_TOP:
        dim.prev_stats = curr
    return dim.profile_ix != prev_ix


def net_dim(dim: Dim, end: DimSample) -> bool:
    """One sample. Returns True when a new profile is to be applied (the kernel's
    schedule_work(&dim->work)): the driver applies it and sets DIM_START_MEASURE."""
    if dim.state == DIM_MEASURE_IN_PROGRESS:
        nevents = (end.event_ctr - dim.start_sample.event_ctr) & 0xFFFF
        if nevents < DIM_NEVENTS:
            return False
        curr = dim_calc_stats(dim.start_sample, end)
        if curr is None:
            return False
        dim.decisions += 1
        if net_dim_decision(curr, dim):
            dim.state = DIM_APPLY_NEW_PROFILE
            dim.changes += 1
            dim.queued_at = end.time
            return True
        # fall through: a new measurement starts here
    elif dim.state == DIM_APPLY_NEW_PROFILE:
        return False
    dim.start_sample = DimSample(end.time, end.pkt_ctr, end.byte_ctr, end.event_ctr)
    dim.state = DIM_MEASURE_IN_PROGRESS
    return False
