"""Interoperability: `tether ws-echo` against Python's `websockets` server, a strict,
independent RFC 6455 implementation (it checks masking, framing and the handshake itself).
Needs `websockets` (see requirements.txt; use the worktree's .venv)."""
import asyncio
import os
import random
import ssl
import subprocess

import pytest

websockets_server = pytest.importorskip("websockets.asyncio.server")

from runner import tether_bin  # noqa: E402

MIB = 1 << 20


async def _echo_session(tls_dir=None):
    rnd = random.Random(6455)
    outcome = {"echoed": [], "pong": False, "close": None}
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            msgs = [
                "κόσμε " * 40000,                                  # ~0.5 MiB text
                rnd.randbytes(1 * MIB),
                rnd.randbytes(4 * MIB),
                b"",
                "",
            ]
            for m in msgs:
                await ws.send(m)
                back = await asyncio.wait_for(ws.recv(), 20)
                outcome["echoed"].append(back == m and type(back) is type(m))
            # A fragmented message (websockets sends an iterable as fragments).
            parts = [rnd.randbytes(300_000) for _ in range(5)]
            await ws.send(parts)
            back = await asyncio.wait_for(ws.recv(), 20)
            outcome["echoed"].append(back == b"".join(parts))
            waiter = await ws.ping(b"interop")
            await asyncio.wait_for(waiter, 5)
            outcome["pong"] = True
            await ws.close(1000, "done")
            outcome["close"] = ws.close_code
        finally:
            if not done.done():
                done.set_result(True)

    ctx, env, url = None, None, "ws://127.0.0.1:{port}/interop"
    if tls_dir:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem"))
        env = {**os.environ, "SSL_CERT_FILE": os.path.join(tls_dir, "cert.pem")}
        url = "wss://localhost:{port}/interop"
    async with websockets_server.serve(handler, "127.0.0.1", 0, max_size=None,
                                       compression=None, ssl=ctx) as server:
        port = server.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            tether_bin(), "ws-echo", url.format(port=port),
            stderr=asyncio.subprocess.PIPE, env=env)
        await asyncio.wait_for(done, 60)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        outcome["rc"] = proc.returncode
        outcome["stderr"] = err.decode(errors="replace")
    return outcome


def test_echo_large_messages_against_websockets():
    if not os.path.exists(tether_bin()):
        pytest.skip("tether binary not built")
    out = asyncio.run(_echo_session())
    assert out["echoed"] == [True] * 6, out
    assert out["pong"], out
    assert out["close"] == 1000, out
    assert out["rc"] == 0, out["stderr"]


def _self_signed(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    return str(tmp_path)


def test_echo_over_wss_against_websockets(tmp_path):
    """The same exchange over TLS (mbedTLS on our side, OpenSSL in Python's ssl)."""
    if not os.path.exists(tether_bin()):
        pytest.skip("tether binary not built")
    out = asyncio.run(_echo_session(_self_signed(tmp_path)))
    assert out["echoed"] == [True] * 6, out
    assert out["close"] == 1000 and out["rc"] == 0, out


def test_wss_refuses_an_untrusted_certificate(tmp_path):
    tls = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem"))

    async def run():
        async def handler(ws):
            await ws.wait_closed()
        async with websockets_server.serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
            port = server.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                tether_bin(), "ws-echo", f"wss://localhost:{port}/", stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            return proc.returncode, err.decode()
    rc, err = asyncio.run(run())
    assert rc == 1 and "tls:" in err and len(err.strip().splitlines()) == 1, err
