"""Tenant-less pairing (PROTOCOL.md 4.6; server/api/routes/device-pairing.go).

An agent without a tenant asks `POST /api/devices/pairing` for a code, shows it, and polls
`GET /api/devices/pairing/<code>/status` until a person accepts the code for a namespace (the
web UI's `/accept-device?code=`; here the admin routes `/api/hub/pairing/<code>/accept|reject`).
A code is 8 characters of 23456789ABCDEFGHJKMNPQRSTVWXYZ and lives `pairing_expiry` seconds;
an unknown or expired code's status is 404. A `code` in the request that an admin pre-authorised
(`/api/hub/pairing/<code>/authorize`) is accepted at once."""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web

from .config import DEFAULT_TENANT

log = logging.getLogger("hub")

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


class Pairings:
    def __init__(self, hub):
        self.hub = hub
        self.codes: dict[str, dict] = {}
        self.preauthorized: dict[str, str] = {}   # code -> tenant
        self.requests = {"create": 0, "status": 0}

    def install(self, router) -> None:
        router.add_post("/api/devices/pairing", self.create)
        router.add_get("/api/devices/pairing/{code}/status", self.status)
        router.add_get("/api/hub/pairing", self.admin_list)
        router.add_post("/api/hub/pairing/{code}/accept", self.admin_decide)
        router.add_post("/api/hub/pairing/{code}/reject", self.admin_decide)
        router.add_post("/api/hub/pairing/{code}/authorize", self.admin_authorize)

    def _live(self, code: str) -> dict | None:
        entry = self.codes.get(code)
        if entry is None or entry["expires"] <= time.monotonic():
            return None
        return entry

    async def create(self, request):
        from .core import BindError, _error, _want_str, bind_json   # core imports this module
        self.requests["create"] += 1
        req = await bind_json(request)
        public_key = _want_str(req, "public_key")
        code = _want_str(req, "code")
        _want_str(req, "hostname")
        identity, info = req.get("identity"), req.get("info")
        if not isinstance(identity, dict) or not _want_str(identity, "mac"):
            raise BindError(400, "identity is required")
        if not isinstance(info, dict):
            raise BindError(400, "info is required")
        if not public_key:
            return _error(400, "public_key is required")
        if code:
            tenant = self.preauthorized.pop(code, None)
            if tenant is None:
                return _error(404, "pairing code not found")
            log.info("pairing: pre-authorised code %s used for tenant %s", code, tenant)
            return web.json_response({"status": "accepted", "tenant_id": tenant})
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        expiry = self.hub.cfg.pairing_expiry
        self.codes[code] = {"status": "pending", "tenant": None, "expires": time.monotonic() + expiry,
                            "public_key": public_key, "mac": identity["mac"], "polls": 0}
        log.info("pairing: code %s for %s (%d s)", code, identity["mac"], expiry)
        return web.json_response({"code": code, "expires_in_seconds": int(expiry), "status": "pending"})

    async def status(self, request):
        from .core import _error
        self.requests["status"] += 1
        code = request.match_info["code"]
        entry = self._live(code)
        if entry is None:
            return _error(404, "pairing code not found")
        entry["polls"] += 1
        body = {"status": entry["status"]}
        if entry["status"] == "accepted":
            body["tenant_id"] = entry["tenant"]
        return web.json_response(body)

    async def admin_list(self, request):
        now = time.monotonic()
        return web.json_response({
            "codes": [{"code": c, "status": e["status"], "mac": e["mac"], "polls": e["polls"],
                       "expires_in": round(e["expires"] - now, 1)} for c, e in self.codes.items()],
            "requests": dict(self.requests)})

    async def admin_decide(self, request):
        from .core import _error
        code = request.match_info["code"]
        entry = self._live(code)
        if entry is None:
            return _error(404, "pairing code not found")
        body = await request.json() if request.can_read_body else {}
        if request.path.endswith("/accept"):
            tenant = (body or {}).get("tenant") or DEFAULT_TENANT
            if tenant not in self.hub.cfg.tenants:
                return _error(404, "namespace not found")
            entry["status"], entry["tenant"] = "accepted", tenant
        else:
            entry["status"] = "rejected"
        log.info("pairing: code %s %s", code, entry["status"])
        return web.json_response({"code": code, "status": entry["status"]})

    async def admin_authorize(self, request):
        code = request.match_info["code"]
        body = await request.json() if request.can_read_body else {}
        self.preauthorized[code] = (body or {}).get("tenant") or DEFAULT_TENANT
        return web.json_response({"code": code, "authorized": True})
