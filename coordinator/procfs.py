"""The kernel's own text formats (kernel-spec §13, L6.6), byte for byte.

Every function takes counters already summed the way the kernel sums them when the file
is read (per-CPU values, or totals) and returns the file's text.
"""

from __future__ import annotations

import ipaddress

SOFTIRQ_ROWS = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
                "HRTIMER", "RCU")

# arch/x86/kernel/irq.c arch_show_interrupts (6.6), a distro config on bare metal: KVM and
# AMD MCE compiled in; no PLT (x86_platform_ipi_callback unset), no HYP/HRE/HVS (no
# hypervisor vectors). ERR and MIS (one global count each) come before KVM's rows.
X86_ROWS = (("NMI", "Non-maskable interrupts"), ("LOC", "Local timer interrupts"),
            ("SPU", "Spurious interrupts"), ("PMI", "Performance monitoring interrupts"),
            ("IWI", "IRQ work interrupts"), ("RTR", "APIC ICR read retries"),
            ("RES", "Rescheduling interrupts"), ("CAL", "Function call interrupts"),
            ("TLB", "TLB shootdowns"), ("TRM", "Thermal event interrupts"),
            ("THR", "Threshold APIC interrupts"), ("DFR", "Deferred Error APIC interrupts"),
            ("MCE", "Machine check exceptions"), ("MCP", "Machine check polls"))
X86_GLOBAL_ROWS = ("ERR", "MIS")          # irq_err_count, irq_mis_count: "%*s: %10u\n"
X86_KVM_ROWS = (("PIN", "Posted-interrupt notification event"),
                ("NPI", "Nested posted-interrupt event"),
                ("PIW", "Posted-interrupt wakeup event"))
# arch_irq_stat_cpu (6.6): the per-CPU rows /proc/stat's `intr` total adds (not TLB, DFR
# or KVM's); arch_irq_stat adds ERR
ARCH_IRQ_STAT_CPU = ("NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TRM", "THR",
                     "MCE", "MCP")


def _era(kernel: str) -> str:
    """Where a format changed between 3.10/3.13 and 6.6 (the two 3.x lists agree)."""
    return "6.6" if kernel == "6.6" else "3.x"


def softnet_stat(per_cpu: list[dict], columns: int = 15) -> str:
    """/proc/net/softnet_stat: one line per online CPU, %08x. 15 columns (6.6); 3.13's 11
    end at flow_limit_count and 3.10's 10 at received_rps (devices-probe-kernels.md §4.3).
    Column 9 is cpu_collision there: sch_direct_xmit's NETDEV_TX_LOCKED, which only an
    LLTX driver returns, and none of the modelled drivers is one, so it stays 0."""
    lines = []
    for idx, s in enumerate(per_cpu):
        cols = (s["processed"], s["dropped"], s["time_squeeze"], 0, 0, 0, 0, 0, 0,
                s["received_rps"], s["flow_limit_count"], s["input_qlen"] + s["process_qlen"],
                idx, s["input_qlen"], s["process_qlen"])[:columns]
        lines.append(" ".join(f"{c & 0xFFFFFFFF:08x}" for c in cols) + "\n")
    return "".join(lines)


def softirq_names(block_iopoll: bool = False) -> tuple[str, ...]:
    """softirq_to_name: 3.x calls the IRQ_POLL vector BLOCK_IOPOLL."""
    return tuple("BLOCK_IOPOLL" if block_iopoll and n == "IRQ_POLL" else n
                 for n in SOFTIRQ_ROWS)


def softirqs(per_cpu: list[dict], block_iopoll: bool = False) -> str:
    out = " " * 20 + "".join(f"CPU{i:<8d}" for i in range(len(per_cpu))) + "\n"
    for key, name in zip(SOFTIRQ_ROWS, softirq_names(block_iopoll)):
        out += f"{name:>12s}:" + "".join(f" {c.get(key, 0):10d}" for c in per_cpu) + "\n"
    return out


def nr_irqs(ncpus: int) -> int:
    """x86 arch_probe_nr_irqs with one 24-pin IO-APIC: (24 + 16) + 8n + 24*16."""
    return (24 + 16) + 8 * ncpus + 24 * 16


