"""The device half of one RX queue: its descriptor ring as the hardware sees it.

It runs inside the CPU process that serves the queue's vector (design §2), so receive is
feed-forward: the nic process classifies a frame and hands it over; from then on only this
queue's own traffic and its own driver change this state.

A frame record is stamped with the time its descriptor is fetched and written back (wire
arrival + the PCIe link latency). Frames are applied lazily, in stamp order, whenever the
driver looks at the ring or refills it, which gives the same answers as applying each one
at its own instant, because nothing else touches the ring in between.

Ring accounting follows igb (kernel-spec §3.4): one descriptor always stays empty, so a
ring of N holds at most N-1 posted buffers. When no descriptor is free the hardware drops
the frame for that queue and counts it in RQDPC if SRRCTL.DROP_EN is set; otherwise the
frame waits in the on-chip packet buffer (counting RNBC) and is lost to MPC once that is
full.
"""

from __future__ import annotations

from collections import deque

from softnet.engine.skb import SkBuff

TCP_ACK_LEN = 14 + 20 + 32   # a pure ACK: Ethernet, IP, TCP with the timestamp option


class RxRing:
    __slots__ = ("index", "count", "hw_avail", "filled", "arrivals", "drop_en",
                 "pbuf", "pbuf_bytes", "pbuf_limit", "vector", "flow_len", "truesize",
                 "rqdpc", "mpc", "mpc_bytes", "rnbc", "gprc", "gorc", "on_drop",
                 "received", "pending_by_flow", "arriving_by_flow")

    def __init__(self, index: int, count: int, drop_en: bool, pbuf_limit: int,
                 flow_len: list[int], truesize: int) -> None:
        self.index = index
        self.count = count
        self.hw_avail = 0           # descriptors posted by the driver, not yet used
        self.filled: deque[SkBuff] = deque()   # written back, waiting for the driver
        # (stamp, id, flow, t_wire, TCP_RR word)
        self.arrivals: deque[tuple[int, int, int, int, int]] = deque()
        self.drop_en = drop_en
        self.pbuf: deque[tuple[int, int, int, int]] = deque()   # frames waiting for a descriptor
        self.pbuf_bytes = 0
        self.pbuf_limit = pbuf_limit
        self.vector = None          # MsixVector serving this ring (set by the driver)
        self.flow_len = flow_len    # frame length without FCS, by flow
        self.truesize = truesize
        self.rqdpc = 0              # per-queue drops (DROP_EN)
        self.mpc = 0                # missed packets: packet buffer overflow
        self.mpc_bytes = 0
        self.rnbc = 0               # "receive no buffers" events
        self.gprc = 0               # frames DMA'd to this queue
        self.gorc = 0
        self.on_drop = None         # callback(flow, stage) for the LP's books
        self.received = 0           # frame records handed over by the nic
        # frames not yet taken by the driver (on the link, in the buffer, written back),
        # by flow: what this queue's CPU can still be asked to process
        self.pending_by_flow: dict[int, int] = {}
        self.arriving_by_flow: dict[int, int] = {}   # … of them still on the PCIe link

    # -- driver side -------------------------------------------------------------------
    def desc_unused(self) -> int:
        """igb_desc_unused: buffers the driver owes the hardware."""
        return self.count - 1 - self.hw_avail - len(self.filled)

    def alloc_rx_buffers(self, n: int, now: int) -> None:
        """igb_alloc_rx_buffers: post n buffers and bump the tail once."""
        self.materialize(now)
        self.hw_avail += n
        if self.pbuf:
            self._drain_pbuf(now)

    def next_ready(self, now: int) -> SkBuff | None:
        """The next descriptor whose DD bit is set at `now`, or None (igb_clean_rx_irq)."""
        arr = self.arrivals
        if arr and arr[0][0] <= now:
            self.materialize(now)
        filled = self.filled
        if filled and filled[0].t_dma <= now:
            skb = filled.popleft()
            self.pending_by_flow[skb.flow] -= 1
            return skb
        return None

    # -- hardware side -----------------------------------------------------------------
    def add_arrivals(self, stamps, ids, flows, wires, words) -> None:
        self.arrivals.extend(zip(stamps, ids, flows, wires, words))
        self.received += len(stamps)
        pbf = self.pending_by_flow
        abf = self.arriving_by_flow
        for f in flows:
            pbf[f] = pbf.get(f, 0) + 1
            abf[f] = abf.get(f, 0) + 1

    def materialize(self, now: int) -> None:
        """Apply every frame stamped at or before `now`, in order."""
        arr = self.arrivals
        abf = self.arriving_by_flow
        while arr and arr[0][0] <= now:
            rec = arr.popleft()
            abf[rec[2]] -= 1
            if self.hw_avail > 0 and not self.pbuf:
                self._writeback(rec, rec[0])
            else:
                self._no_descriptor(rec)

    def _writeback(self, rec: tuple, t: int) -> None:
        _, pid, flow, t_wire, word = rec
        self.hw_avail -= 1
        length = self.frame_len(rec)
        self.gprc += 1
        self.gorc += length + 4          # GORC counts through the CRC
        skb = SkBuff(pid, flow, length, self.truesize, self.index, t_wire, t)
        if word:
            skb.tcp = word
        self.filled.append(skb)
        v = self.vector
        if v is not None:
            v.cause_pending = True

    def frame_len(self, rec: tuple) -> int:
        return self.flow_len[rec[2]] if rec[4] >= 0 else TCP_ACK_LEN

    def _no_descriptor(self, rec: tuple) -> None:
        flow = rec[2]
        if self.drop_en:
            self.rqdpc += 1
            self.pending_by_flow[flow] -= 1
            self.on_drop(flow, "nic_rx_queue_drop")
            return
        self.rnbc += 1
        size = self.frame_len(rec) + 4
        if self.pbuf_bytes + size > self.pbuf_limit:
            self.mpc += 1
            self.mpc_bytes += size
            self.pending_by_flow[flow] -= 1
            self.on_drop(flow, "nic_rx_missed")
            return
        self.pbuf.append(rec)
        self.pbuf_bytes += size

    def _drain_pbuf(self, now: int) -> None:
        pb = self.pbuf
        while pb and self.hw_avail > 0:
            rec = pb.popleft()
            self.pbuf_bytes -= self.frame_len(rec) + 4
            self._writeback(rec, now)

    # -- books -------------------------------------------------------------------------
    def in_flight(self, end: int) -> dict[str, int]:
        """Frames this queue holds at the end: on the PCIe link (stamped at or after the
        end), in the packet buffer, and written back but not yet cleaned."""
        self.materialize(end - 1)
        return {"pcie_link": len(self.arrivals), "nic_packet_buffer": len(self.pbuf),
                "rx_ring": len(self.filled)}

    def held_flows(self):
        """Flows of frames the device has taken (written back, or in its packet buffer);
        those still on the PCIe link arrive at their stamps (`first_pending_stamp`)."""
        abf = self.arriving_by_flow
        return [f for f, n in self.pending_by_flow.items() if n > abf.get(f, 0)]

    def arrived_by(self, t: int) -> int:
        """Frames handed over by the nic and stamped before `t`."""
        later = 0
        for rec in reversed(self.arrivals):      # in stamp order: count the tail only
            if rec[0] < t:
                break
            later += 1
        return self.received - later

    def first_pending_stamp(self) -> int | None:
        return self.arrivals[0][0] if self.arrivals else None
