"""Every record kind that crosses a link, declared once (design §2 "Records").

A record travels in a frame's payload as `(kind, stamp, seq, body)` (the nic's received
frames travel as columns under "rx"). For each kind this table says what it means in the
kernel, who sends it to whom over which link, its body, the priority class of the event it
becomes, whether it is sent from a kernel step (so the least CPU work before it bounds its
promise), whether sending it needs data the sender holds, and whether its arrival can start
kernel work at the receiver. The receivers dispatch on this table and fail on a kind it
does not list or a link that does not carry it; the topology planner checks every link
against it; the CPU's lookahead takes its kind sets from it.

May import: the standard library and `engine.events`.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass

from .events import PRIO_DEVICE, PRIO_LINK


@dataclass(frozen=True, slots=True)
class RecordKind:
    name: str
    meaning: str        # what the kernel (or the device) does that this record stands for
    src: str            # "nic" or "cpu": who sends it
    dst: str            # who receives it
    body: str           # the body's fields, in order
    prio: int           # priority class of the event it becomes at the receiver
    from_kernel: bool   # sent from a kernel step: the least work before it bounds promises
    needs_data: bool    # sent only for data the sender holds (a frame, a backlog packet)
    starts_work: bool   # its arrival can start kernel work at the receiver

    @property
    def link(self) -> str:
        return "interconnect" if self.src == self.dst == "cpu" else "pcie"


_K = RecordKind
KINDS: dict[str, RecordKind] = {k.name: k for k in (
    # nic -> cpu (PCIe)
    _K("rx", "received frames DMA'd to an RX queue's ring (columns: stamps, ids, flows, "
       "wire times, queues)", "nic", "cpu", "columns", PRIO_DEVICE, False, False, True),
    _K("txc", "TX descriptor write-backs of a queue (igb_clean_tx_irq finds them done), "
       "each with what its clean needs (descriptors, segments, bytes, socket, truesize)",
       "nic", "cpu", "(queue, [times], [clean])", PRIO_DEVICE, False, False, True),
    _K("arp", "a neighbour's ARP reply reaches arp_rcv / neigh_update", "nic", "cpu",
       "neighbour", PRIO_LINK, False, False, True),
    # cpu -> nic (PCIe)
    _K("db", "a TX tail (doorbell) write with the descriptors it hands over, and the ATR "
       "filters written before it", "cpu", "nic",
       "(queue, packets, [clean][, [TCP_RR word] or None[, [ATR filter's flow]]])",
       PRIO_LINK, False, False, False),
    _K("arfs", "ndo_rx_flow_steer: program a flow director filter", "cpu", "nic",
       "(flow, rx queue, flow id)", PRIO_LINK, True, False, False),
    # cpu -> cpu (interconnect)
    _K("sk", "__udp_enqueue_schedule_skb onto a socket another CPU owns (a TCP_RR "
       "connection's segment: its state is there, and what it answers leaves there)",
       "cpu", "cpu",
       "(socket, skb)", PRIO_LINK, True, True, False),
    _K("bl", "enqueue_to_backlog on another CPU's softnet_data (RPS/RFS)", "cpu", "cpu",
       "skb", PRIO_LINK, True, True, True),
    _K("ipi", "the RPS IPI that schedules the target's backlog NAPI", "cpu", "cpu", "none",
       PRIO_LINK, True, True, True),
    _K("qh", "how far a CPU has processed a flow's backlog packets (rflow's input queue "
       "head, read by get_rps_cpu's migration rule)", "cpu", "cpu", "(src cpu, done)",
       PRIO_LINK, True, True, False),
    _K("rfs", "a write to rps_sock_flow_table (sock_rps_record_flow)", "cpu", "cpu",
       "(slot, value)", PRIO_LINK, False, False, False),
    _K("mig", "a reader and its socket moving to another CPU (sched_setaffinity)", "cpu",
       "cpu", "socket", PRIO_LINK, False, False, False),
    _K("xq", "a datagram handed to the CPU that owns its TX queue (dev_queue_xmit there)",
       "cpu", "cpu", "(queue, skb, hash)", PRIO_LINK, False, False, True),
    _K("wf", "sock_wfree: a sent skb's memory returned to its socket's owner", "cpu", "cpu",
       "(socket, truesize)", PRIO_LINK, True, False, False),
    _K("stall", "what a CPU paid for work run on its behalf where the state lives: "
       "__udp_enqueue_schedule_skb on a socket another CPU owns (spinning on its locks, "
       "fetching its line, freeing what the full socket dropped), dev_queue_xmit on a TX "
       "queue another CPU holds (past its entry); returned to that CPU, in softirq or in "
       "the sending task", "cpu", "cpu", "(ns, sending socket or -1)", PRIO_LINK, False,
       False, False),
    _K("tc", "igb_clean_tx_irq's effect on a TX queue another CPU transmits on: "
       "next_to_clean moved (descriptors freed), netdev_tx_completed_queue (dql_completed) "
       "and the wake of a stopped queue, seen where the queue's producer half lives",
       "cpu", "cpu", "(queue, descriptors, bytes, packets)", PRIO_LINK, True, False, True),
)}


def kinds_where(**flags) -> frozenset[str]:
    """The names of the kinds whose flags all have the given values."""
    return frozenset(k.name for k in KINDS.values()
                     if all(getattr(k, f) == v for f, v in flags.items()))


class UnknownRecord(RuntimeError):
    """A record of a kind this table does not declare, or on a link that does not carry it."""


def check_kind(kind: str, receiver: str, src: str, carries) -> RecordKind:
    """The declaration of a record `receiver` got from `src`; fails on anything else."""
    k = KINDS.get(kind)
    if k is None:
        raise UnknownRecord(f"{receiver}: a record of unknown kind {kind!r} from {src}")
    if carries and kind not in carries:
        raise UnknownRecord(f"{receiver}: a {kind} record from {src} on a link that carries "
                            f"only {', '.join(sorted(carries))}")
    return k


@functools.cache
def accepted(role: str, carries: tuple = ()) -> frozenset[str]:
    """The kinds a receiver of `role` ("cpu" or "nic") files as records from a link that
    carries `carries` (a link that does not say: all of the role's kinds). Frames that
    travel as columns ("rx") are not records."""
    mine = frozenset(k.name for k in KINDS.values() if k.dst == role and k.body != "columns")
    return mine & frozenset(carries) if carries else mine


def refuse(kind: str, receiver: str, src: str, carries) -> None:
    """A record its receiver does not accept: say why, and stop the run."""
    check_kind(kind, receiver, src, carries)            # unknown, or not on this link
    raise UnknownRecord(f"{receiver}: a {kind} record from {src}: {receiver} does not "
                        "receive that kind")


def check_link(src: str, dst: str, carries) -> None:
    """Planner side: every kind a link carries is declared, between those roles."""
    role = (lambda n: "nic" if n == "nic" else "cpu")
    for kind in carries:
        k = KINDS.get(kind)
        if k is None:
            raise UnknownRecord(f"link {src}->{dst} carries undeclared kind {kind!r}")
        if (k.src, k.dst) != (role(src), role(dst)):
            raise UnknownRecord(f"link {src}->{dst} carries {kind}, which goes "
                                f"{k.src}->{k.dst}")
