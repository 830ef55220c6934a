"""Device key proof, provisioning keys and login codes of ShellHub after v0.27.0-rc.6
(pkg/devicekey/devicekey.go, server/api/services/auth.go, openapi
api@devices@auth@challenge.yaml and api@devices@auth@code.yaml, tests TestDeviceKeyProof;
docs/protocol-changes.md).

* `POST /api/devices/auth/challenge` (anonymous) -> `{"challenge", "expires_in": 60}`; a
  challenge is single-use and lives `challenge_ttl` seconds. With `--no-device-key-proof` the
  route does not exist (404), as on v0.27.0-rc.6.
* `/api/devices/auth` with `challenge` and `signature`: the signature is standard base64 of an
  SSH signature (`string "rsa-sha2-256"`, `string blob`) over the SSH wire encoding of
  "shellhub-device-auth-v1", challenge, tenant_id, provisioning_key, public_key (as the request
  carries them; absent = empty), RSASSA-PKCS1-v1_5 SHA-256 with the device key. Refused (403):
  one of the two members alone, an unknown, expired or used challenge, a bad signature
  (`ssh-rsa`/SHA-1 included), an unsigned request for a device that proved its key, or any
  unsigned request with `--require-device-key-proof`. A device that proved its key no longer
  honours tokens issued without the proof (401).
* Provisioning keys (`--provisioning-key KEY=TENANT`): `provisioning_key` in the auth body (or
  the older `install_key`) enrols the device into the key's namespace, accepted at once; without
  a `tenant_id` the tenant is resolved from the key; the answer carries `tenant_id`. An unknown
  key is 400.
* Login codes: `POST /api/devices/auth/code` (bearer, empty body) -> `{"code",
  "expires_in_seconds": 600}`; `GET /api/devices/auth/status` (bearer) -> `{"status"}`. Admin:
  `GET /api/hub/login-codes`, `POST /api/hub/login-codes/{code}/accept`.
"""

from __future__ import annotations

import base64
import secrets
import struct
import time

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PURPOSE = "shellhub-device-auth-v1"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def statement(challenge: str, tenant_id: str, provisioning_key: str, public_key: str) -> bytes:
    return b"".join(ssh_string(s.encode()) for s in (PURPOSE, challenge, tenant_id,
                                                      provisioning_key, public_key))


def read_ssh_strings(raw: bytes) -> list:
    out, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise ValueError("truncated length")
        n = struct.unpack(">I", raw[i:i + 4])[0]
        if i + 4 + n > len(raw):
            raise ValueError("truncated string")
        out.append(raw[i + 4:i + 4 + n])
        i += 4 + n
    return out


def sign(private_key: rsa.RSAPrivateKey, message: bytes, algorithm: str = "rsa-sha2-256") -> str:
    """What an agent sends as `signature` (tests; `ssh-rsa` makes the SHA-1 one servers refuse)."""
    h = hashes.SHA256() if algorithm == "rsa-sha2-256" else hashes.SHA1()
    blob = private_key.sign(message, padding.PKCS1v15(), h)
    return base64.b64encode(ssh_string(algorithm.encode()) + ssh_string(blob)).decode()


def verify(public_key_pem: str, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        parts = read_ssh_strings(raw)
        if len(parts) != 2 or parts[0] != b"rsa-sha2-256":
            return False
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        key.verify(parts[1], message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (ValueError, InvalidSignature, TypeError):
        return False


class DeviceKeyRoutes:
    def __init__(self, hub):
        self.hub = hub
        self.challenges: dict[str, float] = {}      # challenge -> expiry (monotonic)
        self.login_codes: dict[str, dict] = {}      # code -> {uid, expires}
        self.signed_auths: list = []                # bodies of signed auths seen (tests replay)
        self.requests = {"challenge": 0, "signed": 0, "unsigned": 0, "code": 0, "status": 0}

    def install(self, router) -> None:
        if self.hub.cfg.device_key_proof:
            router.add_post("/api/devices/auth/challenge", self.challenge)
        router.add_post("/api/devices/auth/code", self.login_code)
        router.add_get("/api/devices/auth/status", self.auth_status)
        router.add_get("/api/hub/device-auth", self.admin_log)
        router.add_get("/api/hub/login-codes", self.admin_login_codes)
        router.add_post("/api/hub/login-codes/{code}/accept", self.admin_login_accept)

    async def challenge(self, request):
        self.requests["challenge"] += 1
        now = time.monotonic()
        for c in [c for c, exp in self.challenges.items() if exp <= now]:
            del self.challenges[c]
        c = "".join(secrets.choice(CODE_ALPHABET) for _ in range(26))
        self.challenges[c] = now + self.hub.cfg.challenge_ttl
        return web.json_response({"challenge": c, "expires_in": int(self.hub.cfg.challenge_ttl)})

    def check_proof(self, req: dict, challenge: str, signature: str, tenant_raw: str,
                    provisioning_raw: str, public_key: str) -> str | None:
        """The refusal (403) text for the proof members of an auth body, or None when they
        prove the key (or are both absent)."""
        if bool(challenge) != bool(signature):
            return "challenge and signature must be sent together"
        if not challenge:
            self.requests["unsigned"] += 1
            if self.hub.cfg.require_device_key_proof:
                return "device key proof required"
            return None
        self.requests["signed"] += 1
        self.signed_auths.append(dict(req))
        exp = self.challenges.pop(challenge, None)
        if exp is None or exp <= time.monotonic():
            return "unknown, expired or used challenge"
        msg = statement(challenge, tenant_raw, provisioning_raw, public_key)
        if not verify(public_key, msg, signature):
            return "invalid device key proof"
        return None

    def device_of(self, request):
        claims = self.hub._bearer(request)
        dev = self.hub.devices.get(claims["uid"])
        if dev is None:
            raise web.HTTPUnauthorized(text='{"message":"unknown device"}', content_type="application/json")
        return dev

    async def login_code(self, request):
        self.requests["code"] += 1
        dev = self.device_of(request)
        for c in [c for c, e in self.login_codes.items() if e["uid"] == dev.uid]:
            del self.login_codes[c]    # a new code invalidates the previous one
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        ttl = int(self.hub.cfg.login_code_expiry)
        self.login_codes[code] = {"uid": dev.uid, "expires": time.monotonic() + ttl}
        return web.json_response({"code": code, "expires_in_seconds": ttl})

    async def auth_status(self, request):
        self.requests["status"] += 1
        dev = self.device_of(request)
        return web.json_response({"status": dev.status})

    async def admin_log(self, request):
        return web.json_response({"requests": self.requests, "signed": self.signed_auths,
                                  "proven": sorted(d.uid for d in self.hub.devices.values() if d.proven)})

    async def admin_login_codes(self, request):
        now = time.monotonic()
        return web.json_response({"codes": [
            {"code": c, "uid": e["uid"], "live": e["expires"] > now} for c, e in self.login_codes.items()]})

    async def admin_login_accept(self, request):
        e = self.login_codes.get(request.match_info["code"])
        if e is None or e["expires"] <= time.monotonic():
            return web.json_response({"message": "login code not found"}, status=404)
        dev = self.hub.devices[e["uid"]]
        dev.status = "accepted"
        self.hub.auth_cache.pop(dev.uid, None)
        return web.json_response(dev.as_json(self.hub.cfg.online_window))