def interrupts(ncpus: int, vectors: list[dict], counts: list[dict],
               kernel: str = "6.6") -> str:
    """/proc/interrupts: the NIC's lines, then x86's per-CPU rows (3.x's: the same up to
    MCP, without DFR — AMD's deferred-error vector came later — and KVM's posted-interrupt
    rows; two x86 irq.c copies either side of 3.13 were read, kernel-spec §13.6).
    `vectors`: {irq, name, chip, hwirq, flow}; `counts[cpu]`: counter name -> count."""
    old = _era(kernel) != "6.6"
    prec = 3
    n = nr_irqs(ncpus)
    while prec < 10 and 10 ** prec <= n:
        prec += 1
    out = " " * (prec + 8) + "".join(f"CPU{i:<8d}" for i in range(ncpus)) + "\n"
    for v in vectors:
        out += f"{v['irq']:>{prec}d}: "
        out += "".join(f"{counts[c].get(v['name'], 0):10d} " for c in range(ncpus))
        if v["hwirq"] is None:       # 3.x: irq_print_chip's " IR-%s", no hwirq
            out += f" {v['chip']}-{v['flow']:<8s}  {v['name']}\n"
        else:
            out += f" {v['chip']:>8s} {v['hwirq']:>{prec}d}-{v['flow']:<8s}  {v['name']}\n"
    def row(key, desc):
        return (f"{key:>{prec}s}: " + "".join(f"{counts[c].get(key, 0):10d} "
                                              for c in range(ncpus)) + f"  {desc}\n")
    out += "".join(row(key, desc) for key, desc in X86_ROWS if not (old and key == "DFR"))
    out += "".join(f"{key:>{prec}s}: {0:10d}\n" for key in X86_GLOBAL_ROWS)
    if not old:
        out += "".join(row(key, desc) for key, desc in X86_KVM_ROWS)
    return out


def net_dev(devs: list[tuple[str, dict]]) -> str:
    out = ("Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
           "packets errs drop fifo colls carrier compressed\n")
    for name, s in devs:
        g = lambda k: s.get(k, 0)  # noqa: E731
        out += ("%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n" % (
            name, g("rx_bytes"), g("rx_packets"), g("rx_errors"),
            g("rx_dropped") + g("rx_missed_errors"), g("rx_fifo_errors"),
            g("rx_length_errors") + g("rx_over_errors") + g("rx_crc_errors")
            + g("rx_frame_errors"),
            g("rx_compressed"), g("multicast"), g("tx_bytes"), g("tx_packets"),
            g("tx_errors"), g("tx_dropped"), g("tx_fifo_errors"), g("collisions"),
            g("tx_carrier_errors") + g("tx_aborted_errors") + g("tx_window_errors")
            + g("tx_heartbeat_errors"),
            g("tx_compressed")))
    return out


# net/ipv4/proc.c (6.6). OutTransmits (IPSTATS_MIB_OUTPKTS) and the ICMP
# OutRateLimitGlobal/Host counters are in 6.6's lists [version boundary unverified].
IP_HEADER = ("Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams "
             "InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes "
             "ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates "
             "OutTransmits").split()
ICMP_HEADER = ("InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs "
               "InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps "
               "InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal "
               "OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs "
               "OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps "
               "OutAddrMasks OutAddrMaskReps").split()
TCP_HEADER = ("RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails "
              "EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts "
              "InCsumErrors").split()
UDP_HEADER = ("InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors "
              "InCsumErrors IgnoredMulti MemErrors").split()
# 3.10's net/ipv4/proc.c (the v3.10 tree read): no OutTransmits, no ICMP rate-limit
# counters, Udp without IgnoredMulti and MemErrors (devices-probe-kernels.md §4.4). 3.13's
# file was not read; these lists are taken for it too (its Udp line is verified the same).
SNMP_HEADERS = {
    "6.6": (IP_HEADER, ICMP_HEADER, TCP_HEADER, UDP_HEADER),
    "3.x": (IP_HEADER[:-1], [h for h in ICMP_HEADER if not h.startswith("OutRateLimit")],
            TCP_HEADER, UDP_HEADER[:7]),
}



