"""TCP's loss-recovery timing as Linux 6.6 computes it for a connection with at most one
segment outstanding: one side of a request/response exchange (shared-state-dim-rr.md
§5.2). Both ends of a TCP_RR connection use it: the clients on the wire (`rr`, a Linux
peer) and the host's TCP_RR sockets (`cpus.tcp_rr`). Times are ns; the kernel keeps
srtt and rttvar in µs and arms timer_list timers in jiffies.

May import: the standard library.
"""

from __future__ import annotations

TCP_RTO_MIN_US = 200_000          # HZ/5
TCP_RTO_MAX_US = 120_000_000      # 120*HZ
TCP_TIMEOUT_INIT_US = 1_000_000   # 1*HZ: the RTO before any RTT sample
TCP_ATO_MIN_US = 40_000           # HZ/25: in steady request/response, ato stays here

# kernel/time/timer.c: 64 buckets a level, each level 8 times coarser than the last
LVL_CLK_SHIFT, LVL_BITS, LVL_DEPTH = 3, 6, 9


def wheel_expiry(expires: int, clk: int) -> int:
    """calc_wheel_index / calc_index: the jiffy at which a timer_list timer armed at jiffy
    `clk` for jiffy `expires` runs. It never fires early: its expiry is rounded up to the
    next boundary of its level's granularity (a 200 ms RTO at HZ=1000 sits in level 1, 8
    jiffies a bucket)."""
    delta = expires - clk
    lvl = 0
    while lvl < LVL_DEPTH - 1 and delta >= ((1 << LVL_BITS) - 1) << (lvl * LVL_CLK_SHIFT):
        lvl += 1
    shift = lvl * LVL_CLK_SHIFT
    return ((expires >> shift) + 1) << shift


