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


def handshake_rtt_us(line_rate_bps: int, pcie_ns: int) -> int:
    """The RTT sample a connection's handshake leaves (the SYN-ACK's on the client, the
    ACK's on the server), which softnet does not simulate: a SYN and a SYN-ACK (74
    bytes, + FCS, preamble and gap: 98) on the wire and across PCIe each way. The hosts'
    processing is left out: a few µs, which cannot move an RTO of srtt + 200 ms."""
    return max(1, round(2 * (98 * 8 * 1e9 / line_rate_bps + pcie_ns) / 1000))

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
    """tcp_rtt_estimator, __tcp_set_rto and the backoff of one connection's sender, in the
    kernel's fixed point: srtt kept << 3, mdev << 2."""

    __slots__ = ("hz", "rto_min", "srtt8", "mdev4", "mdev_max", "rttvar_us", "rto_j",
                 "backoff")

    def __init__(self, hz: int, rto_min_us: int = TCP_RTO_MIN_US) -> None:
        self.hz = hz
        self.rto_min = rto_min_us  # tcp_rto_min_us: TCP_RTO_MIN, or the route's rto_min
        self.srtt8 = 0            # tp->srtt_us: 8 × srtt; 0 before any sample
        self.mdev4 = 0            # tp->mdev_us: 4 × mdev
        self.mdev_max = 0
        self.rttvar_us = 0
        self.rto_j = usecs_to_jiffies(TCP_TIMEOUT_INIT_US, hz)
        self.backoff = 0

    @property
    def srtt_us(self) -> int:
        return self.srtt8 >> 3

    def sample(self, m: int) -> None:
        """An RTT sample in µs (tcp_ack_update_rtt → tcp_rtt_estimator, tcp_set_rto), and
        the backoff reset ("RFC6298: only reset backoff on valid RTT measurement"). rttvar
        is floored at tcp_rto_min (200 ms) and mdev_max is reset to it once per RTT —
        with one segment in flight, at every sample — so the RTO is srtt + 200 ms at
        least."""
        srtt = self.srtt8
        if srtt:
            m -= srtt >> 3                  # the error
            srtt += m                       # 7/8 old + 1/8 new
            if m < 0:
                m = -m - (self.mdev4 >> 2)
                if m > 0:
                    m >>= 3                 # a falling RTT moves mdev more slowly
            else:
                m -= self.mdev4 >> 2
            self.mdev4 += m
            if self.mdev4 > self.mdev_max:
                self.mdev_max = self.mdev4
                if self.mdev_max > self.rttvar_us:
                    self.rttvar_us = self.mdev_max
            if self.mdev_max < self.rttvar_us:      # once per RTT (snd_una past rtt_seq)
                self.rttvar_us -= (self.rttvar_us - self.mdev_max) >> 2
            self.mdev_max = self.rto_min
        else:                               # the first sample: rto = 3 × rtt at least
            srtt = m << 3
            self.mdev4 = m << 1
            self.rttvar_us = max(self.mdev4, self.rto_min)
            self.mdev_max = self.rttvar_us
        self.srtt8 = max(1, srtt)
        rto = usecs_to_jiffies((self.srtt8 >> 3) + self.rttvar_us, self.hz)
        self.rto_j = min(rto, usecs_to_jiffies(TCP_RTO_MAX_US, self.hz))
        self.backoff = 0

    def back_off(self) -> None:
        """tcp_retransmit_timer: icsk_backoff++, the RTO doubled up to TCP_RTO_MAX."""
        self.backoff += 1
        self.rto_j = min(self.rto_j << 1, usecs_to_jiffies(TCP_RTO_MAX_US, self.hz))

    def pto_j(self) -> int:
        """tcp_schedule_loss_probe with one packet out: 2·srtt + tcp_rto_min (1 s without
        a sample), no later than the RTO."""
        if self.srtt8:
            pto = usecs_to_jiffies((self.srtt8 >> 2) + self.rto_min, self.hz)
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

    __slots__ = ("rto", "out", "sent_at", "first_sent_at", "retrans", "tlp_seg",
                 "timer_at", "timer_kind", "gen", "probes", "timeouts", "retrans_segs")

    def __init__(self, hz: int, handshake_us: int = 0,
                 rto_min_us: int = TCP_RTO_MIN_US) -> None:
        self.rto = RtoState(hz, rto_min_us)
        if handshake_us:                # the RTT sample the connection's handshake left
            self.rto.sample(handshake_us)
        self.out = 0              # the number of the segment outstanding (0: none)
        self.sent_at = 0          # its last transmission (the TS its echo will carry)
        self.first_sent_at = 0
        self.retrans = False      # retransmitted at least once
        self.tlp_seg = 0          # tlp_high_seq: the segment a probe was sent for, until
                                  # an ACK of a later one (tcp_process_tlp_ack)
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
        return self.arm(now, jiffy_ns, PROBE, self.rto.pto_j())

    def acked(self, now: int, jiffy_ns: int) -> None:
        """The outstanding segment acknowledged: an RTT sample — its send time, or with
        a retransmission the timestamp echo (tcp_rtt_tsopt_us: whole ms of the 6.6 TS
        clock, at least one) — and the timer off. An ACK past the probed segment ends
        the probe's episode."""
        if self.retrans:
            m = max(now // 1_000_000 - self.sent_at // 1_000_000, 1) * 1000
        else:
            m = (now - self.sent_at) // 1000
        self.rto.sample(m)
        if self.tlp_seg and self.out > self.tlp_seg:
            self.tlp_seg = 0
        self.out = 0
        self.timer_at = -1
        self.gen += 1

    def fire(self, now: int, jiffy_ns: int) -> int:
        """The timer ran with the segment still out: tcp_send_loss_probe or
        tcp_retransmit_timer. A probe retransmits, sets tlp_high_seq and rearms the RTO
        in full; while an earlier probe's episode is open it sends nothing and rearms the
        RTO for what is left of it from the segment's send (tcp_rearm_rto). The RTO
        retransmits and backs off. Returns PROBE, RTO or 0 (nothing sent)."""
        if self.timer_kind == PROBE and self.tlp_seg:
            left_us = (self.sent_at + self.rto.rto_j * jiffy_ns - now) // 1000
            self.arm(now, jiffy_ns, RTO, usecs_to_jiffies(max(left_us, 1), self.rto.hz))
            return 0
        kind = self.timer_kind
        self.retrans = True
        self.retrans_segs += 1
        self.sent_at = now
        if kind == PROBE:
            self.probes += 1
            self.tlp_seg = self.out
        else:
            self.timeouts += 1
            self.rto.back_off()
        self.arm(now, jiffy_ns, RTO, self.rto.rto_j)
        return kind


PROBE, RTO = 1, 2
