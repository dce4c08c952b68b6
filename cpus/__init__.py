"""Everything one simulated CPU executes and owns (design §2, kernel-spec §4–§9).

`cpu` is the executor: contexts (hard IRQ, softirq on IRQ exit, tasks), preemption at step
boundaries, time accounting. `sched` shares the CPU between tasks (ksoftirqd and
applications). `softirq`, `napi`, `igb`, `gro`, `stack`, `sock` and `app` are the kernel
paths, written as generators that yield the cost of each step, named after the kernel
functions they model. `costs` loads a cost profile. `lp` ties them into the cpuK logical
process: it files the records that arrive (kinds declared in `engine.records`) and
`lookahead` holds its promises. `backlog`,
`rfs` and `arfs` are RPS, RFS and accelerated RFS (set_rps_cpu's NIC filter requests).
`tx` is the transmit path (sendmsg to the driver's ring, neighbours, NET_TX, TX
completion), with `qdisc` (pfifo_fast, fq_codel) and `bql` (dynamic queue limits).

May import: `engine`, and from `nic` the device halves of queues that run on a CPU
(`nic.rxring`, `nic.msix`, `nic.device`). Never imports `coordinator`.
"""
