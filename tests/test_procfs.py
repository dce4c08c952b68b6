"""Exact /proc formats (kernel-spec §13)."""

from softnet.coordinator import procfs


def test_softnet_stat_15_columns_hex():
    line = procfs.softnet_stat([dict(processed=0x1234, dropped=2, time_squeeze=3,
                                     received_rps=4, flow_limit_count=5, input_qlen=6,
                                     process_qlen=7)])
    assert line == ("00001234 00000002 00000003 00000000 00000000 00000000 00000000 "
                    "00000000 00000000 00000004 00000005 0000000d 00000000 00000006 "
                    "00000007\n")


def test_softirqs_layout():
    text = procfs.softirqs([{"NET_RX": 5}, {"NET_RX": 123456}])
    lines = text.splitlines()
    assert lines[0] == " " * 20 + "CPU0       CPU1       "
    assert lines[4] == "      NET_RX:          5     123456"
    assert len(lines) == 11


def test_interrupts_line():
    text = procfs.interrupts(2, [{"irq": 66, "name": "eth0-rx-0", "hwirq": 1,
                                  "chip": "IR-PCI-MSIX-0000:01:00.0", "flow": "edge"}],
                             [{"eth0-rx-0": 42, "LOC": 7}, {"CAL": 1}])
    lines = text.splitlines()
    assert lines[0] == " " * 11 + "CPU0       CPU1       "
    # 6.6: the per-device MSI domain's chip, the MSI-X index as hwirq (devices-probe-
    # kernels.md §3.3)
    assert lines[1] == " 66:         42          0  IR-PCI-MSIX-0000:01:00.0   1-edge      " \
        "eth0-rx-0"
    assert lines[3] == "LOC:          7          0   Local timer interrupts"
    assert "CAL:          0          1   Function call interrupts" in lines
    # arch_show_interrupts (6.6): ERR and MIS, one count each, then KVM's per-CPU rows
    keys = [l.split(":")[0].strip() for l in lines[2:]]
    assert keys == ["NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TLB", "TRM",
                    "THR", "DFR", "MCE", "MCP", "ERR", "MIS", "PIN", "NPI", "PIW"]
    assert lines[-5:-3] == ["ERR:          0", "MIS:          0"]
    assert lines[-1] == "PIW:          0          0   Posted-interrupt wakeup event"


def test_net_dev_columns():
    text = procfs.net_dev([("eth0", {"rx_bytes": 1, "rx_packets": 2, "rx_dropped": 3,
                                     "rx_missed_errors": 4, "rx_fifo_errors": 5})])
    assert text.splitlines()[2] == ("  eth0:       1       2    0    7    5     0          0 "
                                    "        0        0       0    0    0    0     0       0 "
                                    "         0")


def test_net_udp_addresses_in_host_order_and_padding():
    text = procfs.net_udp([{"port": 9000, "bind_ip": "10.0.0.1", "inode": 7, "rx_queue": 4608,
                            "drops": 3}])
    line = text.splitlines()[1]
    assert line.startswith(" 9000: 0100000A:2328 00000000:0000 07 00000000:00001200 ")
    assert line.rstrip().endswith(" 7 2 0000000000000000 3") and len(line) == 127


def test_snmp_udp_lines():
    text = procfs.snmp({"InReceives": 9}, {"InDatagrams": 1, "RcvbufErrors": 2, "InErrors": 2})
    lines = text.splitlines()
    udp = [l for l in lines if l.startswith("Udp:")]
    assert udp[0] == ("Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors "
                      "SndbufErrors InCsumErrors IgnoredMulti MemErrors")
    assert udp[1] == "Udp: 1 0 2 0 2 0 0 0 0"
    assert lines[1].startswith("Ip: 2 64 9 ")


def test_net_udp_connected_state_and_peer():
    text = procfs.net_udp([{"port": 9001, "bind_ip": "10.0.0.1", "inode": 9, "rx_queue": 0,
                            "drops": 0, "rem_ip": "10.0.0.2", "rem_port": 40001}])
    assert text.splitlines()[1].startswith(" 9001: 0100000A:2329 0200000A:9C41 01 ")