def usecs_to_jiffies(us: int, hz: int) -> int:
    """Rounds up, as the kernel's does."""
    return -(-us * hz // 1_000_000)


class RtoState:
    """tcp_rtt_estimator, __tcp_set_rto and the backoff of one connection's sender."""

    __slots__ = ("hz", "srtt_us", "mdev_us", "rttvar_us", "rto_j", "backoff")

    def __init__(self, hz: int) -> None:
        self.hz = hz
        self.srtt_us = 0          # 0: no sample yet (the kernel keeps srtt << 3)
        self.mdev_us = 0
        self.rttvar_us = 0
        self.rto_j = usecs_to_jiffies(TCP_TIMEOUT_INIT_US, hz)
        self.backoff = 0

    def sample(self, m_us: int) -> None:
        """An RTT sample (tcp_ack_update_rtt): the estimator, a new RTO, the backoff reset
        ("RFC6298: only reset backoff on valid RTT measurement"). rttvar is floored at
        tcp_rto_min (200 ms), so the RTO is srtt + 200 ms at least; that floor is renewed
        once per RTT, which with one segment in flight is every sample."""
        m = max(m_us, 1)
        if self.srtt_us == 0:               # the first sample
            self.srtt_us = m
            self.mdev_us = 2 * m
        else:
            err = m - self.srtt_us
            self.srtt_us += err >> 3
            if err < 0:
                err = -err
            self.mdev_us += (err - self.mdev_us) >> 2
        self.rttvar_us = max(self.mdev_us, TCP_RTO_MIN_US)
        rto = usecs_to_jiffies(self.srtt_us + self.rttvar_us, self.hz)
        self.rto_j = min(rto, usecs_to_jiffies(TCP_RTO_MAX_US, self.hz))
        self.backoff = 0

    def back_off(self) -> None:
        """tcp_retransmit_timer: icsk_backoff++, the RTO doubled up to TCP_RTO_MAX."""
        self.backoff += 1
        self.rto_j = min(self.rto_j << 1, usecs_to_jiffies(TCP_RTO_MAX_US, self.hz))

    def pto_j(self) -> int:
        """tcp_schedule_loss_probe with one packet out: 2·srtt + tcp_rto_min (1 s without
        a sample), no later than the RTO."""
        if self.srtt_us:
            pto = usecs_to_jiffies(2 * self.srtt_us + TCP_RTO_MIN_US, self.hz)
        else:
            pto = usecs_to_jiffies(TCP_TIMEOUT_INIT_US, self.hz)
        return min(pto, self.rto_j)

    def delack_j(self) -> int:
        """tcp_send_delayed_ack in pingpong: ato (TCP_ATO_MIN in steady RR) capped at
        max(srtt, TCP_DELACK_MIN); at most 200 ms."""
        return usecs_to_jiffies(TCP_ATO_MIN_US, self.hz)


class Sender:
    """The send side of one connection with at most one data segment out: when its
    timer fires and what it does then (TLP first, then RTO with backoff)."""

    __slots__ = ("rto", "out", "sent_at", "first_sent_at", "retrans", "tlp_out",
                 "timer_at", "timer_kind", "gen", "probes", "timeouts", "retrans_segs")

    def __init__(self, hz: int) -> None:
        self.rto = RtoState(hz)
        self.out = 0              # the number of the segment outstanding (0: none)
        self.sent_at = 0          # its last transmission (the TS its echo will carry)
        self.first_sent_at = 0
        self.retrans = False      # retransmitted at least once
        self.tlp_out = False      # tlp_high_seq set: a probe is out
        self.timer_at = -1        # when the retransmit timer runs (ns), -1 when off
        self.timer_kind = 0       # PROBE or RTO
        self.gen = 0              # each arming's number: a stale timer event is ignored
        self.probes = 0           # TCPLossProbes
        self.timeouts = 0         # TCPTimeouts
        self.retrans_segs = 0     # RetransSegs

    def arm(self, now: int, jiffy_ns: int, kind: int, after_j: int) -> int:
        """Arm the retransmit timer `after_j` jiffies from `now`; returns when it runs."""
        clk = now // jiffy_ns
        self.timer_at = wheel_expiry(clk + after_j, clk) * jiffy_ns
        self.timer_kind = kind
        self.gen += 1
        return self.timer_at

    def sent(self, n: int, now: int, jiffy_ns: int) -> int:
        """Segment `n` sent for the first time: TLP scheduled (tcp_schedule_loss_probe,
        ca_state Open, SACK on); returns when the timer runs."""
        self.out = n
        self.sent_at = self.first_sent_at = now
        self.retrans = False
        self.tlp_out = False
        return self.arm(now, jiffy_ns, PROBE, self.rto.pto_j())

    def acked(self, now: int, jiffy_ns: int) -> None:
        """The outstanding segment acknowledged: an RTT sample — its send time, or with
        a retransmission the timestamp echo, which counts in whole jiffies (TS clock 1 ms
        in 6.6) — and the timer off."""
        if self.retrans:
            m = (now // 1_000_000 - self.sent_at // 1_000_000) * 1000
        else:
            m = (now - self.sent_at) // 1000
        self.rto.sample(m)
        self.out = 0
        self.timer_at = -1
        self.gen += 1

    def fire(self, now: int, jiffy_ns: int) -> int:
        """The timer ran with the segment still out: tcp_send_loss_probe (no probe out
        yet: retransmit, tlp_high_seq set, the RTO rearmed in full) or
        tcp_retransmit_timer (retransmit, back off). Returns PROBE or RTO."""
        kind = PROBE if self.timer_kind == PROBE and not self.tlp_out else RTO
        self.retrans = True
        self.retrans_segs += 1
        self.sent_at = now
        if kind == PROBE:
            self.probes += 1
            self.tlp_out = True
        else:
            self.timeouts += 1
            self.rto.back_off()
        self.arm(now, jiffy_ns, RTO, self.rto.rto_j)
        return kind


PROBE, RTO = 1, 2
