"""Helpers shared by the hub's tests."""

import asyncio
import json

import aiohttp
import websockets
from cryptography.hazmat.primitives import serialization

from hub.config import DEFAULT_TENANT

TENANT = DEFAULT_TENANT


def go_rsa_public_pem(key) -> str:
    """PEM of the PKCS#1 RSAPublicKey, 64-char lines, as Go's pem encoder writes it."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.PKCS1).decode()


def auth_body(public_key: str, mac="aa:bb:cc:dd:ee:ff", hostname=None, tenant=TENANT, **extra):
    body = {"info": {"id": "debian", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                     "version": "v0.27.0", "arch": "amd64", "platform": "native"},
            "identity": {"mac": mac}, "public_key": public_key, "tenant_id": tenant}
    if hostname is not None:
        body["hostname"] = hostname
    body.update(extra)
    return body


async def register(h, device_key, **kw):
    async with aiohttp.ClientSession() as s:
        async with s.post(h.url + "/api/devices/auth",
                          json=auth_body(go_rsa_public_pem(device_key), **kw)) as r:
            assert r.status == 200
            return await r.json()


async def status(h):
    async with aiohttp.ClientSession() as s:
        async with s.get(h.url + "/api/hub/status") as r:
            return await r.json()


async def dev_status(h, uid):
    return next(d for d in (await status(h))["devices"] if d["uid"] == uid)


async def wait_for(pred, timeout=5.0, step=0.02):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        v = pred()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


async def port_map(h, uid):
    async with aiohttp.ClientSession() as s:
        async with s.post(h.url + f"/api/hub/devices/{uid}/port-map") as r:
            assert r.status == 200
            return (await r.json())["port"]


async def echo_through(port, payload: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(payload)
    await w.drain()
    got = await asyncio.wait_for(r.readexactly(len(payload)), 10)
    w.close()
    return got


async def upgrade_status(url, headers):
    try:
        ws = await websockets.connect(url, additional_headers=headers)
    except websockets.InvalidStatus as e:
        return e.response.status_code
    await ws.close()
    return 101


"""The hub's admin routes, as tests call them: (status, JSON or text)."""
async def admin(h, method, path, body=None):
    async with aiohttp.ClientSession() as s:
        async with s.request(method, h.url + path, json=body) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text
