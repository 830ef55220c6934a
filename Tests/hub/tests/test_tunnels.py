"""Tunnel endpoints (v2 yamux, v1 revdial) and the port map, against the independent fake agent."""

import asyncio
import re
import struct

import aiohttp
import pytest
import websockets
from fake_agent import FakeAgentV1, FakeAgentV2
from hubtest_helpers import dev_status, echo_through, port_map, register, upgrade_status, wait_for

pytestmark = pytest.mark.asyncio


# ------------------------------------------------------------------------------------- v2


async def test_v2_upgrade_auth_errors(make_hub, device_key):
    h = await make_hub(auto_accept=False, require_accepted_tunnel=True)
    dev = await register(h, device_key)
    url = h.ws_url + "/agent/connection"
    assert await upgrade_status(url, {}) == 401
    assert await upgrade_status(url, {"Authorization": "Bearer nope"}) == 401
    assert await upgrade_status(url, {"Authorization": "Bearer " + dev["token"]}) == 403
    assert await upgrade_status(h.ws_url + "/ssh/connection",
                                {"Authorization": "Bearer " + dev["token"]}) == 403
    h.hub.devices[dev["uid"]].status = "accepted"
    assert await upgrade_status(url, {"Authorization": "Bearer " + dev["token"]}) == 101


async def test_v2_tenant_must_be_uuid(make_hub, device_key):
    h = await make_hub(tenants={"acme-tenant": "acme"})
    dev = await register(h, device_key, tenant="acme-tenant")
    hdr = {"Authorization": "Bearer " + dev["token"]}
    assert await upgrade_status(h.ws_url + "/agent/connection", hdr) == 400
    assert await upgrade_status(h.ws_url + "/ssh/connection", hdr) == 101


async def test_v2_session_through_port_map(hub, device_key):
    dev = await register(hub, device_key, hostname="board")
    agent = await FakeAgentV2(hub.ws_url, dev["token"]).connect()
    try:
        st = await wait_for(lambda: dev_status(hub, dev["uid"]))
        await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
        st = await dev_status(hub, dev["uid"])
        assert st["online"] and st["transport"] == 2 and st["status"] == "accepted"
        port = await port_map(hub, dev["uid"])
        assert await echo_through(port, b"SSH-2.0-test\r\n") == b"SSH-2.0-test\r\n"
        assert agent.protos == ["/ssh/open/1.0.0"]
        assert set(agent.headers[0]) == {"id"}
        assert re.fullmatch(r"[0-9a-f]{64}", agent.headers[0]["id"])
        # 1 MiB each way: needs window updates in both directions
        blob = bytes(range(256)) * 4096
        assert await echo_through(port, blob) == blob
        assert len(agent.headers) == 2 and agent.headers[0] != agent.headers[1]
        st = await dev_status(hub, dev["uid"])
        assert st["bytes"]["tunnel_up"] > len(blob) and st["bytes"]["tunnel_down"] > len(blob)
    finally:
        await agent.close()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    assert not (await dev_status(hub, dev["uid"]))["online"]


