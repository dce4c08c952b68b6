"""The simulation engine every softnet process shares.

What lives here: simulated time and its units (`units`), the per-LP event heap with the
deterministic tie-break (`events`), the logical-process contract and the conservative
per-link synchronisation (`lp`), every record kind that crosses a link, declared once
(`records`), the frame codec (`codec`), the two ways of running a set of LPs — all in one
process (`inline`) or one OS process per LP (`process`, started by `worker`) — the data
plane between LP processes (`transport`: socketpairs or ZeroMQ; `shm`: shared-memory
rings), lock files (`lockfile`),
the packet record (`skb`) and latency histograms (`histogram`).

May import: the standard library, msgpack, pyzmq, numpy, setproctitle. Never imports
`nic`, `cpus` or `coordinator`: those build on this package, not the other way round.
"""
