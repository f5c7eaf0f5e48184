"""The pipe protocol between the pool (asyncio side) and a worker process.

Frame: 4-byte big-endian payload length, 1 byte kind, payload. Control messages carry JSON;
AUDIO carries ``>IQ`` (stream number, index of its first input sample) then the raw bytes.
"""

from __future__ import annotations

import enum
import json
import struct
from typing import Any

from ari_app.speech.errors import WorkerProtocolError

HEADER = struct.Struct(">IB")
AUDIO_HEADER = struct.Struct(">IQ")
MAX_FRAME = 1 << 24


class Kind(enum.IntEnum):
    # parent -> worker
    CONFIG = 1
    OPEN = 2
    AUDIO = 3
    CLOSE = 4
    PING = 5
    SHUTDOWN = 6
    # worker -> parent
    READY = 20
    SEGMENT = 21
    PROGRESS = 22
    PONG = 23
    CLOSED = 24
    ERROR = 25


def encode(kind: Kind, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def encode_json(kind: Kind, body: dict[str, Any]) -> bytes:
    return encode(kind, json.dumps(body, ensure_ascii=False).encode())


def encode_audio(stream: int, first_sample: int, data: bytes) -> bytes:
    return encode(Kind.AUDIO, AUDIO_HEADER.pack(stream, first_sample) + data)


def decode_header(header: bytes) -> tuple[int, Kind]:
    length, kind = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise WorkerProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    try:
        return length, Kind(kind)
    except ValueError:
        raise WorkerProtocolError(f"unknown frame kind {kind}") from None


def decode_json(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError:
        raise WorkerProtocolError("control frame is not JSON") from None
    if not isinstance(body, dict):
        raise WorkerProtocolError("control frame is not a JSON object")
    return body


def decode_audio(payload: bytes) -> tuple[int, int, bytes]:
    if len(payload) < AUDIO_HEADER.size:
        raise WorkerProtocolError("truncated audio frame")
    stream, first = AUDIO_HEADER.unpack_from(payload)
    return stream, first, payload[AUDIO_HEADER.size :]