async def test_v2_stream_open_wire_bytes(hub, device_key):
    """Exact bytes of a stream open (PROTOCOL.md Appendix A), read off a raw WebSocket."""
    dev = await register(hub, device_key)
    ws = await websockets.connect(hub.ws_url + "/agent/connection", compression=None,
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    opener = asyncio.create_task(hub.hub.open_session(dev["uid"], "ab" * 32))
    syn = await asyncio.wait_for(ws.recv(), 5)
    assert syn == bytes.fromhex("000100010000000100000000")     # WindowUpdate/SYN/1/0
    # hashicorp's OpenStream does not wait for the ACK: multistream follows at once
    hdr = await asyncio.wait_for(ws.recv(), 5)
    body = await asyncio.wait_for(ws.recv(), 5)                 # header and payload: 2 writes
    assert hdr == struct.pack(">BBHII", 0, 0, 0, 1, 37)
    assert body == b"\x13/multistream/1.0.0\n\x10/ssh/open/1.0.0\n"
    await ws.send(bytes.fromhex("000100020000000100000000"))    # ACK
    await ws.send(struct.pack(">BBHII", 0, 0, 0, 1, 20) + b"\x13/multistream/1.0.0\n")
    await ws.send(struct.pack(">BBHII", 0, 0, 0, 1, 17) + b"\x10/ssh/open/1.0.0\n")
    hdr = await asyncio.wait_for(ws.recv(), 5)
    body = await asyncio.wait_for(ws.recv(), 5)
    assert body == b'{"id":"' + b"ab" * 32 + b'"}\n' and hdr[8:] == struct.pack(">I", 74)
    stream = await asyncio.wait_for(opener, 5)
    assert stream.id == 1
    await ws.close()


async def test_v2_agent_answers_na(hub, device_key):
    dev = await register(hub, device_key)
    ws = await websockets.connect(hub.ws_url + "/agent/connection", compression=None,
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    opener = asyncio.create_task(hub.hub.open_session(dev["uid"], "cd" * 32))
    await asyncio.wait_for(ws.recv(), 5)
    await ws.send(bytes.fromhex("000100020000000100000000"))
    await ws.send(struct.pack(">BBHII", 0, 0, 0, 1, 24) + b"\x13/multistream/1.0.0\n\x03na\n")
    with pytest.raises(Exception):
        await asyncio.wait_for(opener, 5)
    # the stream is reset, the tunnel stays
    frames = b""
    while len(frames) < 12 or frames[-12:][2:4] != b"\x00\x08":
        frames += await asyncio.wait_for(ws.recv(), 5)
    assert hub.device(dev["uid"]).tunnel is not None
    await ws.close()


async def test_v2_ping_heartbeat_and_timeout(make_hub, device_key):
    h = await make_hub(ping_interval=0.15, ping_timeout=1.0)
    dev = await register(h, device_key)
    good = await FakeAgentV2(h.ws_url, dev["token"]).connect()
    await wait_for(lambda: h.device(dev["uid"]).pings_ok >= 3)
    assert good.pings >= 3 and h.device(dev["uid"]).tunnel is not None
    await good.close()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
    mute = await FakeAgentV2(h.ws_url, dev["token"], answer_pings=False).connect()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is not None)
    await asyncio.wait_for(mute.closed.wait(), 5)          # torn down after a missed ping
    st = await dev_status(h, dev["uid"])
    assert not st["online"] and st["disconnected_at"] is not None
    assert st["last_close_reason"] == "ping timeout"
    assert mute.pings >= 1
    await mute.close()


async def test_v2_online_rule(make_hub, device_key):
    """Online <=> no disconnect since the last tunnel and a heartbeat within the window."""
    h = await make_hub(ping_interval=30, online_window=0.3, auth_cache_ttl=0)
    dev = await register(h, device_key)
    st = await dev_status(h, dev["uid"])
    assert st["online"] and not st["connected"]      # a fresh device counts, as on the server
    agent = await FakeAgentV2(h.ws_url, dev["token"]).connect()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is not None)
    assert (await dev_status(h, dev["uid"]))["online"]
    await asyncio.sleep(0.4)                         # no heartbeat within the window
    st = await dev_status(h, dev["uid"])
    assert not st["online"] and st["connected"]
    await register(h, device_key)                    # device auth is a heartbeat too
    assert (await dev_status(h, dev["uid"]))["online"]
    await agent.close()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
    await register(h, device_key)                    # disconnected: auth does not help
    assert not (await dev_status(h, dev["uid"]))["online"]


async def test_v2_eviction(hub, device_key):
    dev = await register(hub, device_key)
    first = await FakeAgentV2(hub.ws_url, dev["token"]).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    t1 = hub.device(dev["uid"]).tunnel
    second = await FakeAgentV2(hub.ws_url, dev["token"]).connect()
    await asyncio.wait_for(first.closed.wait(), 3)
    await wait_for(lambda: hub.device(dev["uid"]).tunnel not in (None, t1))
    st = await dev_status(hub, dev["uid"])
    assert st["evictions"] == 1 and st["connects"] == 2 and st["online"]
    port = await port_map(hub, dev["uid"])
    assert await echo_through(port, b"hello") == b"hello"
    assert len(second.headers) == 1 and not first.headers
    await second.close()


async def test_v2_stream_open_timeout_closes_session(make_hub, device_key):
    h = await make_hub(stream_open_timeout=0.3)
    dev = await register(h, device_key)
    agent = await FakeAgentV2(h.ws_url, dev["token"], ack_streams=False).connect()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is not None)
    with pytest.raises(Exception):
        await h.hub.open_session(dev["uid"], "ee" * 32)
    await asyncio.wait_for(agent.closed.wait(), 3)
    await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
    await agent.close()


@pytest.mark.parametrize("garbage", [
    b"\x01" + b"\x00" * 11,                                  # bad version
    bytes.fromhex("00 07 0000 00000000 00000000"),           # bad type
    struct.pack(">BBHII", 0, 0, 0, 1, 5) + b"x" * 5,          # data on a stream never opened: ok
    struct.pack(">BBHII", 0, 1, 1, 2, 0),                    # agent opens a stream: ignored
    "a text frame",
])
async def test_v2_garbage_on_tunnel(hub, device_key, garbage):
    dev = await register(hub, device_key)
    ws = await websockets.connect(hub.ws_url + "/agent/connection",
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    await ws.send(garbage)
    benign = isinstance(garbage, bytes) and garbage[0] == 0 and garbage[1] in (0, 1)
    if benign:
        await asyncio.sleep(0.2)
        assert hub.device(dev["uid"]).tunnel is not None
    else:
        await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    await ws.close()
    async with aiohttp.ClientSession() as s:
        async with s.get(hub.url + "/info") as r:
            assert r.status == 200


async def test_v2_close_session_protocol(hub, device_key):
    dev = await register(hub, device_key)
    agent = await FakeAgentV2(hub.ws_url, dev["token"]).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + f"/api/hub/devices/{dev['uid']}/close-session",
                          json={"id": "77" * 32}) as r:
            assert r.status == 200
    await wait_for(lambda: agent.protos == ["/ssh/close/1.0.0"])
    assert agent.headers == [{"id": "77" * 32}]
    await agent.close()


