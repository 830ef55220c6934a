"""HTTP API of the hub against an independent HTTP client (aiohttp)."""

import base64
import hashlib
import json

import aiohttp
import jwt
import pytest
from hubtest_helpers import TENANT, auth_body, go_rsa_public_pem
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


pytestmark = pytest.mark.asyncio

async def post(url, body=None, *, raw=None, ctype="application/json", headers=None):
    data = raw if raw is not None else json.dumps(body).encode()
    h = {"Content-Type": ctype} if ctype else {}
    h.update(headers or {})
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=data, headers=h) as r:
            text = await r.text()
            try:
                payload = json.loads(text)
            except ValueError:
                payload = text
            return r.status, payload


async def test_info_both_paths(hub):
    async with aiohttp.ClientSession() as s:
        for path in ("/info?agent_version=1.0.0", "/api/info"):
            async with s.get(hub.url + path) as r:
                assert r.status == 200
                j = await r.json()
                assert j["version"] == "v0.27.0-rc.6"
                assert j["endpoints"]["api"] == hub.url.split("//")[1]
                assert j["endpoints"]["ssh"] == "127.0.0.1:22"
                assert j["setup"] is True


async def test_uid_known_vector(hub):
    pem = "-----BEGIN RSA PUBLIC KEY-----\nMAo=\n-----END RSA PUBLIC KEY-----\n"
    # structhash.Dump(models.DeviceAuth{Identity:&{MAC}, PublicKey, TenantID}, 1), written out
    # by hand: Go field names sorted, no quoting of names, strings raw, Hostname skipped.
    expected_dump = ('{Identity:{MAC:"aa:bb:cc:dd:ee:ff"},PublicKey:"' + pem
                     + '",TenantID:"' + TENANT + '"}').encode()
    want = hashlib.sha256(expected_dump).hexdigest()
    st, j = await post(hub.url + "/api/devices/auth", auth_body(pem, hostname="whatever"))
    assert st == 200
    assert j["uid"] == want
    # hostname is not part of the hash
    st, j2 = await post(hub.url + "/api/devices/auth", auth_body(pem, hostname="other"))
    assert j2["uid"] == want
    # the MAC is
    st, j3 = await post(hub.url + "/api/devices/auth", auth_body(pem, mac="aa:bb:cc:dd:ee:00"))
    assert j3["uid"] != want and len(j3["uid"]) == 64


async def test_auth_response_token_and_name(hub, device_key):
    pem = go_rsa_public_pem(device_key)
    st, j = await post(hub.url + "/api/devices/auth", auth_body(pem))
    assert st == 200
    assert j["name"] == "aa-bb-cc-dd-ee-ff"          # MAC with '-' when no hostname
    assert j["namespace"] == "dev"
    assert j["status"] == "accepted"
    hdr = jwt.get_unverified_header(j["token"])
    assert hdr["alg"] == "RS256"
    claims = jwt.decode(j["token"], hub.hub.signer.public_key, algorithms=["RS256"])
    assert claims["claims"] == "device" and claims["uid"] == j["uid"]
    assert claims["tenant"] == TENANT
    assert "exp" not in claims and {"iat", "nbf", "jti"} <= set(claims)


async def test_hostname_rules(hub, device_key):
    pem = go_rsa_public_pem(device_key)
    st, j = await post(hub.url + "/api/devices/auth", auth_body(pem, hostname="Board.Lab-17"))
    assert st == 200 and j["name"] == "board_lab-17"
    for bad in ("has space", "x" * 65, "semi;colon", "ünï"):
        st, _ = await post(hub.url + "/api/devices/auth", auth_body(pem, hostname=bad))
        assert st == 400, bad
    st, j = await post(hub.url + "/api/devices/auth", auth_body(pem, hostname="y" * 64))
    assert st == 200


@pytest.mark.parametrize("mutate,status", [
    (lambda b: b.pop("info"), 400),
    (lambda b: b.update(info=None), 400),
    (lambda b: b.pop("identity"), 400),                      # service rejects no identity
    (lambda b: b.update(public_key=""), 400),
    (lambda b: b.pop("public_key"), 400),
    (lambda b: b.update(tenant_id=""), 400),
    (lambda b: b.update(tenant_id="11111111-2222-4333-8444-555555555555"), 404),
    (lambda b: b.update(hostname=7), 400),                   # JSON type mismatch
    (lambda b: b.update(info="x"), 400),
    (lambda b: b.update(identity={"mac": "m" * 65}), 500),   # column limits
    (lambda b: b["info"].update(version="v" * 33), 500),
    (lambda b: b["info"].update(arch="a" * 17), 500),
    (lambda b: b["info"].update(platform="p" * 33), 500),
    (lambda b: b["info"].update(pretty_name="p" * 257), 500),
    (lambda b: b.update(identity={"mac": ""}), 400),         # no hostname, empty MAC
    (lambda b: b.update(identity={"mac": ""}, hostname="ok"), 200),
    (lambda b: b.update(unknown_field=1, sessions=[]), 200),
])
async def test_auth_validation_matrix(hub, device_key, mutate, status):
    body = auth_body(go_rsa_public_pem(device_key), mac="02:00:00:00:00:01")
    mutate(body)
    st, _ = await post(hub.url + "/api/devices/auth", body)
    assert st == status


