"""Gateway mode: terminate the user's SSH like ShellHub's SSH gateway, then run an SSH client
towards the agent through the tunnel (server/ssh/session).

Behaviour reproduced (PROTOCOL.md 7.1, 6): the user logs in as `user@device` or
`user@namespace.device`; the session stream to the device is opened as soon as the user's
first authentication request names the device, and the SSH client starts on it only when a
method is tried. The client sends `none` first and then exactly one method per connection: the
user's password relayed, or a freshly minted RSA-4096 key whose signature the agent checks via
`POST /api/auth/ssh`. A failed attempt discards the stream and opens a new one. Global
requests from the agent whose name starts with `keepalive` are answered with success. When
the user's connection ends, the session stream gets ShellHub's close request written raw into
it, `DELETE /ssh/close/<id> HTTP/1.1` (after the agent's channels closed, without an SSH
disconnect; or instead of SSH on a stream whose login never started), then it is closed, as
the real server (v0.27.0-rc.6) does. A removed device is "not found".

Not reproduced: ShellHub's own checks of the user's key (any user key is accepted here),
session recording, direct-tcpip, agent forwarding, window-change after start.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket

import asyncssh
from cryptography.hazmat.primitives import serialization

from .portmap import pipe_reader_to_stream, pipe_stream_to_writer

log = logging.getLogger("hub.gateway")
CONNECT_TIMEOUT = 30.0


def tcp_socketpair() -> tuple:
    """Two connected loopback TCP sockets (asyncssh wants a peer address; AF_UNIX has none)."""
    with socket.socket() as lsn:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        a = socket.create_connection(lsn.getsockname())
        b, _ = lsn.accept()
    a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return a, b


class _AgentSide(asyncssh.SSHClient):
    """Callbacks of the hub's SSH client towards the agent. A keepalive from the agent is
    answered with success and forwarded to the user's client as `keepalive@shellhub.io`,
    want_reply false, with the agent's payload (server/ssh/session/session.go,
    drainAgentRequests)."""

    def __init__(self, user_side: "_UserSide"):
        self.user_side = user_side

    def connection_made(self, conn) -> None:
        def ok(packet, conn=conn):
            conn._report_global_response(True)
            user = getattr(self.user_side, "conn", None)
            if user is not None:
                self.user_side.gw.hub.keepalives_forwarded += 1
                user._send_global_request(b"keepalive@shellhub.io", packet.get_remaining_payload())
        for name in ("keepalive", "keepalive@openssh.com", "keepalive@golang.org"):
            setattr(conn, "_process_" + asyncssh.misc.map_handler_name(name)
                    + "_global_request", ok)


class _UserSide(asyncssh.SSHServer):
    def __init__(self, gw: "Gateway"):
        self.gw = gw
        self.hub = gw.hub
        self.target = None
        self.user = ""
        self.stream_task: asyncio.Task | None = None
        self.agent_conn = None
        self.bridge_tasks: list = []
        self.key_verdicts: dict = {}
        self.sid = ""

    # -- connection -------------------------------------------------------------------
    def connection_made(self, conn) -> None:
        self.conn = conn

    def connection_lost(self, exc) -> None:
        for t in self.bridge_tasks:
            t.cancel()          # the pumps stop first: no SSH disconnect reaches the agent
        if self.agent_conn is not None:
            self.agent_conn.close()
        if self.stream_task is not None:
            if self.stream_task.done() and not self.stream_task.cancelled() \
                    and self.stream_task.exception() is None:
                asyncio.ensure_future(self._close_request(self.stream_task.result(), self.sid))
            else:
                self.stream_task.cancel()

    @staticmethod
    async def _close_request(stream, sid: str) -> None:
        try:
            await stream.write(f"DELETE /ssh/close/{sid} HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Length: 0\r\n\r\n".encode())
        except Exception:   # noqa: BLE001 — normally the write just fails on a dead stream
            pass
        try:
            await stream.close()
        except Exception:   # noqa: BLE001
            pass

    def begin_auth(self, username: str) -> bool:
        user, _, target = username.partition("@")
        self.user = user
        name = target.split(".", 1)[1] if "." in target else target
        dev = self.hub.find(name.lower()) if name else None
        if dev is None or dev.tunnel is None or dev.status == "removed":
            log.info("gateway: no connected device for %r", username)
            self.target = None
        else:
            self.target = dev
            self._open_stream()
        return True

    def _open_stream(self) -> None:
        sid = secrets.token_hex(32)
        self.sid = sid
        self.stream_task = asyncio.ensure_future(self.hub.open_session(self.target.uid, sid))

    # -- methods ----------------------------------------------------------------------
    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return False          # offer exactly publickey,password

    async def validate_password(self, username: str, password: str) -> bool:
        return await self._attempt(password=password)

    async def validate_public_key(self, username: str, key) -> bool:
        fp = key.get_fingerprint("md5")
        if fp not in self.key_verdicts:
            self.key_verdicts[fp] = await self._attempt(minted=True)
        return self.key_verdicts[fp]

    async def _attempt(self, password: str | None = None, minted: bool = False) -> bool:
        if self.target is None or self.stream_task is None:
            return False
        if self.agent_conn is not None:
            return True
        fp = None
        try:
            stream = await self.stream_task
        except Exception as e:
            log.warning("gateway: cannot open session stream: %r", e)
            self._open_stream()
            return False
        kwargs = {}
        if minted:
            key = await asyncio.get_running_loop().run_in_executor(None, self.hub.keyring.mint)
            fp = self.hub.keyring.add(key)
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
            kwargs = {"client_keys": [asyncssh.import_private_key(pem)],
                      "preferred_auth": "publickey"}
        else:
            kwargs = {"password": password, "preferred_auth": "password", "client_keys": None}
        ours, theirs = tcp_socketpair()
        reader, writer = await asyncio.open_connection(sock=theirs)
        pumps = [asyncio.create_task(pipe_stream_to_writer(stream, writer)),
                 asyncio.create_task(pipe_reader_to_stream(reader, stream))]
        try:
            conn, _ = await asyncio.wait_for(asyncssh.create_connection(
                lambda: _AgentSide(self), sock=ours, username=self.user, known_hosts=None,
                agent_path=None, keepalive_interval=0, **kwargs), CONNECT_TIMEOUT)
        except (asyncssh.Error, OSError, asyncio.TimeoutError) as e:
            log.info("gateway: agent refused %s for %s: %r",
                     "key" if minted else "password", self.user, e)
            for p in pumps:
                p.cancel()
            writer.close()
            ours.close()
            await stream.abort()
            self._open_stream()   # a retry is a new stream and a new SSH connection
            return False
        finally:
            if fp:
                self.hub.keyring.remove(fp)
        self.agent_conn = conn
        self.bridge_tasks = pumps
        log.info("gateway: %s logged in to %s", self.user, self.target.name)
        return True


class Gateway:
    def __init__(self, hub):
        self.hub = hub
        self.port = 0
        self.server = None

    async def start(self, host: str, port: int) -> int:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.server = await asyncssh.create_server(
            lambda: _UserSide(self), host, port, server_host_keys=[host_key],
            process_factory=self._session, encoding=None, allow_scp=False,
            login_timeout=210)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server:
            self.server.close()

    async def _session(self, process) -> None:
        owner: _UserSide = process.get_extra_info("connection").get_owner()
        agent = owner.agent_conn
        try:
            term = process.get_terminal_type()
            size = process.get_terminal_size()
            proc = await agent.create_process(
                process.command, subsystem=process.subsystem, term_type=term,
                term_size=size if term else None, env=process.env or (), encoding=None,
                request_pty=bool(term))
            await proc.redirect(stdin=process.stdin, stdout=process.stdout,
                                stderr=process.stderr)
            result = await proc.wait(check=False)
            status = result.exit_status if result.exit_status is not None else 0
            if status < 0:
                status = 255
        except (asyncssh.Error, OSError) as e:
            log.warning("gateway: session failed: %r", e)
            status = 255
        process.exit(status)
