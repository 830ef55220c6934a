"""Transport v2: `/agent/connection`, yamux client + multistream dialer (server/ssh/pkg/dialer)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from . import multistream
from .webproxy import ANSWER_LIMIT, ANSWER_TIMEOUT, ProxyRefused, parse_v2_answer, read_until
from .wsio import send_binary
from .yamux import GO_AWAY_PROTO_ERR, Session, YamuxError

log = logging.getLogger("hub.v2")


class TunnelV2:
    version = 2

    def __init__(self, hub, dev, ws: web.WebSocketResponse, transport):
        self.hub = hub
        self.dev = dev
        self.ws = ws
        self.transport = transport
        self.sessions: dict[str, object] = {}
        self.session = Session(self._send, open_timeout=hub.cfg.stream_open_timeout,
                               name=dev.name, on_close=self.close)
        self.closed_reason = ""

    async def _send(self, data: bytes) -> None:
        await send_binary(self.ws, data, self.hub.cfg.ws_fragment)
        self.dev.counters["tunnel_down"] += len(data)

    async def run(self) -> str:
        pinger = asyncio.create_task(self._ping_loop())
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    self.dev.counters["tunnel_up"] += len(msg.data)
                    try:
                        for reply in self.session.feed(msg.data):
                            await reply
                    except YamuxError as e:
                        log.warning("%s: yamux error: %s", self.dev.name, e)
                        await self.session.go_away(GO_AWAY_PROTO_ERR)
                        self.close(f"yamux error: {e}")
                        break
                elif msg.type == WSMsgType.TEXT:
                    # wsconnadapter fails the connection on a text message
                    self.close("text message on the tunnel")
                    break
                else:
                    break
                if self.session.closed:
                    break
        except (ConnectionError, asyncio.CancelledError) as e:
            self.close(f"connection error: {e!r}")
        finally:
            pinger.cancel()
            self.close("connection closed by agent")
        return self.closed_reason

    async def _ping_loop(self) -> None:
        cfg = self.hub.cfg
        while not self.session.closed:
            await asyncio.sleep(cfg.ping_interval)
            try:
                await self.session.ping(cfg.ping_timeout)
            except YamuxError as e:
                log.warning("%s: %s", self.dev.name, e)
                self.close("ping timeout")
                return
            except Exception as e:  # transport gone
                self.close(f"ping failed: {e!r}")
                return
            self.dev.pings_ok += 1
            self.dev.heartbeat()

    def close(self, reason: str) -> None:
        if self.closed_reason:
            return
        self.closed_reason = reason
        self.session.close(reason)
        # Go drops TCP, no close frame.
        if self.transport is not None:
            self.transport.close()

    async def open_stream(self, proto: str, head: dict):
        stream = await self.session.open_stream()
        try:
            await asyncio.wait_for(self._handshake(stream, proto, head),
                                   self.hub.cfg.stream_handshake_timeout)
        except BaseException:
            try:
                await stream.abort()
            except Exception:
                pass
            raise
        return stream

    @staticmethod
    async def _handshake(stream, proto, head):
        await multistream.select(stream, proto)
        await stream.write(multistream.header_line(head))

    async def open_session(self, sid: str):
        stream = await self.open_stream(multistream.SSH_OPEN, {"id": sid})
        self.sessions[sid] = stream
        return _TrackedStream(stream, lambda: self.sessions.pop(sid, None))

    async def close_session(self, sid: str) -> None:
        stream = await self.open_stream(multistream.SSH_CLOSE, {"id": sid})
        await stream.close()

    async def open_proxy(self, rid: str, host: str, port: int):
        """`/http/proxy/1.0.0`: returns (stream, bytes after the answer line, the line as text)
        or raises ProxyRefused (the stream is then closed)."""
        stream = await self.open_stream(multistream.HTTP_PROXY,
                                        {"id": rid, "host": host, "port": str(port)})
        try:
            line, rest = await asyncio.wait_for(
                read_until(stream, b"\n", ANSWER_LIMIT), ANSWER_TIMEOUT)
        except BaseException as e:
            try:
                await stream.abort()
            except Exception:
                pass
            if isinstance(e, (ConnectionError, ValueError, YamuxError)):
                raise ProxyRefused("", f"no answer line: {e}") from None
            raise
        ok, reason = parse_v2_answer(line)
        if not ok:
            try:
                await stream.close()
            except Exception:
                pass
            raise ProxyRefused(line.decode("utf-8", "replace"), reason)
        return stream, rest, line.decode("utf-8", "replace")


class _TrackedStream:
    """A session stream that forgets itself from the tunnel's table when closed."""

    def __init__(self, stream, on_close):
        self._s = stream
        self._on_close = on_close

    def __getattr__(self, name):
        return getattr(self._s, name)

    async def close(self):
        self._on_close()
        await self._s.close()

    async def abort(self):
        self._on_close()
        await self._s.abort()