# ------------------------------------------------------------------------------------- v1


async def test_v1_keepalive_and_pongs(make_hub, device_key):
    h = await make_hub(v1_keepalive_interval=0.1, v1_ping_interval=0.1, v1_pong_timeout=1.0)
    dev = await register(h, device_key)
    agent = await FakeAgentV1(h.ws_url, dev["token"]).connect()
    await wait_for(lambda: agent.keepalives() >= 4)
    assert agent.control_messages[0] == {"command": "keep-alive"}
    await wait_for(lambda: h.device(dev["uid"]).pongs >= 3)
    st = await dev_status(h, dev["uid"])
    assert st["online"] and st["transport"] == 1
    await agent.close()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
    mute = await FakeAgentV1(h.ws_url, dev["token"], answer_pings=False).connect()
    await asyncio.wait_for(mute.closed.wait(), 5)           # no pong within 35 s (compressed)
    await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
    assert h.device(dev["uid"]).last_close_reason == "pong timeout"
    await mute.close()


async def test_v1_session_through_port_map(hub, device_key):
    dev = await register(hub, device_key)
    agent = await FakeAgentV1(hub.ws_url, dev["token"]).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    port = await port_map(hub, dev["uid"])
    assert await echo_through(port, b"SSH-2.0-x\r\n") == b"SSH-2.0-x\r\n"
    ready = [m for m in agent.control_messages if m.get("command") == "conn-ready"]
    assert len(ready) == 1
    m = re.fullmatch(r"/ssh/revdial\?revdial\.dialer=([0-9a-f]{32})&uuid=([0-9a-f-]{36})",
                     ready[0]["connPath"])
    assert m
    head = agent.request_heads[0]
    assert re.fullmatch(rb"GET /ssh/[0-9a-f]{64} HTTP/1\.1\r\nHost: \r\n"
                        rb"User-Agent: Go-http-client/1\.1\r\n\r\n", head)
    idx = agent.control_messages.index(ready[0])
    assert agent.control_messages[idx + 1] == {"command": "keep-alive"}
    blob = b"z" * 300000
    assert await echo_through(port, blob) == blob
    st = await dev_status(hub, dev["uid"])
    assert st["bytes"]["dialback_up"] >= len(blob) and st["bytes"]["dialback_down"] >= len(blob)
    # stale dialer / unknown uuid -> 400, no upgrade
    assert await upgrade_status(hub.ws_url + "/ssh/revdial?revdial.dialer=" + "0" * 32
                                + "&uuid=x", {}) == 400
    assert await upgrade_status(hub.ws_url + "/ssh/revdial?revdial.dialer=" + m.group(1)
                                + "&uuid=" + m.group(2), {}) == 400
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + f"/api/hub/devices/{dev['uid']}/close-session",
                          json={"id": "99" * 32}) as r:
            j = await r.json()
            assert j["reply"].startswith("HTTP/1.1 200")
    assert agent.request_heads[-1].startswith(b"GET /ssh/close/" + b"99" * 32 + b" HTTP/1.1\r\n")
    await agent.close()


async def test_v1_garbage_control_lines(hub, device_key):
    dev = await register(hub, device_key)
    ws = await websockets.connect(hub.ws_url + "/ssh/connection",
                                  additional_headers={"Authorization": "Bearer " + dev["token"]})
    await ws.send(b"not json\n{\"command\":\"bogus\"}\n" + b"\x00" * 100 + b"\n")
    await ws.send(b'{"command":"pickup-failed","connPath":"/x","err":"boom"}\n')
    await asyncio.sleep(0.2)
    assert hub.device(dev["uid"]).tunnel is not None
    await ws.send("text")
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    await ws.close()


async def test_token_survives_hub_restart_with_kept_key(make_hub, device_key):
    """Tokens never expire: with the same signing key a restarted hub takes the old token."""
    first = await make_hub()
    dev = await register(first, device_key)
    second = await make_hub()                       # same signing key file, empty registry
    agent = await FakeAgentV2(second.ws_url, dev["token"]).connect()
    await wait_for(lambda: dev["uid"] in second.hub.devices
                   and second.device(dev["uid"]).tunnel is not None)
    st = await dev_status(second, dev["uid"])
    assert st["connected"] and st["transport"] == 2
    await agent.close()
