"""The simulation engine every softnet process shares.

What lives here: simulated time and its units (`units`), the per-LP event heap with the
deterministic tie-break (`events`), the logical-process contract and the conservative
per-link synchronisation (`lp`), the frame codec (`codec`), the two ways of running a set
of LPs — all in one process (`inline`) or one OS process per LP over ZeroMQ (`process`) —
and the control protocol between the coordinator and the LP processes (`control`).

May import: the standard library, msgpack, pyzmq, numpy. Never imports `nic`, `cpus` or
`coordinator`: those build on this package, not the other way round.
"""
