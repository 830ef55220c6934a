"""An independent, minimal ShellHub agent for the hub's tests.

Written from PROTOCOL.md, without importing the hub: the `websockets` client library carries a
tiny yamux SERVER (listener) side, multistream listener and v1 revdial logic. It lets tests put
arbitrary bytes on the tunnel and hand each session stream to a coroutine.
"""

from __future__ import annotations

import asyncio
import json
import struct

import websockets

HDR = struct.Struct(">BBHII")
DATA, WINDOW, PING, GOAWAY = 0, 1, 2, 3
SYN, ACK, FIN, RST = 1, 2, 4, 8
WINDOW_SIZE = 256 * 1024
KNOWN = {"/ssh/open/1.0.0", "/ssh/close/1.0.0", "/http/proxy/1.0.0"}


def ms_msg(text: str) -> bytes:
    body = text.encode() + b"\n"
    assert len(body) < 128
    return bytes([len(body)]) + body


class AgentStream:
    """Agent-side view of one stream (v2 yamux stream or v1 dial-back)."""

    def __init__(self, send):
        self._send = send          # async (bytes) -> None
        self._q: asyncio.Queue = asyncio.Queue()
        self._buf = bytearray()
        self.eof = False
        self.header = None
        self.proto = None

    def feed(self, data: bytes):
        self._q.put_nowait(data)

    def feed_eof(self):
        self._q.put_nowait(b"")

    async def _fill(self):
        if self.eof:
            return False
        d = await self._q.get()
        if not d:
            self.eof = True
            return False
        self._buf += d
        return True

    async def read(self, n=65536) -> bytes:
        while not self._buf:
            if not await self._fill():
                return b""
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def readexactly(self, n) -> bytes:
        while len(self._buf) < n:
            if not await self._fill():
                raise EOFError
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def readline(self) -> bytes:
        while b"\n" not in self._buf:
            if not await self._fill():
                raise EOFError
        i = self._buf.index(b"\n") + 1
        out = bytes(self._buf[:i])
        del self._buf[:i]
        return out

    async def write(self, data: bytes):
        await self._send(data)


async def echo_handler(stream: AgentStream):
    while True:
        d = await stream.read()
        if not d:
            return
        await stream.write(d)


def tcp_pipe_handler(port: int):
    """Pipe each session to a local TCP server (the 'agent-side' service)."""
    async def handler(stream: AgentStream):
        r, w = await asyncio.open_connection("127.0.0.1", port)

        async def up():
            while True:
                d = await r.read(65536)
                if not d:
                    return
                await stream.write(d)

        async def down():
            while True:
                d = await stream.read()
                if not d:
                    w.write_eof()
                    return
                w.write(d)
                await w.drain()
        t = asyncio.create_task(up())
        await down()
        await t
        w.close()
    return handler


async def _pipe(stream: AgentStream, r, w):
    async def up():
        while True:
            d = await r.read(65536)
            if not d:
                return
            await stream.write(d)
    t = asyncio.create_task(up())
    try:
        while True:
            d = await stream.read()
            if not d:
                break
            w.write(d)
            await w.drain()
        await t
    finally:
        t.cancel()
        w.close()


async def proxy_v2(stream: AgentStream, greeting: bytes = b""):
    """`/http/proxy/1.0.0` after the header: dial host:port, answer one JSON line, relay.
    `greeting` goes out in the same write as the ok line (the hub must keep it)."""
    h = stream.header
    try:
        r, w = await asyncio.open_connection(h["host"], int(h["port"]))
    except (OSError, ValueError) as e:
        await stream.write(json.dumps({"error": str(e)}).encode() + b"\n")
        return
    await stream.write(b'{"status":"ok"}\n' + greeting)
    await _pipe(stream, r, w)


async def proxy_v1(stream: AgentStream, target: str):
    """`CONNECT /http/proxy/<host>:<port>`: a 200 head then raw bytes, or a 500 text body."""
    host, _, port = target[len("/http/proxy/"):].rpartition(":")
    try:
        r, w = await asyncio.open_connection(host.strip("[]"), int(port))
    except (OSError, ValueError) as e:
        body = str(e).encode() + b"\n"
        await stream.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return
    await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    await _pipe(stream, r, w)