def _pairs(text):
    """The file as nstat and netstat -s read it: header/value line pairs, same prefix."""
    lines = text.splitlines()
    assert len(lines) % 2 == 0
    out = {}
    for names, values in zip(lines[::2], lines[1::2]):
        k, v = names.split(), values.split()
        assert k[0] == v[0] and k[0].endswith(":") and len(k) == len(v)
        out[k[0][:-1]] = dict(zip(k[1:], map(int, v[1:])))
    return out


def test_netstat_layout_and_order():
    text = procfs.netstat({"TCPRcvQDrop": 7}, {"InOctets": 1000, "InReceives": 3})
    assert text.endswith("\n") and "  " not in text and " \n" not in text
    p = _pairs(text)
    assert list(p) == ["TcpExt", "IpExt", "MPTcpExt"]
    assert len(p["TcpExt"]) == 126 and len(p["IpExt"]) == 18 and len(p["MPTcpExt"]) == 62
    tcp = list(p["TcpExt"])
    assert tcp[:3] == ["SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed"]
    assert tcp[tcp.index("PAWSEstab") + 1] == "DelayedACKs"        # 6.6: no BeyondWindow
    assert tcp[-3:] == ["TCPMigrateReqSuccess", "TCPMigrateReqFailure", "TCPPLBRehash"]
    assert tcp[tcp.index("TCPZeroWindowDrop") + 1] == "TCPRcvQDrop"
    assert p["TcpExt"]["TCPRcvQDrop"] == 7 and sum(p["TcpExt"].values()) == 7
    assert list(p["IpExt"])[6:8] == ["InOctets", "OutOctets"]
    assert p["IpExt"]["InOctets"] == 1000 and list(p["IpExt"])[-1] == "ReasmOverlaps"
    mp = list(p["MPTcpExt"])
    assert mp[0] == "MPCapableSYNRX" and mp[-1] == "MPCurrEstab"
    assert "MPJoinSynTx" not in mp and "Blackhole" not in mp       # 6.12's
    assert not any(p["MPTcpExt"].values())
    assert text.splitlines()[0].startswith("TcpExt: SyncookiesSent ")
    assert "MPTcpExt" not in procfs.netstat({}, {}, mptcp=False)


def test_snmp_pairs_parse():
    p = _pairs(procfs.snmp({}, {}, {}))
    assert list(p) == ["Ip", "Icmp", "Tcp", "Udp", "UdpLite"]
    assert p["Tcp"]["MaxConn"] == -1 and list(p["Ip"])[-1] == "OutTransmits"


def test_stat_format():
    ms = 1_000_000
    times = [{"user": 25 * ms, "system": 15 * ms, "idle": 1000 * ms, "irq": 9 * ms,
              "softirq": 31 * ms},
             {"user": 5 * ms, "system": 9 * ms, "idle": 2000 * ms}]
    vectors = [{"irq": 66, "name": "eth0-TxRx-0", "hwirq": 1}]
    counts = [{"eth0-TxRx-0": 4, "LOC": 10, "CAL": 2, "TLB": 5}, {"RES": 1, "LOC": 3}]
    text = procfs.stat(times, vectors, counts, [{"NET_RX": 6, "TIMER": 1}, {"NET_RX": 2}],
                       ctxt=77, processes=5, procs_running=2)
    lines = text.splitlines()
    # the total converts the summed ns: 30 ms of user is 3 ticks though the CPUs' 2 + 0
    assert lines[0] == "cpu  3 0 2 300 0 0 3 0 0 0"
    assert lines[1] == "cpu0 2 0 1 100 0 0 3 0 0 0"
    assert lines[2] == "cpu1 0 0 0 200 0 0 0 0 0 0"
    intr = lines[3].split()
    # device interrupts + NMI…MCP of arch_irq_stat_cpu (TLB not) + ERR
    assert intr[0] == "intr" and intr[1] == str(4 + 10 + 2 + 1 + 3)
    assert len(intr) == 2 + procfs.nr_irqs(2) and intr[2 + 66] == "4"
    assert sum(map(int, intr[2:])) == 4
    assert lines[4:9] == ["ctxt 77", "btime 0", "processes 5", "procs_running 2",
                          "procs_blocked 0"]
    assert lines[9] == "softirq 9 0 1 0 8 0 0 0 0 0 0"
    assert len(lines) == 10 and text.endswith("\n")


def test_uptime_format():
    assert procfs.uptime(5_000_000, 9_876_543_210) == "0.00 9.87\n"
    assert procfs.uptime(123_456_789_012, 0) == "123.45 0.00\n"
