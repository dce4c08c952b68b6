"""Everything one simulated CPU executes and owns (design §2, kernel-spec §4–§9).

`cpu` is the executor: contexts (hard IRQ, softirq on IRQ exit, tasks), preemption at step
boundaries, time accounting. `sched` shares the CPU between tasks (ksoftirqd and
applications). `softirq`, `napi`, `igb`, `gro`, `stack`, `sock` and `app` are the kernel
paths, written as generators that yield the cost of each step, named after the kernel
functions they model. `costs` loads a cost profile. `host` builds one CPU's components
from its part of the plan and wires them (the driver from the device's ops table);
`kernel` says where 3.10 and 3.13 differ from 6.6 (their NET_RX loop is `napi_3x`'s);
`lp` is the cpuK logical process that runs them: it files the records that arrive (kinds
declared in `engine.records`) and sends its own, `lookahead` holds its promises,
`report` its end-of-run figures and `series` its per-interval samples (`[observe]
interval`), `trace` its timeline slices (`[observe] trace`), `capture` the host's own packet taps
(`[observe] pcap = ["host"]`). `backlog`,
`rfs` and `arfs` are RPS, RFS and accelerated RFS (set_rps_cpu's NIC filter requests).
`tx` is the transmit path (sendmsg to the driver, neighbours, NET_TX), with `qdisc`
(pfifo_fast, fq_codel) and `bql` (dynamic queue limits). The drivers: `igb` (hard IRQ,
NAPI poll, RX clean, ITR), `igb_tx` (its xmit and TX clean), `ice` (where ice differs,
with `dim`: net_dim), `e1000e` and `ixgbe` (where those differ), and `intr_rx` (the
interrupt-driven handler of a driver without NAPI). What several CPUs share is held by one of them: `sock_lines` (a UDP
socket's receive-queue lock, busylock and line) and `txq_lines` (a TX queue's line and
enqueue lock), both built on `spinlock` (locks and cache lines in simulated time).
`tcp_rr` holds the server side of TCP_RR connections (segments in, delayed ACK, loss
probe and retransmission timer).

May import: `engine`, and from `nic` the device halves of queues that run on a CPU
(`nic.rxring`, `nic.msix`, `nic.device`) and TCP's timing both ends share
(`nic.tcp_timers`). Never imports `coordinator`.
"""
