"""Device key proof, provisioning keys and login codes of the hub (hub/devicekey.py), driven by
an independent client: its own SSH string encoder and Python `cryptography` signatures, the
cases of ShellHub's TestDeviceKeyProof and every refusal rule."""

import asyncio
import base64
import json
import struct

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hubtest_helpers import TENANT, auth_body, go_rsa_public_pem

pytestmark = pytest.mark.asyncio


def s(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def signed(key, body, challenge, algorithm="rsa-sha2-256"):
    msg = b"".join(s(x.encode()) for x in ("shellhub-device-auth-v1", challenge, body.get("tenant_id", ""),
                                            body.get("provisioning_key", ""), body["public_key"]))
    sig = key.sign(msg, padding.PKCS1v15(), hashes.SHA256() if algorithm == "rsa-sha2-256" else hashes.SHA1())
    return dict(body, challenge=challenge,
                signature=base64.b64encode(s(algorithm.encode()) + s(sig)).decode())


async def call(method, url, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    async with aiohttp.ClientSession() as sess:
        data = None if body is None else json.dumps(body).encode()
        async with sess.request(method, url, data=data, headers=headers) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text.startswith("{") else text)


async def challenge(hub):
    st, j = await call("POST", hub.url + "/api/devices/auth/challenge")
    assert st == 200 and isinstance(j["expires_in"], int) and len(j["challenge"]) >= 16
    assert j["expires_in"] == int(hub.hub.cfg.challenge_ttl)
    return j["challenge"]


async def test_device_key_proof_as_shellhubs_own_test(hub, device_key):
    unsigned = auth_body(go_rsa_public_pem(device_key))
    st, legacy = await call("POST", hub.url + "/api/devices/auth", unsigned)
    assert st == 200
    issued = await challenge(hub)
    st, proven = await call("POST", hub.url + "/api/devices/auth", signed(device_key, unsigned, issued))
    assert st == 200 and proven["uid"] == legacy["uid"]
    # a replayed proof is refused
    st, _ = await call("POST", hub.url + "/api/devices/auth", signed(device_key, unsigned, issued))
    assert st == 403
    # the device's public metadata alone no longer earns its token
    st, _ = await call("POST", hub.url + "/api/devices/auth", unsigned)
    assert st == 403
    # a token issued before the proof is refused; the one issued with it is honoured
    st, _ = await call("GET", hub.url + "/api/devices/auth/status", token=legacy["token"])
    assert st == 401
    st, j = await call("GET", hub.url + "/api/devices/auth/status", token=proven["token"])
    assert (st, j) == (200, {"status": "accepted"})


async def test_every_refusal(make_hub, device_key):
    hub = await make_hub(challenge_ttl=0.3)
    body = auth_body(go_rsa_public_pem(device_key))
    url = hub.url + "/api/devices/auth"
    good = signed(device_key, body, await challenge(hub))
    only_challenge = {k: v for k, v in good.items() if k != "signature"}
    only_signature = {k: v for k, v in good.items() if k != "challenge"}
    assert (await call("POST", url, only_challenge))[0] == 403
    assert (await call("POST", url, only_signature))[0] == 403
    # bad signature: another body's statement (tenant changed after signing), and SHA-1 ssh-rsa
    tampered = dict(signed(device_key, body, await challenge(hub)), hostname="other")
    assert (await call("POST", url, tampered))[0] == 200   # hostname is not signed
    moved = signed(device_key, body, await challenge(hub))
    moved["public_key"] = moved["public_key"].replace("\n-----END", "\n\n-----END")
    assert (await call("POST", url, moved))[0] == 403
    assert (await call("POST", url, signed(device_key, body, await challenge(hub), "ssh-rsa")))[0] == 403
    garbage = dict(signed(device_key, body, await challenge(hub)), signature="not base64!")
    assert (await call("POST", url, garbage))[0] == 403
    # expired
    late = await challenge(hub)
    await asyncio.sleep(0.4)
    assert (await call("POST", url, signed(device_key, body, late)))[0] == 403
    # unknown
    assert (await call("POST", url, signed(device_key, body, "NOSUCHCHALLENGE")))[0] == 403


async def test_require_proof_refuses_unsigned_and_no_proof_is_404(make_hub, device_key):
    strict = await make_hub(require_device_key_proof=True)
    body = auth_body(go_rsa_public_pem(device_key))
    assert (await call("POST", strict.url + "/api/devices/auth", body))[0] == 403
    st, _ = await call("POST", strict.url + "/api/devices/auth",
                       signed(device_key, body, await challenge(strict)))
    assert st == 200
    old = await make_hub(device_key_proof=False)
    st, _ = await call("POST", old.url + "/api/devices/auth/challenge")
    assert st == 404
    assert (await call("POST", old.url + "/api/devices/auth", body))[0] == 200


async def test_provisioning_key_resolves_the_tenant(make_hub, device_key):
    hub = await make_hub(provisioning_keys={"pk-fleet": TENANT})
    body = auth_body(go_rsa_public_pem(device_key), provisioning_key="pk-fleet")
    del body["tenant_id"]
    st, j = await call("POST", hub.url + "/api/devices/auth", body)
    assert st == 200 and j["tenant_id"] == TENANT and j["status"] == "accepted"
    # the older name works too; an unknown key is 400
    older = dict(body, install_key="pk-fleet")
    del older["provisioning_key"]
    assert (await call("POST", hub.url + "/api/devices/auth", older))[0] == 200
    assert (await call("POST", hub.url + "/api/devices/auth", dict(body, provisioning_key="nope")))[0] == 400
    # signed without a tenant: the statement's tenant is empty, its key the one sent
    st, j = await call("POST", hub.url + "/api/devices/auth", signed(device_key, body, await challenge(hub)))
    assert st == 200


async def test_login_code_and_status(make_hub, device_key):
    hub = await make_hub(auto_accept=False)
    st, dev = await call("POST", hub.url + "/api/devices/auth", auth_body(go_rsa_public_pem(device_key)))
    st, j = await call("GET", hub.url + "/api/devices/auth/status", token=dev["token"])
    assert (st, j) == (200, {"status": "pending"})
    st, j = await call("POST", hub.url + "/api/devices/auth/code", token=dev["token"])
    assert st == 200 and len(j["code"]) == 8 and j["expires_in_seconds"] == 600
    assert (await call("POST", hub.url + "/api/devices/auth/code"))[0] == 401
    st, _ = await call("POST", hub.url + f"/api/hub/login-codes/{j['code']}/accept")
    assert st == 200
    st, j = await call("GET", hub.url + "/api/devices/auth/status", token=dev["token"])
    assert (st, j) == (200, {"status": "accepted"})
