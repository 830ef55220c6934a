"""nginx TLS in front of the hub (https/wss, proxy_read_timeout), and the traffic relay."""

import asyncio
import ssl

import aiohttp
import pytest
from fake_agent import FakeAgentV1, FakeAgentV2
from hubtest_helpers import auth_body, echo_through, go_rsa_public_pem, port_map, wait_for

from hub.testing import Nginx, TrafficRelay, make_ca

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def nginx_for(tmp_path, tls_files):
    started = []

    def start(hub_handle, read_timeout="60s"):
        port = int(hub_handle.url.rsplit(":", 1)[1])
        n = Nginx(str(tmp_path / f"nginx{len(started)}"), port, read_timeout, tls=tls_files)
        started.append(n.start())
        return n
    yield start
    for n in started:
        n.stop()


def client_ctx(ca):
    return ssl.create_default_context(cafile=ca)


async def register_via(url, device_key, ctx):
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/api/devices/auth", ssl=ctx,
                          json=auth_body(go_rsa_public_pem(device_key))) as r:
            assert r.status == 200
            return await r.json()


async def test_https_info_and_auth(hub, nginx_for, device_key):
    n = nginx_for(hub)
    ctx = client_ctx(n.ca)
    async with aiohttp.ClientSession() as s:
        async with s.get(n.url + "/info", ssl=ctx) as r:
            j = await r.json()
            assert j["endpoints"]["api"] == f"127.0.0.1:{n.port}"
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with s.get(n.url + "/info") as r:   # system CAs do not know ours
                pass
    dev = await register_via(n.url, device_key, ctx)
    assert hub.device(dev["uid"]).remote_addr == "127.0.0.1"   # from X-Real-IP


async def test_wss_v2_and_v1_sessions(hub, nginx_for, device_key):
    n = nginx_for(hub)
    ctx = client_ctx(n.ca)
    dev = await register_via(n.url, device_key, ctx)
    wss = "wss://127.0.0.1:%d" % n.port
    agent = await FakeAgentV2(wss, dev["token"], ssl=ctx).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    port = await port_map(hub, dev["uid"])
    blob = b"q" * 400000
    assert await echo_through(port, blob) == blob
    await agent.close()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is None)
    v1 = await FakeAgentV1(wss, dev["token"], ssl=ctx).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    assert await echo_through(port, b"over a dial-back") == b"over a dial-back"
    assert v1.request_heads and v1.request_heads[0].startswith(b"GET /ssh/")
    await v1.close()


async def test_proxy_read_timeout_drops_idle_tunnel(make_hub, nginx_for, device_key):
    """ShellHub #5946 conditions: a proxy idle timeout shorter than the keepalive period."""
    slow = await make_hub(ping_interval=30)
    n = nginx_for(slow, read_timeout="1s")
    ctx = client_ctx(n.ca)
    dev = await register_via(n.url, device_key, ctx)
    agent = await FakeAgentV2("wss://127.0.0.1:%d" % n.port, dev["token"], ssl=ctx).connect()
    await wait_for(lambda: slow.device(dev["uid"]).tunnel is not None)
    await asyncio.wait_for(agent.closed.wait(), 5)
    await wait_for(lambda: slow.device(dev["uid"]).tunnel is None)
    await agent.close()

    fast = await make_hub(ping_interval=0.3, ping_timeout=1)
    n2 = nginx_for(fast, read_timeout="1s")
    dev = await register_via(n2.url, device_key, ctx)
    agent = await FakeAgentV2("wss://127.0.0.1:%d" % n2.port, dev["token"], ssl=ctx).connect()
    await wait_for(lambda: fast.device(dev["uid"]).tunnel is not None)
    await asyncio.sleep(2.5)
    assert not agent.closed.is_set() and fast.device(dev["uid"]).tunnel is not None
    assert fast.device(dev["uid"]).pings_ok >= 5
    await agent.close()


async def test_traffic_relay_counts_ping_acks(make_hub, device_key):
    h = await make_hub(ping_interval=0.1, ping_timeout=1)
    port = int(h.url.rsplit(":", 1)[1])
    relay = TrafficRelay(port).start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(h.url + "/api/devices/auth",
                              json=auth_body(go_rsa_public_pem(device_key))) as r:
                dev = await r.json()
        agent = await FakeAgentV2(f"ws://127.0.0.1:{relay.port}", dev["token"]).connect()
        await wait_for(lambda: h.device(dev["uid"]).pings_ok >= 1)
        relay.reset()
        pings0 = agent.pings
        await asyncio.sleep(1.0)
        await wait_for(lambda: agent.pings >= pings0 + 5)
        snap = relay.snapshot()
        answered = agent.pings - pings0
        # Each ping ACK from the agent: 12-byte yamux header in one masked WS frame (2 + 4).
        assert snap["up"]["payload"] in (18 * answered, 18 * (answered + 1), 18 * (answered - 1))
        # Each server ping: header-only frame, unmasked: 2 + 12.
        assert abs(snap["down"]["payload"] - 14 * answered) <= 14
        assert snap["up"]["segments"] >= answered
        assert snap["up"]["ip_bytes"] == snap["up"]["payload"] + 52 * snap["up"]["segments"]
        assert snap["connections"] == 1
        await agent.close()
        await asyncio.sleep(0.2)
        after = relay.snapshot()
        assert after["up"]["segments"] >= snap["up"]["segments"]      # FIN counted at close
    finally:
        relay.stop()


async def test_relay_blackhole_and_cut(make_hub, device_key):
    """Link faults for agent liveness tests: a silent black hole, then a reset."""
    h = await make_hub(ping_interval=0.2, ping_timeout=0.6)
    port = int(h.url.rsplit(":", 1)[1])
    relay = TrafficRelay(port).start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(h.url + "/api/devices/auth",
                              json=auth_body(go_rsa_public_pem(device_key))) as r:
                dev = await r.json()
        agent = await FakeAgentV2(f"ws://127.0.0.1:{relay.port}", dev["token"]).connect()
        await wait_for(lambda: h.device(dev["uid"]).pings_ok >= 1)
        relay.blackhole()
        # the hub's ping goes unanswered: tunnel torn down; the agent hears nothing (no FIN)
        await wait_for(lambda: h.device(dev["uid"]).tunnel is None, timeout=5)
        assert h.device(dev["uid"]).last_close_reason == "ping timeout"
        await asyncio.sleep(0.3)
        assert not agent.closed.is_set()
        relay.blackhole(False)
        await agent.close()
        agent = await FakeAgentV2(f"ws://127.0.0.1:{relay.port}", dev["token"]).connect()
        await wait_for(lambda: h.device(dev["uid"]).tunnel is not None)
        relay.cut()
        await asyncio.wait_for(agent.closed.wait(), 5)
        await wait_for(lambda: h.device(dev["uid"]).tunnel is None)
        await agent.close()
    finally:
        relay.stop()
