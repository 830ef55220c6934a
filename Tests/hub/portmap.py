"""Port map: one local TCP port per device; each connection is piped through a session stream.

A plain `ssh -p PORT user@127.0.0.1` thus reaches the agent's SSH server directly (the hub does
not terminate SSH here; see gateway.py for ShellHub's terminating behaviour).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

log = logging.getLogger("hub.portmap")


async def pipe_stream_to_writer(stream, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await stream.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except Exception as e:
        log.debug("stream->tcp ended: %r", e)
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except Exception:
            pass


async def pipe_reader_to_stream(reader: asyncio.StreamReader, stream) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await stream.write(data)
    except Exception as e:
        log.debug("tcp->stream ended: %r", e)
    finally:
        try:
            await stream.close()
        except Exception:
            pass


async def relay(stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways between a client connection and a tunnel stream until both ends are
    done; then both are closed."""
    t1 = asyncio.create_task(pipe_stream_to_writer(stream, writer))
    t2 = asyncio.create_task(pipe_reader_to_stream(reader, stream))
    await asyncio.gather(t1, t2, return_exceptions=True)
    writer.close()
    try:
        await stream.close()
    except Exception:
        pass


class PortMap:
    def __init__(self, hub, uid: str):
        self.hub = hub
        self.uid = uid
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.connections = 0

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._on_client, host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server:
            self.server.close()

    async def _on_client(self, reader, writer) -> None:
        self.connections += 1
        sid = secrets.token_hex(32)
        try:
            stream = await self.hub.open_session(self.uid, sid)
        except Exception as e:
            log.warning("port map %d: cannot open session: %r", self.port, e)
            writer.close()
            return
        log.info("port map %d: session %s… open", self.port, sid[:12])
        await relay(stream, reader, writer)
        log.info("port map %d: session %s… closed", self.port, sid[:12])
