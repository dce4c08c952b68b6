"""The network card: what the nic logical process runs, and the device halves of queues
that run inside CPU processes (design §2).

`devices/` holds the device models as data (I350/igb, E810/ice); `device` reads them and
derives what the driver sets up at probe time (vectors, the default RETA). `toeplitz` and
`rss` classify a flow (Toeplitz hash, RETA, ntuple rules); `traffic` makes the flows'
frames and serialises them on the wire; `arfs` is ice's aRFS filter table; `tx` is the
transmit engine (doorbells, DMA reads, the transmit wire, write-backs, ARP answers); `rr`
the request/response clients on the far side of the wire (netperf UDP_RR and TCP_RR),
with `tcp_timers` (TCP's loss-recovery timing, which the host's TCP_RR sockets in `cpus`
use too); `lp` ties the
nic logical process together. `rxring` (descriptor ring, packet buffer) and
`msix` (auto-masking, EITR) are the device halves of a queue, run by the CPU serving it.

May import: `engine`, numpy. Never imports `cpus` or `coordinator`.
"""
