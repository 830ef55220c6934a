"""Interoperability: `tether ws-echo` against Python's `websockets` server, a strict,
independent RFC 6455 implementation (it checks masking, framing and the handshake itself).
Needs `websockets` (see requirements.txt; use the worktree's .venv)."""
import asyncio
import os
import random

import pytest

websockets_server = pytest.importorskip("websockets.asyncio.server")

from runner import tether_bin  # noqa: E402

MIB = 1 << 20


async def _echo_session():
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

    async with websockets_server.serve(handler, "127.0.0.1", 0, max_size=None,
                                       compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            tether_bin(), "ws-echo", f"ws://127.0.0.1:{port}/interop",
            stderr=asyncio.subprocess.PIPE)
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
