"""yamux (hashicorp v0.1.2 framing), CLIENT role as ShellHub's server plays it.

The hub opens every stream (odd ids), pings the agent from its own loop (yamux keepalive off),
grants 256 KiB windows and closes the whole session when a stream is not ACKed within the open
timeout. Transport-agnostic: bytes come in through `feed()`, frames go out through the
`send` coroutine given at construction (one call per Go `Write`: header and payload separately,
as hashicorp yamux does).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct

log = logging.getLogger("hub.yamux")

VERSION = 0
TYPE_DATA, TYPE_WINDOW_UPDATE, TYPE_PING, TYPE_GO_AWAY = 0, 1, 2, 3
FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST = 0x1, 0x2, 0x4, 0x8
HEADER = struct.Struct(">BBHII")
HEADER_LEN = 12
INITIAL_WINDOW = 256 * 1024
GO_AWAY_NORMAL, GO_AWAY_PROTO_ERR, GO_AWAY_INTERNAL_ERR = 0, 1, 2


class YamuxError(Exception):
    """Protocol violation by the peer, a closed session, a reset stream or a timeout."""


def header(typ: int, flags: int, stream_id: int, length: int) -> bytes:
    return HEADER.pack(VERSION, typ, flags, stream_id, length)


class Stream:
    def __init__(self, session: "Session", sid: int):
        self.session = session
        self.id = sid
        self.send_window = INITIAL_WINDOW
        self.recv_window = INITIAL_WINDOW
        self._consumed = 0
        self._buf = bytearray()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.acked = asyncio.get_running_loop().create_future()
        self.open_timer = None
        self.remote_fin = False
        self.local_fin = False
        self.reset = False

    # -- receive side -------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        if len(data) > self.recv_window:
            raise YamuxError(f"stream {self.id}: receive window exceeded")
        self.recv_window -= len(data)
        self._buf += data
        self._readable.set()

    async def read(self, n: int = 65536) -> bytes:
        """Up to n bytes; b'' on EOF. Raises YamuxError on reset."""
        while not self._buf:
            if self.reset:
                raise YamuxError(f"stream {self.id} reset")
            if self.remote_fin or self.session.closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        await self._grant(len(chunk))
        return chunk

    async def readexactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = await self.read(n - len(out))
            if not chunk:
                raise YamuxError(f"stream {self.id}: EOF after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    async def readline(self, limit: int = 4096) -> bytes:
        """Bytes up to and including b'\\n', reading nothing beyond it."""
        out = bytearray()
        while not out.endswith(b"\n"):
            if len(out) >= limit:
                raise YamuxError("line too long")
            b = await self.read(1)
            if not b:
                raise YamuxError("EOF before end of line")
            out += b
        return bytes(out)

    async def _grant(self, n: int) -> None:
        # Go yamux grants once at least half of the max window has been consumed.
        self._consumed += n
        if self._consumed >= INITIAL_WINDOW // 2 and not self.session.closed and not self.reset:
            delta, self._consumed = self._consumed, 0
            self.recv_window += delta
            await self.session._send(header(TYPE_WINDOW_UPDATE, 0, self.id, delta))

    # -- send side ----------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.reset or self.session.closed:
                raise YamuxError(f"stream {self.id} closed")
            if self.local_fin:
                raise YamuxError(f"stream {self.id}: write after close")
            if self.send_window == 0:
                self._writable.clear()
                await self._writable.wait()
                continue
            n = min(len(view), self.send_window)
            self.send_window -= n
            await self.session._send(header(TYPE_DATA, 0, self.id, n), bytes(view[:n]))
            view = view[n:]

    def _on_window(self, delta: int) -> None:
        self.send_window += delta
        self._writable.set()

    async def close(self) -> None:
        """Half-close (FIN). The stream is forgotten once both sides have sent FIN."""
        if self.local_fin or self.reset or self.session.closed:
            return
        self.local_fin = True
        await self.session._send(header(TYPE_WINDOW_UPDATE, FLAG_FIN, self.id, 0))
        self._maybe_forget()

    async def abort(self) -> None:
        if self.reset or self.session.closed:
            return
        self._mark_reset()
        await self.session._send(header(TYPE_WINDOW_UPDATE, FLAG_RST, self.id, 0))

    def _mark_reset(self) -> None:
        self.reset = True
        self._readable.set()
        self._writable.set()
        if not self.acked.done():
            self.acked.set_exception(YamuxError(f"stream {self.id} reset"))
            self.acked.exception()
        self.session.streams.pop(self.id, None)

    def _on_fin(self) -> None:
        self.remote_fin = True
        self._readable.set()
        self._maybe_forget()

    def _maybe_forget(self) -> None:
        if self.local_fin and self.remote_fin:
            self.session.streams.pop(self.id, None)


class Session:
    def __init__(self, send, *, open_timeout: float = 75.0, name: str = "yamux",
                 on_close=None):
        self.on_close = on_close
        self._send_raw = send
        self._send_lock = asyncio.Lock()
        self.open_timeout = open_timeout
        self.name = name
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1, 2)
        self._ping_ids = itertools.count(1)
        self._pings: dict[int, asyncio.Future] = {}
        self._buf = bytearray()
        self.closed = False
        self.close_reason = ""
        self.closed_event = asyncio.Event()
        self.agent_opened_streams = 0

    async def _send(self, *parts: bytes) -> None:
        if self.closed:
            raise YamuxError("session closed")
        async with self._send_lock:
            for p in parts:
                await self._send_raw(p)

    # -- incoming bytes -----------------------------------------------------------------
    def feed(self, data: bytes) -> list:
        """Parse frames from the transport. Returns coroutines to await (replies to send).
        Raises YamuxError on a protocol violation (caller closes the session)."""
        self._buf += data
        replies = []
        while len(self._buf) >= HEADER_LEN:
            ver, typ, flags, sid, length = HEADER.unpack_from(self._buf)
            if ver != VERSION:
                raise YamuxError(f"bad version {ver}")
            if typ > TYPE_GO_AWAY:
                raise YamuxError(f"bad frame type {typ}")
            if typ == TYPE_DATA:
                if len(self._buf) < HEADER_LEN + length:
                    break
                payload = bytes(self._buf[HEADER_LEN:HEADER_LEN + length])
                del self._buf[:HEADER_LEN + length]
            else:
                payload = b""
                del self._buf[:HEADER_LEN]
            r = self._on_frame(typ, flags, sid, length, payload)
            if r is not None:
                replies.append(r)
        return replies

    def _on_frame(self, typ, flags, sid, length, payload):
        if typ == TYPE_PING:
            if flags & FLAG_SYN:
                return self._send(header(TYPE_PING, FLAG_ACK, 0, length))
            fut = self._pings.pop(length, None)
            if fut and not fut.done():
                fut.set_result(None)
            return None
        if typ == TYPE_GO_AWAY:
            raise YamuxError(f"go away from agent (code {length})")
        stream = self.streams.get(sid)
        if flags & FLAG_SYN:
            # The server never accepts agent-opened streams; they rot in its backlog.
            self.agent_opened_streams += 1
            log.warning("%s: agent opened stream %d (ignored)", self.name, sid)
            return None
        if stream is None:
            return None  # frame for a missing stream: discarded, like hashicorp yamux
        if flags & FLAG_ACK and not stream.acked.done():
            stream.acked.set_result(None)
        if typ == TYPE_WINDOW_UPDATE:
            stream._on_window(length)
        elif payload:
            stream._on_data(payload)
        if flags & FLAG_RST:
            stream._mark_reset()
        elif flags & FLAG_FIN:
            stream._on_fin()
        return None

    # -- operations ---------------------------------------------------------------------
    async def open_stream(self) -> Stream:
        """SYN a new odd stream and return it at once, as hashicorp's OpenStream does (the
        caller writes before the ACK). No ACK within the open timeout closes the session."""
        if self.closed:
            raise YamuxError("session closed")
        sid = next(self._ids)
        stream = Stream(self, sid)
        self.streams[sid] = stream
        await self._send(header(TYPE_WINDOW_UPDATE, FLAG_SYN, sid, 0))
        stream.open_timer = asyncio.ensure_future(self._open_timer(stream))
        return stream

    async def _open_timer(self, stream: Stream) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(stream.acked), self.open_timeout)
        except asyncio.TimeoutError:
            log.warning("%s: stream %d not acknowledged in %gs", self.name, stream.id,
                        self.open_timeout)
            self.close(f"stream {stream.id} not acknowledged in {self.open_timeout:g}s")
        except YamuxError:
            pass

    async def ping(self, timeout: float) -> float:
        """One ping; returns the RTT in seconds or raises YamuxError after `timeout`."""
        pid = next(self._ping_ids) & 0xFFFFFFFF
        fut = asyncio.get_running_loop().create_future()
        self._pings[pid] = fut
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            await self._send(header(TYPE_PING, FLAG_SYN, 0, pid))
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise YamuxError(f"ping {pid} unanswered in {timeout:g}s") from None
        finally:
            self._pings.pop(pid, None)
        return loop.time() - t0

    async def go_away(self, code: int) -> None:
        try:
            await self._send(header(TYPE_GO_AWAY, 0, 0, code))
        except Exception:
            pass

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for s in list(self.streams.values()):
            s._readable.set()
            s._writable.set()
            if not s.acked.done():
                s.acked.set_exception(YamuxError("session closed"))
                s.acked.exception()  # mark retrieved
        for f in self._pings.values():
            if not f.done():
                f.set_exception(YamuxError("session closed"))
                f.exception()
        self.closed_event.set()
        if self.on_close is not None:
            self.on_close(reason)
