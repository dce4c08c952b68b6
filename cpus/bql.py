"""Byte queue limits: `struct dql` of one TX queue (kernel-spec §11.2; L6.6
lib/dynamic_queue_limits.c, include/linux/dynamic_queue_limits.h).

The driver reports bytes handed to the hardware (`sent`) and bytes completed (`completed`);
the limit adapts so that just enough is in flight to keep the wire busy between two
completion passes. `avail() < 0` is the stack's STACK_XOFF for that queue.
"""

from __future__ import annotations

UINT_MAX = 2**32 - 1
DQL_MAX_OBJECT = UINT_MAX // 16
DQL_MAX_LIMIT = UINT_MAX // 2 - DQL_MAX_OBJECT


class Dql:
    __slots__ = ("num_queued", "num_completed", "limit", "adj_limit", "prev_ovlimit",
                 "prev_num_queued", "prev_last_obj_cnt", "last_obj_cnt", "lowest_slack",
                 "slack_start_time", "min_limit", "max_limit", "slack_hold_time")

    def __init__(self, hold_time_jiffies: int) -> None:
        self.num_queued = 0
        self.num_completed = 0
        self.limit = 0                   # dql_reset: limit = min_limit
        self.adj_limit = 0
        self.prev_ovlimit = 0
        self.prev_num_queued = 0
        self.prev_last_obj_cnt = 0
        self.last_obj_cnt = 0
        self.lowest_slack = UINT_MAX
        self.slack_start_time = 0
        self.min_limit = 0
        self.max_limit = DQL_MAX_LIMIT
        self.slack_hold_time = hold_time_jiffies   # dql_init(&q->dql, HZ): one second

    def avail(self) -> int:
        return self.adj_limit - self.num_queued

    def inflight(self) -> int:
        """sysfs byte_queue_limits/inflight"""
        return self.num_queued - self.num_completed

    def queued(self, count: int) -> None:
        """dql_queued (netdev_tx_sent_queue)."""
        self.last_obj_cnt = count
        self.num_queued += count

    def completed(self, count: int, jiffies: int) -> None:
        """dql_completed, line by line (its clock is jiffies)."""
        num_queued = self.num_queued
        completed = self.num_completed + count
        limit = self.limit
        ovlimit = max(0, (num_queued - self.num_completed) - limit)
        inprogress = num_queued - completed
        prev_inprogress = self.prev_num_queued - self.num_completed
        all_prev_completed = completed - self.prev_num_queued >= 0
        if (ovlimit and not inprogress) or (self.prev_ovlimit and all_prev_completed):
            # queue starved: grow by what completed beyond the previous queue plus the
            # previous over-limit
            limit += max(0, completed - self.prev_num_queued) + self.prev_ovlimit
            self.slack_start_time = jiffies
            self.lowest_slack = UINT_MAX
        elif inprogress and prev_inprogress and not all_prev_completed:
            # busy for the whole interval: measure the slack, shrink after hold time
            slack = max(0, limit + self.prev_ovlimit - 2 * (completed - self.num_completed))
            slack_last_objs = (max(0, self.prev_last_obj_cnt - self.prev_ovlimit)
                               if self.prev_ovlimit else 0)
            slack = max(slack, slack_last_objs)
            if slack < self.lowest_slack:
                self.lowest_slack = slack
            if jiffies > self.slack_start_time + self.slack_hold_time:   # time_after
                limit = max(0, limit - self.lowest_slack)
                self.slack_start_time = jiffies
                self.lowest_slack = UINT_MAX
        limit = min(max(limit, self.min_limit), self.max_limit)
        if limit != self.limit:
            self.limit = limit
            ovlimit = 0
        self.adj_limit = limit + completed
        self.prev_ovlimit = ovlimit
        self.prev_last_obj_cnt = self.last_obj_cnt
        self.num_completed = completed
        self.prev_num_queued = num_queued
