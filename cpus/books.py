"""The books of one CPU: where each packet it touched ended, and how long each stage took.

Every packet offered is read by an application, dropped at a named stage, used up by
the kernel itself (a TCP pure ACK), or in flight at the end; the coordinator adds up the books of all processes and refuses a run that does
not balance. Stage timestamps of delivered packets are appended six at a time to one flat
array and folded into histograms with numpy, so the hot path does one append per packet;
the array is folded every 2048 packets, so the books hold fixed memory however long the run.
"""

from __future__ import annotations

from array import array

import numpy as np

from softnet.engine.histogram import Recorder

STAGES = ("wire_to_dma", "dma_to_poll", "poll_to_protocol", "protocol_to_socket",
          "socket_to_app", "wire_to_app")
FOLD_EVERY = 6 * 2048     # stamps held before a fold: ≈100 KB; a fold costs ≈40 ns a packet


class Books:
    __slots__ = ("drops", "flow_dropped", "flow_delivered", "flow_reordered", "flow_last",
                 "lat", "delivered_total", "stamps", "tx_sent", "tx_dropped", "tx_drops",
                 "kernel_drops", "tap", "read_tap", "flow_consumed")

    def __init__(self, nflows: int, nsenders: int = 0) -> None:
        self.drops: dict[str, int] = {}
        self.flow_dropped = [0] * nflows
        self.flow_delivered = [0] * nflows
        self.flow_reordered = [0] * nflows
        self.flow_consumed = [0] * nflows   # taken by the kernel itself (TCP pure ACKs)
        self.flow_last = [-1] * nflows
        self.lat = [Recorder() for _ in STAGES]
        self.delivered_total = 0
        self.stamps = array("q")
        # the transmit side: datagrams applications handed to sendmsg, by sender
        self.tx_sent = [0] * nsenders
        self.tx_dropped = [0] * nsenders
        self.tx_drops: dict[str, int] = {}
        self.kernel_drops: dict[str, int] = {}   # packets the kernel itself sent (ARP)
        self.tap = None             # fn(stage, flow or -1 - sender, packets) on each drop (a trace)
        self.read_tap = None        # fn(skb, id, t_wire, t_poll, now) on each read (a trace)

    def drop(self, flow: int, stage: str, n: int = 1) -> None:
        self.drops[stage] = self.drops.get(stage, 0) + n
        self.flow_dropped[flow] += n
        if self.tap is not None:
            self.tap(stage, flow, n)

    def consume(self, flow: int) -> None:
        """A packet the kernel itself used up, no application's to read: a TCP pure ACK
        (tcp_ack, then __kfree_skb)."""
        self.flow_consumed[flow] += 1

    def tx_drop(self, skb, stage: str) -> None:
        """A packet lost on the way out: a sender's datagram in the TX books, a forwarded
        one in the receive books of its flow."""
        if skb.sock == -2:                    # the kernel's own (an ARP request)
            self.kernel_drops[stage] = self.kernel_drops.get(stage, 0) + 1
            return
        if skb.sock < 0:
            self.drop(skb.flow, stage, skb.nsegs)
            return
        self.tx_drops[stage] = self.tx_drops.get(stage, 0) + 1
        self.tx_dropped[skb.sock] += 1
        if self.tap is not None:
            self.tap(stage, -1 - skb.sock, 1)

    def delivered(self, skb, now: int) -> None:
        """Every wire packet of `skb` read by an application at `now`."""
        self.delivered_seg(skb, skb.id, skb.t_wire, skb.t_dma, skb.t_poll, now)
        if skb.segs:
            for sid, tw, td, tp in skb.segs:
                self.delivered_seg(skb, sid, tw, td, tp, now)

    def delivered_seg(self, skb, pid: int, t_wire: int, t_dma: int, t_poll: int,
                      now: int) -> None:
        """One wire packet of `skb` (its own id and stamps up to the poll; protocol and
        socket stamps are the skb's) read at `now`."""
        self.delivered_total += 1
        if self.read_tap is not None:
            self.read_tap(skb, pid, t_wire, t_poll, now)
        f = skb.flow
        self.flow_delivered[f] += 1
        if pid < self.flow_last[f]:
            self.flow_reordered[f] += 1
        else:
            self.flow_last[f] = pid
        st = self.stamps
        st.extend((t_wire, t_dma, t_poll, skb.t_proto, skb.t_sock, now))
        if len(st) >= FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        if not self.stamps:
            return
        t = np.frombuffer(self.stamps, dtype=np.int64).reshape(-1, 6)
        d = np.diff(t, axis=1)
        for i in range(5):
            self.lat[i].add_many(d[:, i])
        self.lat[5].add_many(t[:, 5] - t[:, 0])
        self.stamps = array("q")

    def export(self) -> dict:
        self._fold()
        return {"drops": self.drops, "flow_dropped": self.flow_dropped,
                "flow_delivered": self.flow_delivered, "flow_reordered": self.flow_reordered,
                "flow_consumed": self.flow_consumed,
                "delivered": self.delivered_total,
                "tx_sent": self.tx_sent, "tx_dropped": self.tx_dropped,
                "tx_drops": self.tx_drops, "kernel_drops": self.kernel_drops,
                "latency": {s: r.export() for s, r in zip(STAGES, self.lat)}}
