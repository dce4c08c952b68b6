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
    text = procfs.interrupts(2, [{"irq": 66, "name": "eth0-rx-0", "hwirq": 524289}],
                             [{"eth0-rx-0": 42, "LOC": 7}, {"CAL": 1}])
    lines = text.splitlines()
    assert lines[0] == " " * 11 + "CPU0       CPU1       "
    assert lines[1] == " 66:         42          0  IR-PCI-MSI 524289-edge      eth0-rx-0"
    assert lines[3] == "LOC:          7          0   Local timer interrupts"
    assert "CAL:          0          1   Function call interrupts" in lines
    assert lines[-1] == "MIS:          0"


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
