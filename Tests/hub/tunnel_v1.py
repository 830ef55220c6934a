"""Transport v1: `/ssh/connection` control + `/ssh/revdial` dial-backs (pkg/revdial)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid

from aiohttp import WSMsgType, web

from .webproxy import ANSWER_TIMEOUT, ProxyRefused, read_v1_answer
from .wsio import send_binary

log = logging.getLogger("hub.v1")

KEEP_ALIVE = b'{"command":"keep-alive"}\n'


def request_head(path: str, method: str = "GET") -> bytes:
    """Go's http.Request.Write with an empty Host."""
    return (f"{method} {path} HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\n\r\n"
            ).encode()


class DialbackStream:
    """Byte stream over one dial-back WebSocket (binary messages, boundaries meaningless)."""

    def __init__(self, ws: web.WebSocketResponse, dev, transport, fragment: int = 0):
        self.fragment = fragment
        self.ws = ws
        self.dev = dev
        self.transport = transport
        self._buf = bytearray()
        self._event = asyncio.Event()
        self.eof = False
        self.done = asyncio.Event()

    def _feed(self, data: bytes) -> None:
        self.dev.counters["dialback_up"] += len(data)
        self._buf += data
        self._event.set()

    def _eof(self) -> None:
        self.eof = True
        self._event.set()

    async def read(self, n: int = 65536) -> bytes:
        while not self._buf:
            if self.eof:
                return b""
            self._event.clear()
            await self._event.wait()
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk

    async def readexactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            c = await self.read(n - len(out))
            if not c:
                raise ConnectionError("EOF")
            out += c
        return bytes(out)

    async def write(self, data: bytes) -> None:
        if self.eof and self.ws.closed:
            raise ConnectionError("dial-back closed")
        await send_binary(self.ws, data, self.fragment)
        self.dev.counters["dialback_down"] += len(data)

    async def close(self) -> None:
        self.done.set()
        if self.transport is not None:
            self.transport.close()

    abort = close


class TunnelV1:
    version = 1

    def __init__(self, hub, dev, ws: web.WebSocketResponse, transport):
        self.hub = hub
        self.dev = dev
        self.ws = ws
        self.transport = transport
        self.dialer_id = secrets.token_hex(16)
        self.pending: dict[str, asyncio.Future] = {}
        self.sessions: dict[str, DialbackStream] = {}
        self.closed_reason = ""
        self._lock = asyncio.Lock()
        self._line = bytearray()
        self.agent_messages: list = []

    async def _send(self, data: bytes) -> None:
        async with self._lock:
            await send_binary(self.ws, data, self.hub.cfg.ws_fragment)
        self.dev.counters["tunnel_down"] += len(data)

    async def run(self) -> str:
        loop = asyncio.get_running_loop()
        self.last_pong = loop.time()
        tasks = [asyncio.create_task(self._keepalive_loop()),
                 asyncio.create_task(self._ping_loop()),
                 asyncio.create_task(self._pong_watchdog())]
        try:
            await self._send(KEEP_ALIVE)
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    self.dev.counters["tunnel_up"] += len(msg.data)
                    self._on_bytes(msg.data)
                elif msg.type == WSMsgType.PING:
                    self.dev.counters["tunnel_up"] += len(msg.data)
                    await self.ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    self.last_pong = loop.time()
                    self.dev.pongs += 1
                    self.dev.heartbeat()
                elif msg.type == WSMsgType.TEXT:
                    self.close("text message on the tunnel")
                    break
                else:
                    break
        except (ConnectionError, asyncio.CancelledError) as e:
            self.close(f"connection error: {e!r}")
        finally:
            for t in tasks:
                t.cancel()
            self.close("connection closed by agent")
        return self.closed_reason

    def _on_bytes(self, data: bytes) -> None:
        self._line += data
        while b"\n" in self._line:
            line, _, rest = bytes(self._line).partition(b"\n")
            self._line = bytearray(rest)
            try:
                msg = json.loads(line)
            except ValueError:
                log.warning("%s: bad control line %r", self.dev.name, line[:80])
                continue
            self.agent_messages.append(msg)
            if isinstance(msg, dict) and msg.get("command") == "pickup-failed":
                log.warning("%s: pickup failed: %s", self.dev.name, msg.get("err"))
        if len(self._line) > 65536:
            self._line.clear()

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.cfg.v1_keepalive_interval)
            await self._send(KEEP_ALIVE)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.cfg.v1_ping_interval)
            async with self._lock:
                await self.ws.ping(b"")

    async def _pong_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.hub.cfg.v1_pong_timeout
        while True:
            left = self.last_pong + timeout - loop.time()
            if left <= 0:
                log.warning("%s: no pong for %gs", self.dev.name, timeout)
                self.close("pong timeout")
                return
            await asyncio.sleep(min(left + 0.01, 1.0))

    def close(self, reason: str) -> None:
        if self.closed_reason:
            return
        self.closed_reason = reason
        self.hub.dialers.pop(self.dialer_id, None)
        for f in self.pending.values():
            if not f.done():
                f.set_exception(ConnectionError("control connection closed"))
                f.exception()
        if self.transport is not None:
            self.transport.close()

    async def _pickup(self) -> DialbackStream:
        if self.closed_reason:
            raise ConnectionError("tunnel closed")
        u = str(uuid.uuid4())
        fut = asyncio.get_running_loop().create_future()
        self.pending[u] = fut
        path = f"/ssh/revdial?revdial.dialer={self.dialer_id}&uuid={u}"
        msg = json.dumps({"command": "conn-ready", "connPath": path},
                         separators=(",", ":")).encode() + b"\n"
        try:
            await self._send(msg)
            await self._send(KEEP_ALIVE)
            return await asyncio.wait_for(fut, self.hub.cfg.dialback_timeout)
        finally:
            self.pending.pop(u, None)

    async def open_session(self, sid: str) -> DialbackStream:
        stream = await self._pickup()
        await stream.write(request_head(f"/ssh/{sid}"))
        self.sessions[sid] = stream
        stream.done_cb = lambda: self.sessions.pop(sid, None)
        return stream

    async def close_session(self, sid: str) -> bytes:
        stream = await self._pickup()
        await stream.write(request_head(f"/ssh/close/{sid}"))
        try:
            reply = await asyncio.wait_for(stream.read(4096), 5)
        except asyncio.TimeoutError:
            reply = b""
        await stream.close()
        return reply

    async def open_proxy(self, rid: str, host: str, port: int):
        """`CONNECT /http/proxy/<host>:<port>` on a dial-back: returns (stream, bytes after the
        200 head, the head as text) or raises ProxyRefused (the dial-back is then closed).
        `rid` has no place on the v1 wire."""
        stream = await self._pickup()
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            await stream.write(request_head(f"/http/proxy/{hostport}", "CONNECT"))
            status, head, rest = await asyncio.wait_for(read_v1_answer(stream), ANSWER_TIMEOUT)
        except BaseException as e:
            await stream.close()
            if isinstance(e, (ConnectionError, ValueError)):
                raise ProxyRefused("", f"no answer: {e}") from None
            raise
        if status != 200:
            await stream.close()
            text = (head + rest).decode("utf-8", "replace")
            raise ProxyRefused(text, f"{status}: {rest.decode('utf-8', 'replace').strip()}")
        return stream, rest, head.decode("latin-1")

    def deliver(self, u: str, stream: DialbackStream) -> bool:
        fut = self.pending.get(u)
        if fut is None or fut.done():
            return False
        fut.set_result(stream)
        return True