class FakeAgentV2:
    def __init__(self, base_ws: str, token: str, handler=echo_handler, answer_pings=True,
                 extra_headers=None, ack_streams=True, ssl=None, proxy=proxy_v2):
        self.proxy = proxy
        self.ack_streams = ack_streams
        self.ssl = ssl
        self.url = base_ws + "/agent/connection"
        self.token = token
        self.handler = handler
        self.answer_pings = answer_pings
        self.streams: dict[int, AgentStream] = {}
        self.sent_window: dict[int, int] = {}
        self.consumed: dict[int, int] = {}
        self.window_events: dict[int, asyncio.Event] = {}
        self.pings = 0
        self.headers = []       # JSON headers received, in order
        self.protos = []
        self.closed = asyncio.Event()
        self.ws = None
        self._lock = asyncio.Lock()
        self._tasks = []
        self.extra_headers = extra_headers or {}

    async def connect(self):
        self.ws = await websockets.connect(
            self.url, additional_headers={"Authorization": "Bearer " + self.token,
                                          **self.extra_headers},
            compression=None, ping_interval=None, max_size=None, ssl=self.ssl)
        self._tasks.append(asyncio.create_task(self._recv_loop()))
        return self

    async def send_raw(self, data: bytes):
        async with self._lock:
            await self.ws.send(data)

    async def _frame(self, typ, flags, sid, length, payload=b""):
        await self.send_raw(HDR.pack(0, typ, flags, sid, length) + payload)

    async def _recv_loop(self):
        buf = bytearray()
        try:
            async for msg in self.ws:
                assert isinstance(msg, bytes), "hub sent a text frame"
                buf += msg
                while len(buf) >= 12:
                    ver, typ, flags, sid, length = HDR.unpack_from(buf)
                    need = 12 + (length if typ == DATA else 0)
                    if len(buf) < need:
                        break
                    payload = bytes(buf[12:need])
                    del buf[:need]
                    await self._on_frame(typ, flags, sid, length, payload)
        except websockets.ConnectionClosed:
            pass
        finally:
            for s in self.streams.values():
                s.feed_eof()
            self.closed.set()

    async def _on_frame(self, typ, flags, sid, length, payload):
        if typ == PING:
            if flags & SYN:
                self.pings += 1
                if self.answer_pings:
                    await self._frame(PING, ACK, 0, length)
            return
        if typ == GOAWAY:
            return
        if flags & SYN:
            st = AgentStream(lambda d, sid=sid: self._write_stream(sid, d))
            self.streams[sid] = st
            self.sent_window[sid] = WINDOW_SIZE
            self.consumed[sid] = 0
            if not self.ack_streams:
                return
            await self._frame(WINDOW, ACK, sid, 0)
            self._tasks.append(asyncio.create_task(self._serve_stream(sid, st)))
        st = self.streams.get(sid)
        if st is None:
            return
        if typ == WINDOW:
            self.sent_window[sid] += length
            self.window_events.setdefault(sid, asyncio.Event()).set()
        if payload:
            st.feed(payload)
            self.consumed[sid] += len(payload)
            if self.consumed[sid] >= WINDOW_SIZE // 2:
                await self._frame(WINDOW, 0, sid, self.consumed[sid])
                self.consumed[sid] = 0
        if flags & (FIN | RST):
            st.feed_eof()

    async def _write_stream(self, sid, data: bytes):
        while data:
            while self.sent_window[sid] <= 0:       # wait for the hub's window update
                ev = self.window_events.setdefault(sid, asyncio.Event())
                ev.clear()
                await ev.wait()
            n = min(len(data), 16384, self.sent_window[sid])
            await self._frame(DATA, 0, sid, n, data[:n])
            self.sent_window[sid] -= n
            data = data[n:]

    async def _serve_stream(self, sid, st: AgentStream):
        try:
            await st.write(ms_msg("/multistream/1.0.0"))
            head = await self._read_ms(st)
            if head != "/multistream/1.0.0":
                await self._frame(WINDOW, RST, sid, 0)
                return
            while True:
                proto = await self._read_ms(st)
                if proto in KNOWN:
                    await st.write(ms_msg(proto))
                    break
                await st.write(ms_msg("na"))
            st.proto = proto
            st.header = json.loads(await st.readline())
            self.protos.append(proto)
            self.headers.append(st.header)
            if proto == "/ssh/open/1.0.0":
                await self.handler(st)
            elif proto == "/http/proxy/1.0.0":
                await self.proxy(st)
            await self._frame(WINDOW, FIN, sid, 0)
        except (EOFError, websockets.ConnectionClosed):
            pass

    @staticmethod
    async def _read_ms(st) -> str:
        n = (await st.readexactly(1))[0]
        return (await st.readexactly(n))[:-1].decode()

    async def close(self):
        for t in self._tasks:
            t.cancel()
        if self.ws is not None:
            await self.ws.close()


