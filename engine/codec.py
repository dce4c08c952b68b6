"""Wire format of frames and control messages: msgpack, bytes kept as bytes.

Hot columns travel as raw little-endian int64 buffers (`pack_i64` / `unpack_i64`), so a
frame of thousands of records costs one memcpy to encode rather than one object each.
"""

from __future__ import annotations

from array import array
from typing import Any, Iterable

import msgpack

from .lp import Frame


def pack_frame(f: Frame) -> bytes:
    return msgpack.packb((f.src, f.promise, f.eof, f.payload), use_bin_type=True)


def unpack_frame(b: bytes) -> Frame:
    src, promise, eof, payload = msgpack.unpackb(b, raw=False, strict_map_key=False)
    return Frame(src, promise, eof, payload)


def pack_msg(kind: str, body: Any = None) -> bytes:
    return msgpack.packb((kind, body), use_bin_type=True)


def unpack_msg(b: bytes) -> tuple[str, Any]:
    kind, body = msgpack.unpackb(b, raw=False, strict_map_key=False)
    return kind, body


def pack_i64(values: Iterable[int]) -> bytes:
    return array("q", values).tobytes()


def unpack_i64(b: bytes) -> list[int]:
    a = array("q")
    a.frombytes(b)
    return a.tolist()