async def test_auth_bad_transport_input(hub):
    url = hub.url + "/api/devices/auth"
    assert (await post(url, {"a": 1}, ctype="text/plain"))[0] == 415
    assert (await post(url, {"a": 1}, ctype=None))[0] == 415
    assert (await post(url, raw=b"{not json", ctype="application/json"))[0] == 400
    assert (await post(url, raw=b"[1,2]"))[0] == 400
    assert (await post(url, raw=b"\xff\xfe\x00garbage"))[0] == 400
    assert (await post(url, raw=b""))[0] == 400          # empty body binds nothing
    # the hub survived all of it
    async with aiohttp.ClientSession() as s:
        async with s.get(hub.url + "/info") as r:
            assert r.status == 200


async def test_auth_cache_hides_status(make_hub, device_key):
    h = await make_hub(auth_cache_ttl=1.0)
    body = auth_body(go_rsa_public_pem(device_key))
    st, first = await post(h.url + "/api/devices/auth", body)
    assert "status" in first
    seen = h.device(first["uid"]).last_seen
    st, second = await post(h.url + "/api/devices/auth", body)
    assert st == 200 and "status" not in second
    assert second["uid"] == first["uid"] and second["token"] != first["token"]
    assert h.device(first["uid"]).last_seen == seen     # cache hit: no last_seen update
    import asyncio
    await asyncio.sleep(1.1)
    st, third = await post(h.url + "/api/devices/auth", body)
    assert third["status"] == "accepted"


async def test_pending_when_auto_accept_off(make_hub, device_key):
    h = await make_hub(auto_accept=False, auth_cache_ttl=0)
    body = auth_body(go_rsa_public_pem(device_key))
    st, j = await post(h.url + "/api/devices/auth", body)
    assert j["status"] == "pending"
    st, _ = await post(h.url + f"/api/hub/devices/{j['uid']}/accept", raw=b"")
    assert st == 200
    st, j = await post(h.url + "/api/devices/auth", body)
    assert j["status"] == "accepted"


async def test_auth_ssh_oracle(hub, device_key):
    st, dev = await post(hub.url + "/api/devices/auth", auth_body(go_rsa_public_pem(device_key)))
    bearer = {"Authorization": "Bearer " + dev["token"]}
    user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = user_key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).decode()
    st, reg = await post(hub.url + "/api/hub/ssh-keys", {"private_key": pem})
    fp = reg["fingerprint"]
    blob = base64.b64decode(user_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1])
    md5 = hashlib.md5(blob).hexdigest()
    assert fp == ":".join(md5[i:i + 2] for i in range(0, 32, 2)) and len(fp) == 47
    data = '{"Username":"root","Namespace":"board"}'
    st, j = await post(hub.url + "/api/auth/ssh", {"fingerprint": fp, "data": data},
                       headers=bearer)
    assert st == 200
    user_key.public_key().verify(base64.b64decode(j["signature"]), data.encode(),
                                 padding.PKCS1v15(), hashes.SHA256())
    # unknown fingerprint, missing fields, bad bearer
    st, _ = await post(hub.url + "/api/auth/ssh", {"fingerprint": "00:" * 15 + "00",
                                                   "data": data}, headers=bearer)
    assert st == 404
    st, _ = await post(hub.url + "/api/auth/ssh", {"fingerprint": fp}, headers=bearer)
    assert st == 400
    for h in ({}, {"Authorization": "Bearer garbage"},
              {"Authorization": "bearer " + dev["token"]},
              {"Authorization": "Bearer " + dev["token"][:-4] + "AAAA"}):
        st, _ = await post(hub.url + "/api/auth/ssh", {"fingerprint": fp, "data": data},
                           headers=h)
        assert st == 401, h
    # literal prefix is stripped; a bare token is accepted too (strings.TrimPrefix)
    st, _ = await post(hub.url + "/api/auth/ssh", {"fingerprint": fp, "data": data},
                       headers={"Authorization": dev["token"]})
    assert st == 200
