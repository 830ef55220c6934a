"""Web endpoints: ShellHub's TCP proxy through the agent (PROTOCOL.md 6).

The server asks the agent to dial host:port on its side and then relays raw bytes:

* v2: a stream with `/http/proxy/1.0.0` and the header `{"id","host","port"}` (port as a
  decimal string); the agent answers one line, `{"status":"ok"}` or `{"error":"<text>"}`. The
  server reads at most 512 bytes for that line and keeps whatever follows it.
* v1: a dial-back carrying `CONNECT /http/proxy/<host>:<port> HTTP/1.1`; the agent answers a
  `200` response head (then raw bytes) or a `500` with a text body.

A `WebEndpoint` is a local TCP listener bound to one device and one target: every accepted
client connection gets its own proxy connection and the bytes are piped both ways (the same
pipes as the SSH port map). The agent's answer is kept per endpoint (`last_answer`) so tests
can read the exact refusal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from .portmap import relay

log = logging.getLogger("hub.web")

ANSWER_LIMIT = 512          # the server's read buffer for the v2 answer line
HEAD_LIMIT = 4096           # v1 response head
ERROR_BODY_LIMIT = 4096
ANSWER_TIMEOUT = 30.0       # the agent resolves and dials before answering


class ProxyRefused(Exception):
    """The agent answered with an error (v2 `{"error":...}`, v1 non-200). `answer` is the raw
    answer as text (v2: the line; v1: head and body)."""

    def __init__(self, answer: str, reason: str):
        super().__init__(reason)
        self.answer = answer
        self.reason = reason


async def read_until(stream, delim: bytes, limit: int) -> tuple:
    """Reads until `delim`; returns (bytes up to and including it, the rest already read).
    Raises ConnectionError on EOF and ValueError beyond `limit` bytes."""
    buf = bytearray()
    while True:
        i = buf.find(delim)
        if i >= 0:
            end = i + len(delim)
            return bytes(buf[:end]), bytes(buf[end:])
        if len(buf) > limit:
            raise ValueError(f"no {delim!r} within {limit} bytes")
        chunk = await stream.read(limit)
        if not chunk:
            raise ConnectionError(f"EOF after {len(buf)} bytes, before {delim!r}")
        buf += chunk


def parse_v2_answer(line: bytes) -> tuple:
    """(ok, reason) from the agent's answer line."""
    try:
        obj = json.loads(line)
    except ValueError:
        return False, f"answer is not JSON: {line[:80]!r}"
    if not isinstance(obj, dict):
        return False, "answer is not an object"
    if obj.get("error"):
        return False, str(obj["error"])
    if obj.get("status") != "ok":
        return False, f"unexpected answer {line[:80]!r}"
    return True, ""


async def read_v1_answer(stream) -> tuple:
    """(status, head, leftover) of the agent's HTTP answer; on a non-200 the leftover is the
    body read up to Content-Length (or EOF)."""
    head, rest = await read_until(stream, b"\r\n\r\n", HEAD_LIMIT)
    first = head.split(b"\r\n", 1)[0].split()
    if len(first) < 2 or not first[0].startswith(b"HTTP/1.") or not first[1].isdigit():
        raise ProxyRefused(head.decode("latin-1"), f"bad response line {head[:60]!r}")
    status = int(first[1])
    if status == 200:
        return status, head, rest
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    body = bytearray(rest)
    try:
        while (length is None or len(body) < length) and len(body) < ERROR_BODY_LIMIT:
            chunk = await asyncio.wait_for(stream.read(ERROR_BODY_LIMIT), 5)
            if not chunk:
                break
            body += chunk
    except asyncio.TimeoutError:
        pass
    return status, head, bytes(body)


class WebEndpoint:
    """Local listener: each TCP client is relayed to host:port on the device's side."""

    def __init__(self, hub, uid: str, host: str, port: int):
        self.hub = hub
        self.uid = uid
        self.host = host
        self.target_port = port
        self.server = None
        self.port = 0
        self.connections = 0
        self.ok = 0
        self.refused = 0
        self.failed = 0
        self.last_answer = ""
        self.last_error = ""

    async def start(self, listen_host: str, listen_port: int = 0) -> int:
        self.server = await asyncio.start_server(self._on_client, listen_host, listen_port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server:
            self.server.close()

    def as_json(self) -> dict:
        return {"port": self.port, "host": self.host, "target_port": self.target_port,
                "connections": self.connections, "ok": self.ok, "refused": self.refused,
                "failed": self.failed, "last_answer": self.last_answer,
                "last_error": self.last_error}

    async def _on_client(self, reader, writer) -> None:
        self.connections += 1
        rid = str(uuid.uuid4())
        try:
            stream, leftover, answer = await self.hub.open_proxy(self.uid, rid, self.host,
                                                                 self.target_port)
        except ProxyRefused as e:
            self.refused += 1
            self.last_answer = e.answer
            log.info("web endpoint %d: %s:%d refused by the agent: %s", self.port, self.host,
                     self.target_port, e.reason)
            writer.close()
            return
        except Exception as e:
            self.failed += 1
            self.last_error = repr(e)
            log.warning("web endpoint %d: cannot open a proxy to %s:%d: %r", self.port,
                        self.host, self.target_port, e)
            writer.close()
            return
        self.ok += 1
        self.last_answer = answer
        log.info("web endpoint %d: request %s… to %s:%d open", self.port, rid[:8], self.host,
                 self.target_port)
        if leftover:
            writer.write(leftover)
        await relay(stream, reader, writer)
        log.info("web endpoint %d: request %s… closed", self.port, rid[:8])
