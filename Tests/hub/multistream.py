"""multistream-select 1.0, dialer side (go-multistream v0.6.1 SelectProtoOrFail)."""

from __future__ import annotations

import json

PROTOCOL_ID = "/multistream/1.0.0"
SSH_OPEN = "/ssh/open/1.0.0"
SSH_CLOSE = "/ssh/close/1.0.0"
HTTP_PROXY = "/http/proxy/1.0.0"
MAX_MESSAGE = 1024


class MultistreamError(Exception):
    """The listener sent a bad header, refused the protocol (`na`) or broke framing."""


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def message(text: str) -> bytes:
    body = text.encode() + b"\n"
    return uvarint(len(body)) + body


async def read_message(stream) -> str:
    n, shift = 0, 0
    for _ in range(10):
        b = (await stream.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    else:
        raise MultistreamError("varint too long")
    if n == 0 or n > MAX_MESSAGE:
        raise MultistreamError(f"message length {n}")
    body = await stream.readexactly(n)
    if not body.endswith(b"\n"):
        raise MultistreamError("message without trailing newline")
    return body[:-1].decode("utf-8", "replace")


async def select(stream, proto: str) -> None:
    """Header and protocol id in one write, then expect the header and the echo."""
    await stream.write(message(PROTOCOL_ID) + message(proto))
    head = await read_message(stream)
    if head != PROTOCOL_ID:
        raise MultistreamError(f"bad header {head!r}")
    answer = await read_message(stream)
    if answer == "na":
        raise MultistreamError(f"protocol {proto} not supported by agent")
    if answer != proto:
        raise MultistreamError(f"unexpected answer {answer!r}")


def header_line(obj: dict) -> bytes:
    """Go's json.Encoder output: compact JSON + '\\n'."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"