def snmp(ip: dict, udp: dict, tcp_mib: dict | None = None, forwarding: bool = False,
         kernel: str = "6.6") -> str:
    def pair(name, header, values):
        return (f"{name}: " + " ".join(header) + "\n"
                + f"{name}: " + " ".join(str(v) for v in values) + "\n")
    ip_h, icmp_h, tcp_h, udp_h = SNMP_HEADERS[_era(kernel)]
    ipv = dict(ip)
    ipv["Forwarding"] = 1 if forwarding else 2
    ipv["DefaultTTL"] = 64
    tcp = {"RtoAlgorithm": 1, "RtoMin": 200, "RtoMax": 120000, "MaxConn": -1,
           **(tcp_mib or {})}
    return (pair("Ip", ip_h, [ipv.get(k, 0) for k in ip_h])
            + pair("Icmp", icmp_h, [0] * len(icmp_h))
            + pair("Tcp", tcp_h, [tcp.get(k, 0) for k in tcp_h])
            + pair("Udp", udp_h, [udp.get(k, 0) for k in udp_h])
            + pair("UdpLite", udp_h, [0] * len(udp_h)))


# /proc/net/netstat (6.6.y): net/ipv4/proc.c snmp4_net_list (TcpExt) and
# snmp4_ipextstats_list (IpExt), names from include/uapi/linux/snmp.h, in their order.
TCPEXT_HEADER = (
    "SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned "
    "OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled "
    "PAWSActive PAWSEstab DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows "
    "ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery "
    "TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo "
    "TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures "
    "TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes "
    "TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed "
    "TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv "
    "TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger "
    "TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard "
    "TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound "
    "TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback "
    "TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter "
    "TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce "
    "TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive "
    "TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail "
    "TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole "
    "TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv "
    "TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent "
    "TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd "
    "TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 "
    "TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail "
    "TCPMTUPSuccess TCPDelivered TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop "
    "TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey TcpTimeoutRehash "
    "TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious TCPMigrateReqSuccess "
    "TCPMigrateReqFailure TCPPLBRehash").split()
IPEXT_HEADER = ("InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts "
                "InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets "
                "InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts "
                "ReasmOverlaps").split()
# 3.10's snmp4_net_list and snmp4_ipextstats_list (the v3.10 tree read). 3.13's were not
# read: it is given 3.10's lists with BusyPollRxPackets appended (busy polling and its
# counter came in 3.11, appended after TCPSpuriousRtxHostQueues; the later counters
# TCPAutoCorking, the zero-window ones, TCPSynRetrans and TCPOrigDataSent follow it in a
# tree with backports, and are taken as after 3.13)
TCPEXT_HEADER_310 = (
    "SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned "
    "OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled "
    "PAWSPassive PAWSActive PAWSEstab DelayedACKs DelayedACKLocked DelayedACKLost "
    "ListenOverflows ListenDrops TCPPrequeued TCPDirectCopyFromBacklog "
    "TCPDirectCopyFromPrequeue TCPPrequeueDropped TCPHPHits TCPHPHitsToUser TCPPureAcks "
    "TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPFACKReorder "
    "TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo "
    "TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures "
    "TCPFastRetrans TCPForwardRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes "
    "TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPSchedulerFailed "
    "TCPRcvCollapsed TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv "
    "TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger "
    "TCPAbortFailed TCPMemoryPressures TCPSACKDiscard TCPDSACKIgnoredOld "
    "TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPSackShifted "
    "TCPSackMerged TCPSackShiftFallback TCPBacklogDrop TCPMinTTLDrop TCPDeferAcceptDrop "
    "IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop "
    "TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK "
    "TCPSYNChallenge TCPFastOpenActive TCPFastOpenPassive TCPFastOpenPassiveFail "
    "TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPSpuriousRtxHostQueues").split()
