"""Web endpoints (`/http/proxy/1.0.0`, v1 `CONNECT /http/proxy/...`) against the independent
fake agent (its proxy side is written from PROTOCOL.md 6, not from the hub)."""

import asyncio
import json
import re

import pytest
from fake_agent import FakeAgentV1, FakeAgentV2, proxy_v2
from hubtest_helpers import admin, echo_through, register, wait_for

pytestmark = pytest.mark.asyncio


async def echo_server():
    async def on_client(r, w):
        while d := await r.read(65536):
            w.write(d)
            await w.drain()
        w.close()
    srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def endpoint(h, uid, host, port):
    status, ep = await admin(h, "POST", f"/api/hub/devices/{uid}/web-endpoints",
                             {"host": host, "port": port})
    assert status == 200, ep
    return ep


async def endpoint_state(h, uid, port):
    _, body = await admin(h, "GET", f"/api/hub/devices/{uid}/web-endpoints")
    return next(e for e in body["web_endpoints"] if e["port"] == port)


async def refused_connection(port) -> bytes:
    """Connect, expect the hub to close without sending anything."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    got = await asyncio.wait_for(r.read(), 10)
    w.close()
    return got


@pytest.mark.parametrize("version", [2, 1])
async def test_web_endpoint_relays_and_reports_refusals(hub, device_key, version):
    dev = await register(hub, device_key, hostname="board")
    cls = FakeAgentV2 if version == 2 else FakeAgentV1
    agent = await cls(hub.ws_url, dev["token"]).connect()
    srv, port = await echo_server()
    try:
        await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
        ep = await endpoint(hub, "board", "127.0.0.1", port)
        assert ep["uid"] == dev["uid"] and ep["target_port"] == port
        blob = bytes(range(256)) * 2048           # 512 KiB: windows both ways in v2
        assert await echo_through(ep["port"], blob) == blob
        st = await endpoint_state(hub, dev["uid"], ep["port"])
        assert (st["connections"], st["ok"], st["refused"]) == (1, 1, 0)
        if version == 2:
            assert agent.protos == ["/http/proxy/1.0.0"]
            h = agent.headers[0]
            assert set(h) == {"id", "host", "port"} and h["port"] == str(port)
            assert h["host"] == "127.0.0.1"
            assert re.fullmatch(r"[0-9a-f-]{36}", h["id"])
            assert st["last_answer"] == '{"status":"ok"}\n'
        else:
            assert agent.request_heads[0] == (
                b"CONNECT /http/proxy/127.0.0.1:%d HTTP/1.1\r\nHost: \r\n"
                b"User-Agent: Go-http-client/1.1\r\n\r\n" % port)
            assert st["last_answer"].startswith("HTTP/1.1 200 OK\r\n")
        # An unreachable target: the agent's refusal is kept, the client just gets closed.
        bad = await endpoint(hub, dev["uid"], "127.0.0.1", closed_port())
        assert await refused_connection(bad["port"]) == b""
        st = await endpoint_state(hub, dev["uid"], bad["port"])
        assert (st["connections"], st["ok"], st["refused"]) == (1, 0, 1)
        if version == 2:
            assert json.loads(st["last_answer"])["error"]
        else:
            head, _, body = st["last_answer"].partition("\r\n\r\n")
            assert head.startswith("HTTP/1.1 500 ")
            assert f"Content-Length: {len(body.encode())}" in head
            assert str(bad["target_port"]) in body     # the fake agent's error text
        assert hub.device(dev["uid"]).tunnel is not None
    finally:
        srv.close()
        await agent.close()


async def test_v2_bytes_after_the_answer_line_are_kept(hub, device_key):
    """The server reads up to 512 bytes for the answer and keeps what follows the line."""
    dev = await register(hub, device_key)

    async def greeting_proxy(st):
        await proxy_v2(st, greeting=b"hello from the target side\n")
    agent = await FakeAgentV2(hub.ws_url, dev["token"], proxy=greeting_proxy).connect()
    srv, port = await echo_server()
    try:
        await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
        ep = await endpoint(hub, dev["uid"], "127.0.0.1", port)
        r, w = await asyncio.open_connection("127.0.0.1", ep["port"])
        assert await asyncio.wait_for(r.readline(), 10) == b"hello from the target side\n"
        w.write(b"ping\n")
        assert await asyncio.wait_for(r.readline(), 10) == b"ping\n"
        w.close()
    finally:
        srv.close()
        await agent.close()


async def test_v2_answer_without_newline_in_512_bytes_is_a_refusal(hub, device_key):
    dev = await register(hub, device_key)

    async def rambling_proxy(st):
        await st.write(b"x" * 600)
        await asyncio.sleep(5)
    agent = await FakeAgentV2(hub.ws_url, dev["token"], proxy=rambling_proxy).connect()
    try:
        await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
        ep = await endpoint(hub, dev["uid"], "127.0.0.1", 9)
        assert await refused_connection(ep["port"]) == b""
        st = await endpoint_state(hub, dev["uid"], ep["port"])
        assert st["refused"] == 1 and st["ok"] == 0
    finally:
        await agent.close()


async def test_web_endpoint_route_validation(hub, device_key):
    dev = await register(hub, device_key)
    path = f"/api/hub/devices/{dev['uid']}/web-endpoints"
    for body in ({}, {"host": "127.0.0.1"}, {"host": "127.0.0.1", "port": 0},
                 {"host": "127.0.0.1", "port": "80"}, {"host": "", "port": 80}):
        status, _ = await admin(hub, "POST", path, body)
        assert status == 400, body
    status, _ = await admin(hub, "POST", "/api/hub/devices/nosuch/web-endpoints",
                            {"host": "127.0.0.1", "port": 80})
    assert status == 404
    # A device without a tunnel: the listener exists, connections are counted as failed.
    ep = await endpoint(hub, dev["uid"], "127.0.0.1", 80)
    assert await refused_connection(ep["port"]) == b""
    st = await endpoint_state(hub, dev["uid"], ep["port"])
    assert st["failed"] == 1 and "not connected" in st["last_error"]