class FakeAgentV1:
    def __init__(self, base_ws: str, token: str, handler=echo_handler, answer_pings=True,
                 ssl=None):
        self.ssl = ssl
        self.base = base_ws
        self.url = base_ws + "/ssh/connection"
        self.token = token
        self.handler = handler
        self.answer_pings = answer_pings
        self.control_messages = []
        self.request_heads = []
        self.closed = asyncio.Event()
        self._tasks = []
        self.ws = None

    async def connect(self):
        self.ws = await websockets.connect(
            self.url, additional_headers={"Authorization": "Bearer " + self.token},
            compression=None, ping_interval=None, max_size=None, ssl=self.ssl)
        if not self.answer_pings:
            # websockets answers pings itself; drop its pong frames
            proto = self.ws.protocol
            orig = proto.send_frame

            def no_pong(frame, orig=orig):
                if frame.opcode.name == "PONG":
                    return
                orig(frame)
            proto.send_frame = no_pong
        await self.ws.send(b'{"command":"keep-alive"}\n')
        self._tasks.append(asyncio.create_task(self._recv_loop()))
        return self

    async def _recv_loop(self):
        buf = bytearray()
        try:
            async for msg in self.ws:
                assert isinstance(msg, bytes)
                buf += msg
                while b"\n" in buf:
                    i = buf.index(b"\n")
                    m = json.loads(bytes(buf[:i]))
                    del buf[:i + 1]
                    self.control_messages.append(m)
                    if m.get("command") == "conn-ready":
                        self._tasks.append(asyncio.create_task(self._pickup(m["connPath"])))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _pickup(self, path: str):
        try:
            ws = await websockets.connect(self.base + path, compression=None,
                                          ping_interval=None, max_size=None, ssl=self.ssl)
        except (websockets.InvalidStatus, OSError) as e:
            msg = {"command": "pickup-failed", "connPath": path, "err": str(e)}
            await self.ws.send(json.dumps(msg).encode() + b"\n")
            return
        st = AgentStream(ws.send)

        async def reader():
            try:
                async for m in ws:
                    st.feed(m)
            except websockets.ConnectionClosed:
                pass
            st.feed_eof()
        t = asyncio.create_task(reader())
        head = bytearray()
        while not head.endswith(b"\r\n\r\n"):
            head += await st.readexactly(1)
        self.request_heads.append(bytes(head))
        target = head.split(b" ")[1].decode()
        try:
            if target.startswith("/ssh/close/"):
                await ws.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            elif head.startswith(b"CONNECT ") and target.startswith("/http/proxy/"):
                await proxy_v1(st, target)
            else:
                await self.handler(st)
        except (EOFError, websockets.ConnectionClosed):
            pass
        await ws.close()
        t.cancel()

    def keepalives(self) -> int:
        return sum(1 for m in self.control_messages if m.get("command") == "keep-alive")

    async def close(self):
        for t in self._tasks:
            t.cancel()
        if self.ws is not None:
            await self.ws.close()
