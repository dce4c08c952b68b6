"""The device half of an RX queue (kernel-spec §3.4) and MSI-X moderation (§3.1, §3.6)."""

from softnet.nic.msix import MsixVector, eitr_ns
from softnet.nic.rxring import RxRing


def ring(count=64, drop_en=True, pbuf=10_000):
    drops = []
    r = RxRing(0, count, drop_en, pbuf, flow_len=[60], truesize=2304)
    r.on_drop = lambda flow, stage: drops.append(stage)
    r.alloc_rx_buffers(r.desc_unused(), 0)
    return r, drops


def arrive(r, *stamps):
    r.add_arrivals(list(stamps), list(range(len(stamps))), [0] * len(stamps), list(stamps),
                   [0] * len(stamps))


def test_one_descriptor_always_empty():
    r, _ = ring(256)
    assert r.hw_avail == 255 and r.desc_unused() == 0


def test_writeback_visible_at_stamp_and_cleaned_in_order():
    r, _ = ring()
    arrive(r, 100, 200)
    assert r.next_ready(99) is None
    a = r.next_ready(150)
    assert a.t_dma == 100 and r.next_ready(150) is None
    assert r.next_ready(200).t_dma == 200
    assert r.desc_unused() == 2 and r.gprc == 2 and r.gorc == 2 * 64


def test_drop_en_drops_per_queue_when_ring_full():
    r, drops = ring(count=64)
    arrive(r, *range(1, 71))          # 70 frames for 63 posted buffers
    r.materialize(100)
    assert len(r.filled) == 63 and r.rqdpc == 7 and drops == ["nic_rx_queue_drop"] * 7


def test_refill_happens_in_time_order():
    r, _ = ring(count=64)
    arrive(r, *range(1, 64))          # fills the ring at t=1..63
    arrive(r, 100, 300)
    for _ in range(63):
        assert r.next_ready(99) is not None
    r.alloc_rx_buffers(16, 200)       # tail bump at 200: the frame at 100 found no buffer
    r.materialize(400)
    assert r.rqdpc == 1 and len(r.filled) == 1 and r.filled[0].t_dma == 300


def test_packet_buffer_without_drop_en():
    r, drops = ring(count=64, drop_en=False, pbuf=64 * 3)
    arrive(r, *range(1, 69))          # 68 frames: 63 posted, 3 buffered (64 B each), 2 missed
    r.materialize(100)
    assert len(r.filled) == 63 and len(r.pbuf) == 3 and r.rnbc == 5 and r.mpc == 2
    assert drops == ["nic_rx_missed"] * 2
    for _ in range(63):
        r.next_ready(100)
    r.alloc_rx_buffers(63, 150)       # buffered frames are DMA'd when buffers come back
    assert not r.pbuf and [s.t_dma for s in r.filled] == [150, 150, 150]


def test_eitr_units():
    assert eitr_ns(196) == 49_000          # IGB_20K_ITR
    assert eitr_ns(648) == 162_000         # IGB_START_ITR
    assert eitr_ns(0) == 1_000             # moderation off: EITR 0x4


def test_vector_fires_at_first_writeback_then_masks():
    r, _ = ring()
    v = MsixVector(1, "eth0-rx-0", 66, 49_000)
    v.rings.append(r)
    r.vector = v
    arrive(r, 1000, 2000)
    assert v.next_fire(0) == 1000
    v.fire(1000)
    assert v.masked and v.next_fire(5000) is None
    r.materialize(2000)                    # a write-back while masked sets the cause
    v.masked = False                       # driver re-arms at 10 us
    assert v.next_fire(10_000) == 1000 + 49_000   # at once, but not before the interval
    v.fire(50_000)
    v.masked = False
    assert v.next_fire(60_000) is None     # nothing pending
    arrive(r, 200_000)
    assert v.next_fire(60_000) == 200_000
