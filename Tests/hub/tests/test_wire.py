"""Frame-level checks with a raw socket client (no WebSocket library in the way)."""

import asyncio
import base64
import os
import struct

import aiohttp
import pytest
from hubtest_helpers import register, wait_for

pytestmark = pytest.mark.asyncio


async def raw_upgrade(url_port, path, headers):
    r, w = await asyncio.open_connection("127.0.0.1", url_port)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{url_port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"User-Agent: Go-http-client/1.1\r\n")
    for k, v in headers.items():
        req += f"{k}: {v}\r\n"
    w.write((req + "\r\n").encode())
    head = await r.readuntil(b"\r\n\r\n")
    return r, w, head


async def read_frame(r):
    b0, b1 = await r.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", await r.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await r.readexactly(8))[0]
    assert not b1 & 0x80, "server frames are never masked"
    return bool(b0 & 0x80), b0 & 0x0F, await r.readexactly(n)


def client_frame(payload: bytes, opcode=0x2) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    hdr = bytes([0x80 | opcode, 0x80 | n]) if n < 126 else \
        bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
    return hdr + mask + masked


async def test_v2_long_write_is_fragmented_like_gorilla(hub, device_key):
    dev = await register(hub, device_key)
    port = int(hub.url.rsplit(":", 1)[1])
    r, w, head = await raw_upgrade(port, "/agent/connection",
                                   {"Authorization": "Bearer " + dev["token"]})
    assert head.startswith(b"HTTP/1.1 101")
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    opener = asyncio.create_task(hub.hub.open_session(dev["uid"], "ab" * 32))
    assert await read_frame(r) == (True, 2, bytes.fromhex("000100010000000100000000"))
    await read_frame(r)                                 # multistream, before any ACK
    await read_frame(r)
    w.write(client_frame(bytes.fromhex("000100020000000100000000")))
    w.write(client_frame(struct.pack(">BBHII", 0, 0, 0, 1, 20) + b"\x13/multistream/1.0.0\n"))
    w.write(client_frame(struct.pack(">BBHII", 0, 0, 0, 1, 17) + b"\x10/ssh/open/1.0.0\n"))
    await read_frame(r)
    await read_frame(r)
    stream = await asyncio.wait_for(opener, 5)
    await stream.write(b"x" * 3000)
    hdr = await read_frame(r)
    assert hdr == (True, 2, struct.pack(">BBHII", 0, 0, 0, 1, 3000))
    frames = [await read_frame(r) for _ in range(3)]
    assert [(f[0], f[1], len(f[2])) for f in frames] == [(False, 2, 1024), (False, 0, 1024),
                                                         (True, 0, 952)]
    w.close()


async def test_upgrade_without_websocket_headers(hub, device_key):
    dev = await register(hub, device_key)
    async with aiohttp.ClientSession() as s:
        for path in ("/agent/connection", "/ssh/connection"):
            async with s.get(hub.url + path,
                             headers={"Authorization": "Bearer " + dev["token"]}) as r:
                assert r.status == 400
            async with s.get(hub.url + path) as r:
                assert r.status == 401


async def test_v2_truncated_and_oversized_input(hub, device_key):
    dev = await register(hub, device_key)
    port = int(hub.url.rsplit(":", 1)[1])
    # a stream is open; the agent then sends more data than the window allows
    r, w, head = await raw_upgrade(port, "/agent/connection",
                                   {"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    task = asyncio.create_task(hub.hub.devices[dev["uid"]].tunnel.session.open_stream())
    await read_frame(r)
    w.write(client_frame(bytes.fromhex("000100020000000100000000")))
    await asyncio.wait_for(task, 5)
    big = b"y" * 60000
    for _ in range(5):                                  # 300,000 > 262,144 bytes of window
        w.write(client_frame(struct.pack(">BBHII", 0, 0, 0, 1, len(big))))
        w.write(client_frame(big))
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    assert "window" in hub.device(dev["uid"]).last_close_reason
    w.close()
    # half a header, then the connection drops
    r, w, head = await raw_upgrade(port, "/agent/connection",
                                   {"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    w.write(client_frame(b"\x00\x02\x00"))
    w.close()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    async with aiohttp.ClientSession() as s:
        async with s.get(hub.url + "/info") as resp:
            assert resp.status == 200
