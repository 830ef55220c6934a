"""Device key proof (docs/protocol-changes.md; ShellHub after v0.27.0-rc.6, pkg/devicekey):
the agent against the dev hub. The happy path (every auth signed, the device proven), the
fallback to unsigned auth on a server without the challenge route (404, said once), a hub that
requires the proof, and every refusal rule, exercised with the agent's own signed requests
(replayed, split, re-pointed) and with an independent signer (Python `cryptography`) holding the
same device key."""

import base64
import json
import os
import shutil
import re
import time
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from hub.config import DEFAULT_TENANT
from hub.testing import AGENT_HOSTNAME

MAC = "02:00:00:00:02:00"
FALLBACK = r"auth: no device key proof on this server \(404 on challenge\); unsigned"


def call(url, body=None, token=None, method="POST"):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def s(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.PKCS1).decode()


def sign(key, body, challenge, algorithm="rsa-sha2-256"):
    msg = b"".join(s(x.encode()) for x in ("shellhub-device-auth-v1", challenge, body.get("tenant_id", ""),
                                            body.get("provisioning_key", ""), body["public_key"]))
    sig = key.sign(msg, padding.PKCS1v15(), hashes.SHA256() if algorithm == "rsa-sha2-256" else hashes.SHA1())
    return dict(body, challenge=challenge, signature=base64.b64encode(s(algorithm.encode()) + s(sig)).decode())


def unsigned_body(key):
    """What the agent sends for this key, minus the proof (same UID on the hub)."""
    return {"info": {"id": "debian", "pretty_name": "Debian", "version": "0.10.0", "arch": "amd64",
                     "platform": "native"},
            "hostname": AGENT_HOSTNAME, "identity": {"mac": MAC}, "public_key": public_pem(key),
            "tenant_id": DEFAULT_TENANT}


def fresh_challenge(hub):
    st, j = call(hub.url + "/api/devices/auth/challenge")
    assert st == 200, j
    return j["challenge"]


def proof_log(hub):
    return hub.api("GET", "/api/hub/device-auth")


def test_every_auth_is_signed_and_the_device_proven(make_hub, start_agent):
    hub = make_hub()
    agent = start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    dev = hub.wait_device()
    assert dev["proven"] is True
    # Tokens revoked: the re-auth before the next dial is signed again, with a new challenge.
    hub.api("POST", f"/api/hub/devices/{dev['uid']}/revoke-tokens")
    hub.wait_device(lambda d: d["connects"] >= 2 and d["connected"], timeout=60)
    log = proof_log(hub)
    assert log["requests"]["unsigned"] == 0
    assert log["requests"]["signed"] >= 2 and log["requests"]["challenge"] >= 2
    challenges = [b["challenge"] for b in log["signed"]]
    assert len(set(challenges)) == len(challenges)
    assert all(b["signature"] and b["tenant_id"] == DEFAULT_TENANT for b in log["signed"])
    assert "device key proof" not in agent.log()


def test_a_server_without_the_challenge_route_gets_unsigned_auth_said_once(make_hub, start_agent):
    hub = make_hub("--no-device-key-proof")
    agent = start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    dev = hub.wait_device()
    agent.wait_log(FALLBACK)
    hub.api("POST", f"/api/hub/devices/{dev['uid']}/revoke-tokens")
    hub.wait_device(lambda d: d["connects"] >= 2 and d["connected"], timeout=60)
    log = proof_log(hub)
    assert log["requests"]["signed"] == 0 and log["requests"]["unsigned"] >= 2
    assert len(re.findall(FALLBACK, agent.log())) == 1
    assert hub.device(dev["uid"])["proven"] is False


def test_a_hub_that_requires_the_proof_takes_the_agent_not_an_unsigned_one(make_hub, start_agent, device_key_file):
    hub = make_hub("--require-device-key-proof")
    start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    hub.wait_device()
    other = unsigned_body(load_key(device_key_file))
    other["identity"] = {"mac": "02:00:00:00:09:09"}
    st, body = call(hub.url + "/api/devices/auth", other)
    assert st == 403 and "proof required" in body


