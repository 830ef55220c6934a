"""Pairing routes of the hub (PROTOCOL.md 4.6) against an independent HTTP client (aiohttp)."""

import asyncio
import json
import re

import aiohttp
import pytest
from hubtest_helpers import TENANT

pytestmark = pytest.mark.asyncio

BODY = {"identity": {"mac": "aa:bb:cc:dd:ee:ff"}, "public_key": "PEM",
        "info": {"id": "debian", "pretty_name": "Debian", "version": "1", "arch": "arm64",
                 "platform": "native"}}


async def call(method, url, body=None):
    async with aiohttp.ClientSession() as s:
        data = None if body is None else json.dumps(body).encode()
        async with s.request(method, url, data=data,
                             headers={"Content-Type": "application/json"}) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text.startswith("{") else text)


async def test_code_pending_then_accepted(hub):
    st, j = await call("POST", hub.url + "/api/devices/pairing", BODY)
    assert st == 200 and j["status"] == "pending" and j["expires_in_seconds"] == 600
    code = j["code"]
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{8}", code)
    st, j = await call("GET", hub.url + f"/api/devices/pairing/{code}/status")
    assert (st, j) == (200, {"status": "pending"})
    st, _ = await call("POST", hub.url + f"/api/hub/pairing/{code}/accept", {"tenant": TENANT})
    assert st == 200
    st, j = await call("GET", hub.url + f"/api/devices/pairing/{code}/status")
    assert (st, j) == (200, {"status": "accepted", "tenant_id": TENANT})


async def test_unknown_expired_rejected_and_bad_bodies(make_hub):
    hub = await make_hub(pairing_expiry=0.3)
    st, _ = await call("GET", hub.url + "/api/devices/pairing/NOPE2345/status")
    assert st == 404
    st, j = await call("POST", hub.url + "/api/devices/pairing", BODY)
    code = j["code"]
    await call("POST", hub.url + f"/api/hub/pairing/{code}/reject")
    st, j = await call("GET", hub.url + f"/api/devices/pairing/{code}/status")
    assert (st, j) == (200, {"status": "rejected"})
    await asyncio.sleep(0.4)
    st, _ = await call("GET", hub.url + f"/api/devices/pairing/{code}/status")
    assert st == 404
    st, _ = await call("POST", hub.url + "/api/devices/pairing", {"public_key": "PEM", "info": {}})
    assert st == 400  # no identity
    st, _ = await call("POST", hub.url + "/api/devices/pairing", dict(BODY, public_key=""))
    assert st == 400


async def test_preauthorised_code_is_accepted_once(hub):
    await call("POST", hub.url + "/api/hub/pairing/K7Q2WXYZ/authorize", {"tenant": TENANT})
    st, j = await call("POST", hub.url + "/api/devices/pairing", dict(BODY, code="K7Q2WXYZ"))
    assert (st, j) == (200, {"status": "accepted", "tenant_id": TENANT})
    st, _ = await call("POST", hub.url + "/api/devices/pairing", dict(BODY, code="K7Q2WXYZ"))
    assert st == 404