IPEXT_HEADER_310 = IPEXT_HEADER[:13]          # … InCsumErrors: no ECN counters yet
NETSTAT_HEADERS = {"6.6": (TCPEXT_HEADER, IPEXT_HEADER),
                   "3.10": (TCPEXT_HEADER_310, IPEXT_HEADER_310),
                   "3.13": (TCPEXT_HEADER_310 + ["BusyPollRxPackets"], IPEXT_HEADER_310)}
# net/mptcp/mib.c mptcp_snmp_list as 6.6.y has it (CONFIG_MPTCP=y, as distro kernels
# build it): 6.6.0's list plus the stable backports of MPJoinSyn{,Ack}BackupRx (mainline
# 6.11), DSSCorruption{Fallback,Reset} (6.12) and MPCurrEstab (6.8; in 6.6.19)
MPTCPEXT_HEADER = (
    "MPCapableSYNRX MPCapableSYNTX MPCapableSYNACKRX MPCapableACKRX MPCapableFallbackACK "
    "MPCapableFallbackSYNACK MPFallbackTokenInit MPTCPRetrans MPJoinNoTokenFound "
    "MPJoinSynRx MPJoinSynBackupRx MPJoinSynAckRx MPJoinSynAckBackupRx "
    "MPJoinSynAckHMacFailure MPJoinAckRx MPJoinAckHMacFailure DSSNotMatching "
    "DSSCorruptionFallback DSSCorruptionReset InfiniteMapTx InfiniteMapRx DSSNoMatchTCP "
    "DataCsumErr OFOQueueTail OFOQueue OFOMerge NoDSSInWindow DuplicateData AddAddr "
    "AddAddrTx AddAddrTxDrop EchoAdd EchoAddTx EchoAddTxDrop PortAdd AddAddrDrop "
    "MPJoinPortSynRx MPJoinPortSynAckRx MPJoinPortAckRx MismatchPortSynRx "
    "MismatchPortAckRx RmAddr RmAddrDrop RmAddrTx RmAddrTxDrop RmSubflow MPPrioTx MPPrioRx "
    "MPFailTx MPFailRx MPFastcloseTx MPFastcloseRx MPRstTx MPRstRx RcvPruned SubflowStale "
    "SubflowRecover SndWndShared RcvWndShared RcvWndConflictUpdate RcvWndConflict "
    "MPCurrEstab").split()


def netstat(tcpext: dict, ipext: dict, mptcp: bool = True, kernel: str = "6.6") -> str:
    """/proc/net/netstat: net/ipv4/proc.c netstat_seq_show — a line of names then one of
    values (%lu) for TcpExt and IpExt, then net/mptcp/mib.c mptcp_seq_show's MPTcpExt
    pair (printed whenever the kernel has MPTCP; zeros until a socket allocates the MIB).
    Counters softnet does not keep are 0."""
    def pair(name, header, values):
        return (f"{name}:" + "".join(f" {k}" for k in header) + "\n"
                + f"{name}:" + "".join(f" {values.get(k, 0)}" for k in header) + "\n")
    tcpext_h, ipext_h = NETSTAT_HEADERS[kernel]
    return (pair("TcpExt", tcpext_h, tcpext) + pair("IpExt", ipext_h, ipext)
            + (pair("MPTcpExt", MPTCPEXT_HEADER, {}) if mptcp else ""))


USER_HZ = 100
STAT_TIMES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest",
              "guest_nice")


def _clock_t(ns: int) -> int:
    """nsec_to_clock_t: ns in USER_HZ ticks, rounded down."""
    return ns // (1_000_000_000 // USER_HZ)