def test_every_refusal_with_the_agents_own_proof(make_hub, start_agent, device_key_file):
    hub = make_hub("--challenge-ttl", "3")
    key = load_key(device_key_file)
    url = hub.url + "/api/devices/auth"
    # Before the agent: an unsigned auth of the same device (as a released agent would).
    st, legacy = call(url, unsigned_body(key))
    assert st == 200
    agent = start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    dev = hub.wait_device(lambda d: d["connected"] and d["proven"])
    assert dev["uid"] == legacy["uid"]
    theirs = proof_log(hub)["signed"][0]
    assert theirs["public_key"] == public_pem(key)   # the agent signs the PEM it sends
    refusals = {
        "replayed": theirs,
        "challenge alone": {k: v for k, v in theirs.items() if k != "signature"},
        "signature alone": {k: v for k, v in theirs.items() if k != "challenge"},
        "signature for another challenge": dict(theirs, challenge=fresh_challenge(hub)),
        "unsigned after the proof": {k: v for k, v in theirs.items() if k not in ("challenge", "signature")},
        "ssh-rsa (SHA-1)": sign(key, unsigned_body(key), fresh_challenge(hub), "ssh-rsa"),
        "unknown challenge": sign(key, unsigned_body(key), "NOTISSUEDBYTHEHUB"),
    }
    late = fresh_challenge(hub)
    time.sleep(3.5)
    refusals["expired challenge"] = sign(key, unsigned_body(key), late)
    for what, body in refusals.items():
        st, text = call(url, body)
        assert st == 403, (what, st, text)
    # The independent signer with a live challenge is accepted: the refusals were the rules.
    st, fresh = call(url, sign(key, unsigned_body(key), fresh_challenge(hub)))
    assert st == 200
    # A token issued without the proof is refused (401), the one issued with it honoured.
    st, _ = call(hub.url + "/api/devices/auth/status", token=legacy["token"], method="GET")
    assert st == 401
    st, j = call(hub.url + "/api/devices/auth/status", token=fresh["token"], method="GET")
    assert (st, j) == (200, {"status": "accepted"})
    # The agent, signing every auth, stays online through a re-auth.
    hub.api("POST", f"/api/hub/devices/{dev['uid']}/revoke-tokens")
    hub.wait_device(lambda d: d["connects"] >= 2 and d["connected"], timeout=60)
    assert agent.returncode is None


def test_a_server_upgraded_under_a_running_agent_gets_the_proof(make_hub, start_agent):
    # rc.6 first (no challenge route: unsigned), then, on the same address, a server that
    # requires the proof: the unsigned auth gets 403 and the next one is signed.
    from hub.testing import free_port
    port = str(free_port())
    old = make_hub("--port", port, "--no-device-key-proof")
    agent = start_agent(old.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    old.wait_device()
    agent.wait_log(FALLBACK)
    old.stop()
    new = make_hub("--port", port, "--require-device-key-proof")
    dev = new.wait_device(lambda d: d["connected"], timeout=90)
    assert dev["proven"] is True
    log = proof_log(new)
    assert log["requests"]["unsigned"] >= 1 and log["requests"]["signed"] >= 1
    assert len(re.findall(FALLBACK, agent.log())) == 1


def test_a_pending_device_reauthenticates_within_about_a_minute(make_hub, start_agent):
    # The server re-evaluates a pending device's enrollment on its auth, at most once a minute
    # (server/api/services/enrollment.go): the agent re-authenticates every 60 s +- 20 % while
    # pending, instead of its quiet 4 h (TunnelLifecycleTests covers the way back).
    hub = make_hub("--no-auto-accept")
    start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC})
    dev = hub.wait_device(lambda d: d["connected"])
    assert dev["status"] == "pending"
    t0 = time.monotonic()
    while proof_log(hub)["requests"]["signed"] < 2 and time.monotonic() - t0 < 90:
        time.sleep(1)
    waited = time.monotonic() - t0
    assert proof_log(hub)["requests"]["signed"] == 2, waited
    assert 40 <= waited <= 80, waited
    assert hub.device(dev["uid"])["connects"] == 1   # the tunnel stayed up


BOARD = os.path.join(os.path.dirname(__file__), "..", "..", "dist", "raspberrypi4", "tether")


@pytest.mark.skipif(not os.path.exists(BOARD) or not shutil.which("qemu-aarch64-static"),
                    reason="no aarch64 board binary (make cross BOARD=raspberrypi4)")
def test_the_board_binary_signs_under_qemu(make_hub, start_agent):
    # The Embedded build's mbedTLS signature, checked by the hub's Python verifier, on a hub
    # that refuses unsigned agents.
    hub = make_hub("--require-device-key-proof")
    start_agent(hub.url, env={"SHELLHUB_PREFERRED_IDENTITY": MAC}, command=["qemu-aarch64-static", BOARD])
    dev = hub.wait_device(timeout=90)
    assert dev["proven"] is True
    assert proof_log(hub)["requests"]["unsigned"] == 0
