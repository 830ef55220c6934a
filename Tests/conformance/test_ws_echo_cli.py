"""`tether ws-echo` outside the frame cases: handshake refusals, bad URLs, wss, and the one
line it prints on failure."""
import asyncio
import base64
import hashlib
import os
import subprocess

import pytest

from runner import GUID, tether_bin

pytestmark = pytest.mark.skipif(not os.path.exists(tether_bin()), reason="tether not built")


async def _respond_with(make_response):
    """A server answering the client's request with make_response(key) and closing."""
    done = asyncio.get_running_loop().create_future()

    async def on_connect(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        writer.write(make_response(key))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        if not done.done():
            done.set_result(head)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        tether_bin(), "ws-echo", f"ws://127.0.0.1:{port}/agent/connection?x=1",
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    head = await asyncio.wait_for(done, 1)
    server.close()
    return proc.returncode, err.decode().strip(), head


def accept(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def test_request_is_the_go_client_handshake():
    def ok(key):
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                b"\r\nSec-WebSocket-Accept: " + accept(key) + b"\r\n\r\n" + bytes([0x88, 2, 3, 0xE8]))
    rc, err, head = asyncio.run(_respond_with(ok))
    assert rc == 0, err
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET /agent/connection?x=1 HTTP/1.1"
    for want in ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                 "User-Agent: Go-http-client/1.1"):
        assert want in lines


def test_401_is_reported_with_its_status():
    rc, err, _ = asyncio.run(_respond_with(
        lambda key: b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"))
    assert rc == 1
    assert err == "ws-echo: handshake: RFC 6455 4.1: status 401, not 101"


def test_wrong_accept_is_refused():
    rc, err, _ = asyncio.run(_respond_with(
        lambda key: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept(key + b"x") + b"\r\n\r\n"))
    assert rc == 1
    assert err == "ws-echo: handshake: RFC 6455 4.1: bad Sec-WebSocket-Accept"


def test_drop_without_close_frame_fails():
    def ok_then_drop(key):
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                b"\r\nSec-WebSocket-Accept: " + accept(key) + b"\r\n\r\n")
    rc, err, _ = asyncio.run(_respond_with(ok_then_drop))
    assert rc == 1
    assert "1006" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("args,code,text", [
    (["wss://127.0.0.1:1/"], 1, "cannot connect"),
    (["http://x/"], 2, "usage"),
    (["ws://:80/"], 2, "usage"),
    (["ws://h:99999/"], 2, "usage"),
    ([], 2, "usage"),
    (["ws://127.0.0.1:1/"], 1, "cannot connect"),
])
def test_command_line(args, code, text):
    p = subprocess.run([tether_bin(), "ws-echo", *args], capture_output=True, text=True,
                       timeout=15)
    assert p.returncode == code
    assert text in p.stderr
