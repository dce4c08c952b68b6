"""The Toeplitz hash NICs use for RSS (kernel-spec §2.1).

For every 1-bit of the input, most significant bit of the first byte first, XOR in the 32
key bits that start at that bit position. Same semantics as the kernel's reference
`xen_netif_toeplitz_hash()`; checked against Microsoft's verification vectors in tests.
"""

from __future__ import annotations

import ipaddress
import re

_HKEY = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})*")

# Microsoft's RSS verification key (spec §2.3).
MS_RSS_KEY = bytes.fromhex(
    "6d5a56da255b0ec241672" "53d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")


def toeplitz(key: bytes, data: bytes) -> int:
    if len(key) < len(data) + 4:
        raise ValueError(f"Toeplitz key of {len(key)} bytes is too short for {len(data)} "
                         f"input bytes (needs {len(data) + 4})")
    nbits = 8 * len(key)
    k = int.from_bytes(key, "big")
    result = 0
    bit = 0
    for byte in data:
        for j in range(7, -1, -1):
            if byte >> j & 1:
                result ^= (k >> (nbits - 32 - bit)) & 0xFFFFFFFF
            bit += 1
    return result


def rss_input(src: str, dst: str, sport: int | None, dport: int | None) -> bytes:
    """Hash input layout (spec §2.1): SrcIP ‖ DstIP [‖ SrcPort ‖ DstPort], network order."""
    out = ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
    if sport is not None and dport is not None:
        out += sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return out


def parse_hkey(text: str) -> bytes:
    """ethtool -X hkey syntax: colon-separated bytes of exactly two hex digits each, as
    ethtool's convert_string_to_hashkey reads them (no sign, prefix or spaces)."""
    if not _HKEY.fullmatch(text):
        raise ValueError(f"{text!r} is not colon-separated hex bytes of two digits each "
                         "(e.g. '6d:5a:56:…')")
    return bytes.fromhex(text.replace(":", ""))