def stat(times: list[dict], vectors: list[dict], counts: list[dict], softirqs: list[dict],
         ctxt: int, processes: int, procs_running: int, procs_blocked: int = 0,
         btime: int = 0) -> str:
    """/proc/stat as fs/proc/stat.c show_stat (6.6) prints it. `times[cpu]`: ns per
    STAT_TIMES field (missing: 0); the `cpu` line converts the sum over CPUs, each `cpuN`
    line its own. `intr`: the total (device interrupts handled on every CPU, plus
    arch_irq_stat_cpu's rows of `counts`, plus ERR) then one count per IRQ number below
    nr_irqs; `vectors`/`counts` as for interrupts(). `softirq`: the total, then the ten
    vectors summed over CPUs (the same counts as /proc/softirqs)."""
    ncpus = len(times)

    def cpu_line(label, t):
        return label + "".join(f" {_clock_t(t.get(k, 0))}" for k in STAT_TIMES) + "\n"
    total = {k: sum(t.get(k, 0) for t in times) for k in STAT_TIMES}
    out = cpu_line("cpu ", total)
    out += "".join(cpu_line(f"cpu{i}", t) for i, t in enumerate(times))
    n = nr_irqs(ncpus)
    per_irq = [0] * n
    for v in vectors:
        if v["irq"] < n:
            per_irq[v["irq"]] += sum(counts[c].get(v["name"], 0) for c in range(ncpus))
    intr = (sum(per_irq) + sum(counts[c].get(k, 0) for c in range(ncpus)
                               for k in ARCH_IRQ_STAT_CPU))
    out += f"intr {intr}" + "".join(f" {x}" for x in per_irq) + "\n"
    out += (f"ctxt {ctxt}\nbtime {btime}\nprocesses {processes}\n"
            f"procs_running {procs_running}\nprocs_blocked {procs_blocked}\n")
    per_vec = [sum(s.get(name, 0) for s in softirqs) for name in SOFTIRQ_ROWS]
    out += f"softirq {sum(per_vec)}" + "".join(f" {x}" for x in per_vec) + "\n"
    return out


def uptime(uptime_ns: int, idle_ns: int) -> str:
    """/proc/uptime (fs/proc/uptime.c): seconds since boot and the idle time summed over
    CPUs, each "%lu.%02lu" (hundredths rounded down)."""
    def f(ns):
        return f"{ns // 1_000_000_000}.{ns % 1_000_000_000 // 10_000_000:02d}"
    return f"{f(uptime_ns)} {f(idle_ns)}\n"


def _hex_addr(ip: str) -> str:
    """A __be32 printed with %08X on a little-endian host."""
    return f"{int.from_bytes(ipaddress.IPv4Address(ip).packed, 'little'):08X}"


def net_udp(socks: list[dict], kernel: str = "6.6") -> str:
    """/proc/net/udp (udp4_format_sock), lines padded to 127 characters; 3.10's header
    starts a column further left ("  sl")."""
    out = (("   sl" if _era(kernel) == "6.6" else "  sl") + "  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
           "   uid  timeout inode ref pointer drops").ljust(127) + "\n"
    for s in socks:
        rem_ip, rem_port = s.get("rem_ip") or "0.0.0.0", s.get("rem_port") or 0
        state = 0x01 if s.get("rem_ip") else 0x07     # TCP_ESTABLISHED / TCP_CLOSE
        line = ("%5d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5u %8d %u %d %s %u" % (
            s["port"] & 0xFFFF, _hex_addr(s["bind_ip"]), s["port"], _hex_addr(rem_ip),
            rem_port, state, s.get("tx_queue", 0), s["rx_queue"], 0, 0, 0, 0, 0,
            s["inode"], 2, "0000000000000000", s["drops"]))
        out += line.ljust(127) + "\n"
    return out


def _sprint_size(sz: int) -> str:
    """iproute2's sprint_size: bytes as b, Kb or Mb (powers of 1024), as tc prints them."""
    if sz >= 1024 * 1024 and abs(1024 * 1024 * round(sz / (1024 * 1024)) - sz) < 1024:
        return f"{round(sz / (1024 * 1024)):g}Mb"
    if sz >= 1024 and abs(1024 * round(sz / 1024) - sz) < 16:
        return f"{round(sz / 1024):g}Kb"
    return f"{sz}b"


