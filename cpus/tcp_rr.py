"""A TCP_RR connection's server side, held where its socket lives (the server's CPU):
the receive state (the last request in), the sender of its responses (loss probe,
retransmission timer, backoff: `nic.tcp_timers`), the delayed ACK, and what an arriving
segment does to them — tcp_rcv_established's tcp_ack and tcp_data_queue for a lone
segment each way (shared-state-dim-rr.md §5.2).

A segment processed on another CPU reaches this state when its hand-off lands (as a UDP
datagram reaches its socket's queue); an ACK it answers with (a duplicate's) is sent
from here then, on that CPU's behalf and at its cost, as the kernel sends it from that
CPU's softirq. The timers run on this CPU: their expiry rounded by the timer wheel, the
work taken as TIMER softirq time.

May import: `engine`, `nic.tcp_timers`, and this package's `sock`.
"""

from __future__ import annotations

from softnet.nic.tcp_timers import PROBE, Sender, wheel_expiry

from .sock import TcpSock

RTX, DELACK = 0, 1       # the two timers of a connection (icsk_retransmit_timer, delack)


class TcpRrSock(TcpSock):
    """An accepted TCP_RR connection: a TcpSock's queue and reading, plus its sender and
    the state its segments carry (`SkBuff.tcp`: +k data of transaction k, -k a pure ACK
    of it)."""

    __slots__ = ("snd", "rcv_nxt", "delack_gen", "delack_at", "response", "hash", "flow")

    def __init__(self, *args, hz: int, response: int, hash_: int, flow: int,
                 handshake_us: int = 0, rto_min_us: int = 200_000, **kw) -> None:
        super().__init__(*args, **kw)
        self.flow = flow          # the connection's flow (its client's requests)
        self.snd = Sender(hz, handshake_us, rto_min_us)
        self.rcv_nxt = 0          # the last request received in order
        self.delack_gen = 0       # each arming and each cancel of the delayed ACK
        self.delack_at = -1
        self.response = response  # response payload bytes
        self.hash = hash_         # sk_txhash: the skb hash its segments go out with


class TcpRr:
    """The TCP_RR connections a CPU holds: segments in, timers, what goes out. `arm`
    schedules a timer event (t, (sock, timer, its arming)) on the owning LP."""

    def __init__(self, stack, tx, tx_socks: dict, tcp_mib: dict, tcpext: dict,
                 jiffy_ns: int) -> None:
        self.stack = stack
        self.tx = tx
        self.tx_socks = tx_socks      # the servers' send sides, by socket
        self.costs = stack.costs
        self.tcp = tcp_mib
        self.ext = tcpext
        self.jiffy_ns = jiffy_ns
        self.arm = None

    def rcv(self, sk: TcpRrSock, skb, cpu: int, t: int) -> int:
        """tcp_rcv_established's work on the connection's state for a segment CPU `cpu`
        processed (its tcp_v4_rcv and fast path already charged), at `t`; returns what
        more it costs that CPU."""
        c = self.costs
        stack = self.stack
        w = skb.tcp
        snd = sk.snd
        cost = 0
        if w < 0:                                  # a pure ACK: tcp_ack, then consumed
            self.ext["TCPPureAcks"] += 1
            if snd.out == -w:
                snd.acked(t, self.jiffy_ns)
                cost += c.tcp_ack
            stack.books.consume(skb.flow)
            return cost + c.kfree_skb
        if snd.out and snd.out == w - 1:           # its ACK: the last response arrived
            snd.acked(t, self.jiffy_ns)
            cost += c.tcp_ack
        if w <= sk.rcv_nxt:
            # old data (the client sent it again, its response lost): tcp_data_queue's
            # out-of-window path — D-SACK, quick ACK mode, an ACK at once
            self.ext["DelayedACKLost"] += 1
            stack.books.drop(skb.flow, "tcp_old_data")
            cost += stack.free_cost(skb)
            return cost + self.send_ack(sk, cpu, t + cost)
        stage = sk.enqueue(skb, stack.sw_hash[skb.flow], cpu)
        if stage is not None:
            stack.books.drop(skb.flow, stage)                  # TCPRcvQDrop
            return cost + stack.free_cost(skb)
        sk.rcv_nxt = w
        # __tcp_ack_snd_check in pingpong: the ACK waits for the response, or the timer
        clk = t // self.jiffy_ns
        sk.delack_at = wheel_expiry(clk + snd.rto.delack_j(), clk) * self.jiffy_ns
        sk.delack_gen += 1
        self.arm(sk.delack_at, sk, DELACK, sk.delack_gen)
        w_ = sk.waiter
        if w_ is not None:                         # sk_data_ready wakes the server
            sk.waiter = None
            stack.cpu.sched.wake(w_)
            cost += c.tcp_data_ready
        return cost

    def sent(self, sk: TcpRrSock, t: int) -> None:
        """The response to the last request left tcp_write_xmit at `t`: it carries the
        ACK (the delayed ACK off), and the loss probe is armed."""
        sk.delack_gen += 1
        sk.delack_at = -1
        at = sk.snd.sent(sk.rcv_nxt, t, self.jiffy_ns)
        self.arm(at, sk, RTX, sk.snd.gen)
        self.tcp["OutSegs"] += 1

    def timer(self, sk: TcpRrSock, which: int, gen: int, t: int, cpu: int) -> int:
        """A connection's timer ran at `t` (run_timer_softirq on CPU `cpu`); returns its
        cost, 0 when it had been re-armed or cancelled since."""
        c = self.costs
        if which == DELACK:
            if gen != sk.delack_gen:
                return 0
            sk.delack_at = -1
            self.ext["DelayedACKs"] += 1          # tcp_delack_timer_handler: ACK now
            return c.softirq_entry + self.send_ack(sk, cpu, t + c.softirq_entry)
        snd = sk.snd
        if gen != snd.gen or not snd.out:
            return 0
        kind = snd.fire(t, self.jiffy_ns)
        self.arm(snd.timer_at, sk, RTX, snd.gen)
        if not kind:                              # a probe's episode open: RTO rearmed
            return c.softirq_entry
        self.ext["TCPLossProbes" if kind == PROBE else "TCPTimeouts"] += 1
        self.tcp["RetransSegs"] += 1
        skb = self.tx.tcp_segment(sk, snd.out, sk.response)
        return c.softirq_entry + self.xmit(cpu, t + c.softirq_entry, skb, sk,
                                           c.tcp_send_ack)

    def xmit(self, cpu: int, t: int, skb, sk: TcpRrSock, cost: int) -> int:
        """A segment (an ACK, a retransmission) sent from here from `t` on in CPU `cpu`'s
        time: __tcp_transmit_skb's `cost`, then ip_queue_xmit on; returns what it cost
        that CPU."""
        tsk = self.tx_socks[sk.index]
        self.stack.books.tx_sent[tsk.index] += 1
        self.tx.own(skb, tsk)
        return self.tx.run_for(cpu, t, self._out(skb, sk, tsk, cost))

    def _out(self, skb, sk: TcpRrSock, tsk, cost: int):
        yield cost
        yield from self.tx.ip_send_skb(skb, sk.hash, tsk)

    def send_ack(self, sk: TcpRrSock, cpu: int, t: int) -> int:
        """__tcp_send_ack: a pure ACK of the last request in."""
        self.tcp["OutSegs"] += 1
        skb = self.tx.tcp_segment(sk, -sk.rcv_nxt, 0)
        return self.xmit(cpu, t, skb, sk, self.costs.tcp_send_ack)
