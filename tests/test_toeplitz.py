"""Toeplitz against Microsoft's published RSS verification vectors (kernel-spec §2.3)."""

import pytest

from softnet.nic.toeplitz import MS_RSS_KEY, parse_hkey, rss_input, toeplitz

# (destination, dst port, source, src port, 2-tuple hash, 4-tuple hash), as published
# (destination first; the hash input is still Src ‖ Dst ‖ SrcPort ‖ DstPort).
IPV4 = [
    ("161.142.100.80", 1766, "66.9.149.187", 2794, 0x323E8FC2, 0x51CCC178),
    ("65.69.140.83", 4739, "199.92.111.2", 14230, 0xD718262A, 0xC626B0EA),
    ("12.22.207.184", 38024, "24.19.198.95", 12898, 0xD2D0A5DE, 0x5C2B394A),
    ("209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xAFC7327F),
    ("202.188.127.2", 1303, "153.39.163.191", 44251, 0x5D1809C5, 0x10E828A2),
]
IPV6 = [
    ("3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2CC18CD5, 0x40207D3D),
    ("ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0F0C461C, 0xDDE51BBF),
    ("fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251,
     0x4B61E985, 0x02D1FEEF),
]


@pytest.mark.parametrize("dst,dport,src,sport,h2,h4", IPV4 + IPV6)
def test_published_vectors(dst, dport, src, sport, h2, h4):
    assert toeplitz(MS_RSS_KEY, rss_input(src, dst, None, None)) == h2
    assert toeplitz(MS_RSS_KEY, rss_input(src, dst, sport, dport)) == h4


def test_direction_matters_with_ms_key():
    a = rss_input("10.0.0.1", "10.0.0.2", 1, 2)
    b = rss_input("10.0.0.2", "10.0.0.1", 2, 1)
    assert toeplitz(MS_RSS_KEY, a) != toeplitz(MS_RSS_KEY, b)


def test_short_key_refused():
    with pytest.raises(ValueError, match="too short"):
        toeplitz(MS_RSS_KEY[:12], bytes(12))


def test_hkey_syntax():
    text = ":".join(f"{b:02x}" for b in MS_RSS_KEY)
    assert parse_hkey(text) == MS_RSS_KEY
    with pytest.raises(ValueError):
        parse_hkey("6d:zz:01")