def _sprint_time(us: int) -> str:
    """iproute2's sprint_time (lib/utils.c print_time): microseconds as s, ms (%.3g) or
    us — the kernel's 4999 us (codel time of 5 ms) prints as 5ms."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:.3g}s"
    if us >= 1000:
        return f"{us / 1000:.3g}ms"
    return f"{us}us"


# fq_codel_init's options, as `tc` is told them (target/interval via codel_time_to_us)
FQ_CODEL_OPTS = {"limit": 10240, "flows": 1024, "quantum": 1514, "target_us": 4999,
                 "interval_us": 99999, "memory_limit": 32 << 20, "ecn": True,
                 "drop_batch": 64}


def _fq_codel_opts(q: dict) -> str:
    """tc/q_fq_codel.c fq_codel_print_opt (ce_threshold is off, so not dumped)."""
    return (f"limit {q['limit']}p flows {q['flows']} quantum {q['quantum']} "
            f"target {_sprint_time(q['target_us'])} "
            f"interval {_sprint_time(q['interval_us'])} "
            f"memory_limit {_sprint_size(q['memory_limit'])} "
            + ("ecn " if q["ecn"] else "")
            + (f"drop_batch {q['drop_batch']} " if q["drop_batch"] else ""))


def _fq_codel_xstats(q: dict) -> str:
    """tc/q_fq_codel.c fq_codel_print_xstats (TCA_FQ_CODEL_XSTATS_QDISC)."""
    out = (f"  maxpacket {q['maxpacket']} drop_overlimit {q['drop_overlimit']} "
           f"new_flow_count {q['new_flow_count']} ecn_mark {q['ecn_mark']}")
    if q["ce_mark"]:
        out += f" ce_mark {q['ce_mark']}"
    if q["memory_used"]:
        out += f" memory_used {q['memory_used']}"
    if q["drop_overmemory"]:
        out += f" drop_overmemory {q['drop_overmemory']}"
    return out + (f"\n  new_flows_len {q['new_flows_len']} "
                  f"old_flows_len {q['old_flows_len']}\n")


def tc_qdisc(children: list[dict | None], kind: str = "pfifo_fast",
             fq_codel: dict | None = None) -> str:
    """`tc -s qdisc show dev eth0`: the root mq with its statistics summed over the
    children, then one `kind` qdisc (net.core.default_qdisc) per TX queue (parent :N,
    N = queue + 1, in hex). fq_codel adds its options and xstats (tc/q_fq_codel.c)."""
    zero = {"bytes": 0, "packets": 0, "drops": 0, "overlimits": 0, "requeues": 0,
            "backlog": 0, "qlen": 0}
    if kind == "fq_codel":
        opts = dict(FQ_CODEL_OPTS)
        if fq_codel:                   # the configured options, as the kernel dumps them
            opts.update({k: v for k, v in fq_codel.items()
                         if k not in ("target_us", "interval_us")})
            for k in ("target_us", "interval_us"):
                opts[k] = ((fq_codel[k] * 1000) >> 10 << 10) // 1000
        zero = {**zero, **opts, "maxpacket": 0, "drop_overlimit": 0, "new_flow_count": 0,
                "ecn_mark": 0, "ce_mark": 0, "memory_used": 0, "drop_overmemory": 0,
                "new_flows_len": 0, "old_flows_len": 0}
    kids = [c or zero for c in children]

    def stats(q: dict) -> str:
        return (f" Sent {q['bytes']} bytes {q['packets']} pkt (dropped {q['drops']}, "
                f"overlimits {q['overlimits']} requeues {q['requeues']}) \n"
                f" backlog {_sprint_size(q['backlog'])} {q['qlen']}p requeues "
                f"{q['requeues']}\n")

    def child(q: dict, where: str) -> str:
        if kind == "fq_codel":
            return (f"qdisc fq_codel 0: {where}{_fq_codel_opts(q)}\n" + stats(q)
                    + _fq_codel_xstats(q))
        return (f"qdisc pfifo_fast 0: {where}bands 3 priomap "
                "1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n" + stats(q))
    out = ""
    if len(kids) > 1:
        root = {k: sum(q[k] for q in kids) for k in ("bytes", "packets", "drops",
                                                     "overlimits", "requeues", "backlog",
                                                     "qlen")}
        out += "qdisc mq 0: root \n" + stats(root)
        for i, q in enumerate(kids):
            out += child(q, f"parent :{i + 1:x} ")
    else:
        out += child(kids[0], "root refcnt 2 ")
    return out


def ethtool_s(stats: list[tuple[str, int]]) -> str:
    return "NIC statistics:\n" + "".join(f"     {k}: {v}\n" for k, v in stats)
