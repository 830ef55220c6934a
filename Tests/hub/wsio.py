"""Server-side WebSocket writes shaped like gorilla/websocket's (ShellHub's upgrader).

gorilla's upgrader has a 1 KiB write buffer: each Write becomes one binary message, and a
message longer than the buffer goes out as a first frame (binary, FIN clear), continuation
frames, and a final frame with FIN set, each carrying at most 1024 payload bytes. The agent
must reassemble them; the hub reproduces this so agent WebSocket parsers meet it in tests.
"""

from __future__ import annotations

from aiohttp import web

OP_CONT, OP_BINARY = 0x0, 0x2


def frame_header(fin: bool, opcode: int, n: int) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes([b0, n])
    if n < 65536:
        return bytes([b0, 126]) + n.to_bytes(2, "big")
    return bytes([b0, 127]) + n.to_bytes(8, "big")


async def send_binary(ws: web.WebSocketResponse, data: bytes, fragment: int) -> None:
    """One binary message; fragmented into `fragment`-byte frames when longer (0 = never)."""
    if not fragment or len(data) <= fragment:
        await ws.send_bytes(data)
        return
    writer = ws._writer      # aiohttp has no API for fragmented sends
    if writer is None or writer.transport is None or writer.transport.is_closing():
        raise ConnectionResetError("websocket closed")
    out = bytearray()
    for off in range(0, len(data), fragment):
        chunk = data[off:off + fragment]
        out += frame_header(off + fragment >= len(data), OP_BINARY if off == 0 else OP_CONT,
                            len(chunk))
        out += chunk
    # one transport write: aiohttp's own control frames (pongs) cannot land inside it, although
    # RFC 6455 would allow that
    writer.transport.write(bytes(out))
    if writer.protocol._paused:
        await writer.protocol._drain_helper()
