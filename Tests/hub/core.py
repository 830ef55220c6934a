"""The hub: HTTP API, tunnel endpoints, admin routes, device registry."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from aiohttp import WSMsgType, web

from . import keys as keymod
from .config import Config
from .devicekey import DeviceKeyRoutes
from .flood import Flood, FloodError
from .pairing import Pairings
from .portmap import PortMap
from .state import Device, state_line
from .structhash import device_uid
from .tokens import UUID_RE, TokenError, TokenSigner, load_or_create_key
from .tunnel_v1 import DialbackStream, TunnelV1
from .tunnel_v2 import TunnelV2
from .webproxy import WebEndpoint

log = logging.getLogger("hub")

DEVICE_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# PostgreSQL column limits (server/api/store/pg/migrations): exceeding one is a store error, 500
COLUMN_LIMITS = (("mac", 64), ("pretty_name", 256), ("version", 32), ("arch", 16),
                 ("platform", 32), ("remote_addr", 64))
INFO_FIELDS = ("id", "pretty_name", "version", "arch", "platform")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class BindError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def bind_json(request: web.Request) -> dict:
    """echo's DefaultBinder: empty body binds nothing; non-JSON content type is 415;
    malformed JSON or a JSON type mismatch is 400."""
    body = await request.read()
    if not body:
        return {}
    ctype = request.headers.get("Content-Type", "")
    if not ctype.lower().startswith("application/json"):
        raise BindError(415, "Unsupported Media Type")
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BindError(400, "Syntax error in JSON body") from None
    if not isinstance(obj, dict):
        raise BindError(400, "Unmarshal type error: expected an object")
    return obj


def _want_str(obj: dict, key: str) -> str:
    v = obj.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise BindError(400, f"Unmarshal type error: {key} must be a string")
    return v


class Hub:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.signer = TokenSigner(load_or_create_key(cfg.signing_key_file))
        self.keyring = keymod.KeyRing()
        self.devices: dict[str, Device] = {}
        self.auth_cache: dict[str, tuple[float, str, str]] = {}
        self.dialers: dict[str, TunnelV1] = {}
        self.port_maps: dict[str, PortMap] = {}
        self.wanted_ports: dict[str, int] = dict(cfg.port_maps)   # from --port-map
        self.web_endpoints: dict[str, list[WebEndpoint]] = {}     # uid -> listeners
        self.floods: dict[str, Flood] = {}                         # uid -> last flood
        self.gateway = None
        self.keepalives_forwarded = 0   # agent keepalives forwarded to users (gateway mode)
        self.app = self._make_app()

    # -- app ----------------------------------------------------------------------------
    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors_mw], client_max_size=1 << 20)
        r = app.router
        r.add_get("/info", self.info)
        r.add_get("/api/info", self.info)
        r.add_post("/api/devices/auth", self.device_auth)
        r.add_post("/api/auth/ssh", self.auth_ssh)
        r.add_get("/agent/connection", self.tunnel_v2)
        r.add_get("/ssh/connection", self.tunnel_v1)
        r.add_get("/ssh/revdial", self.revdial)
        r.add_get("/api/hub/status", self.admin_status)
        r.add_post("/api/hub/devices/{dev}/accept", self.admin_set_status)
        r.add_post("/api/hub/devices/{dev}/reject", self.admin_set_status)
        r.add_delete("/api/hub/devices/{dev}", self.admin_remove)
        r.add_post("/api/hub/devices/{dev}/port-map", self.admin_port_map)
        r.add_post("/api/hub/devices/{dev}/disconnect", self.admin_disconnect)
        r.add_post("/api/hub/devices/{dev}/revoke-tokens", self.admin_revoke_tokens)
        r.add_post("/api/hub/devices/{dev}/close-session", self.admin_close_session)
        r.add_post("/api/hub/ssh-keys", self.admin_add_key)
        r.add_post("/api/hub/devices/{dev}/web-endpoints", self.admin_web_endpoint_add)
        r.add_get("/api/hub/devices/{dev}/web-endpoints", self.admin_web_endpoints)
        r.add_post("/api/hub/devices/{dev}/flood", self.admin_flood)
        r.add_get("/api/hub/devices/{dev}/flood", self.admin_flood_report)
        r.add_delete("/api/hub/devices/{dev}/flood", self.admin_flood_release)
        self.pairings = Pairings(self)
        self.pairings.install(r)
        self.devicekey = DeviceKeyRoutes(self)
        self.devicekey.install(r)
        return app

    @web.middleware
    async def _errors_mw(self, request, handler):
        try:
            return await handler(request)
        except BindError as e:
            return _error(e.status, str(e))
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never let a broken agent crash the hub
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(500, f"internal error: {e!r}")

    # -- helpers ------------------------------------------------------------------------
    def find(self, key: str) -> Device | None:
        if key in self.devices:
            return self.devices[key]
        for d in self.devices.values():
            if d.name == key:
                return d
        return None

    def _bearer(self, request) -> dict:
        try:
            claims = self.signer.verify_header(request.headers.get("Authorization"))
        except TokenError as e:
            raise web.HTTPUnauthorized(text=json.dumps({"message": str(e)}),
                                       content_type="application/json") from None
        dev = self.devices.get(claims["uid"])
        if dev is not None and claims.get("gen", 0) < dev.token_generation:
            raise web.HTTPUnauthorized(text='{"message":"token revoked"}', content_type="application/json")
        if dev is not None and dev.proven and not claims.get("proof"):
            # A device that proved its key no longer honours tokens issued without the proof.
            raise web.HTTPUnauthorized(text='{"message":"token issued without the device key proof"}',
                                       content_type="application/json")
        return claims

    # -- public API ---------------------------------------------------------------------
    async def info(self, request):
        host = request.host
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        fwd = request.headers.get("X-Forwarded-Port")
        api = f"{hostname}:{fwd}" if fwd else host
        return web.json_response({
            "version": self.cfg.version,
            "endpoints": {"api": api, "ssh": f"{hostname}:{self.cfg.ssh_port}"},
            "setup": True, "authentication": {"local": True}})

    async def device_auth(self, request):
        req = await bind_json(request)
        hostname = _want_str(req, "hostname").replace(".", "_")
        public_key = _want_str(req, "public_key")
        tenant = tenant_raw = _want_str(req, "tenant_id")
        install_key = _want_str(req, "install_key")
        provisioning_raw = _want_str(req, "provisioning_key")
        provisioning = provisioning_raw or install_key
        challenge = _want_str(req, "challenge")
        signature = _want_str(req, "signature")
        info = req.get("info")
        identity = req.get("identity")
        if info is not None and not isinstance(info, dict):
            raise BindError(400, "Unmarshal type error: info")
        if identity is not None and not isinstance(identity, dict):
            raise BindError(400, "Unmarshal type error: identity")
        info = None if info is None else {k: _want_str(info, k) for k in INFO_FIELDS}
        mac = None if identity is None else _want_str(identity, "mac")
        sessions = req.get("sessions")
        if sessions is not None and not (isinstance(sessions, list)
                                         and all(isinstance(s, str) for s in sessions)):
            raise BindError(400, "Unmarshal type error: sessions")
        # validator
        if info is None:
            return _error(400, "info is required")
        if not public_key:
            return _error(400, "public_key is required")
        key_tenant = None
        if provisioning:
            key_tenant = self.cfg.provisioning_keys.get(provisioning)
            if key_tenant is None:
                return _error(400, "invalid provisioning key")
            if tenant and tenant != key_tenant:
                return _error(400, "the provisioning key belongs to another namespace")
            tenant = key_tenant
        if not tenant:
            return _error(400, "tenant_id is required")
        refusal = self.devicekey.check_proof(req, challenge, signature, tenant_raw,
                                             provisioning_raw, public_key)
        if refusal:
            return _error(403, refusal)
        proven_now = bool(challenge)
        if not hostname and identity is None:
            return _error(400, "hostname or identity is required")
        if hostname and not DEVICE_NAME_RE.match(hostname):
            return _error(400, "invalid hostname")
        # service
        namespace = self.cfg.tenants.get(tenant)
        if namespace is None:
            return _error(404, "namespace not found")
        if identity is None:
            return _error(400, "device has no identity")
        name = (hostname or mac.replace(":", "-")).lower()
        if not name:
            return _error(400, "device has neither identity nor hostname")
        uid = device_uid(mac, public_key, tenant)
        known = self.devices.get(uid)
        if not proven_now and known is not None and known.proven:
            return _error(403, "the device proved its key: unsigned auth refused")
        token = self.signer.issue(uid, tenant, proof=proven_now,
                                  generation=known.token_generation if known else 0)
        now = time.monotonic()
        gone = self.devices.get(uid)
        if gone is not None and gone.status == "removed" and self.cfg.removed_is_401:
            # Newer servers (PROTOCOL.md 11): a removed device's auth is refused with 401.
            return _error(401, "device removed")
        cached = self.auth_cache.get(uid)
        if cached and cached[0] > now:
            if proven_now:
                self.devices[uid].proven = True
            return web.json_response({"uid": uid, "token": token, "name": cached[1],
                                      "namespace": cached[2], "tenant_id": tenant})
        remote = request.headers.get("X-Real-IP") or (request.remote or "")
        fields = dict(info, mac=mac, remote_addr=remote)
        for col, limit in COLUMN_LIMITS:
            if len(fields.get(col) or "") > limit:
                return _error(500, f"store error: {col} longer than {limit}")
        dev = self.devices.get(uid)
        if dev is None:
            dev = Device(uid=uid, tenant=tenant, namespace=namespace, name=name, mac=mac,
                         public_key=public_key, info=info,
                         status="accepted" if self.cfg.auto_accept or key_tenant else "pending",
                         remote_addr=remote)
            self.devices[uid] = dev
            state_line(dev, "registered")
            if name in self.wanted_ports:
                await self.ensure_port_map(dev, self.wanted_ports[name])
        else:
            if dev.status == "removed":
                dev.status = "pending"
                state_line(dev, "re-registered")
            dev.info, dev.remote_addr, dev.name = info, remote, name
        if proven_now:
            dev.proven = True
        dev.heartbeat()
        self.auth_cache[uid] = (now + self.cfg.auth_cache_ttl, dev.name, namespace)
        return web.json_response({"uid": uid, "token": token, "name": dev.name,
                                  "namespace": namespace, "status": dev.status, "tenant_id": tenant})

    async def auth_ssh(self, request):
        self._bearer(request)
        req = await bind_json(request)
        fp = _want_str(req, "fingerprint")
        data = _want_str(req, "data")
        if not fp or not data:
            return _error(400, "fingerprint and data are required")
        key = self.keyring.get(fp)
        if key is None:
            return _error(404, "public key not found")
        return web.json_response({"signature": keymod.sign_data(key, data)})

    # -- tunnels ------------------------------------------------------------------------
    def _tunnel_device(self, request, version: int) -> Device:
        claims = self._bearer(request)
        uid, tenant = claims["uid"], claims["tenant"]
        if version == 2 and (len(uid) != 64 or not UUID_RE.match(tenant)):
            raise web.HTTPBadRequest(text="invalid device headers")
        dev = self.devices.get(uid)
        if dev is None:
            # A valid token for a device this hub forgot (restart with a kept signing key):
            # the server would still take the tunnel.
            dev = Device(uid=uid, tenant=tenant, namespace=self.cfg.tenants.get(tenant, "?"),
                         name=uid[:12], mac="", public_key="", info={}, status="accepted")
            self.devices[uid] = dev
        if self.cfg.removed_is_401 and dev.status == "removed":
            # Newer servers delete a removed device: its token no longer opens a tunnel.
            raise web.HTTPUnauthorized(text="device removed")
        if self.cfg.require_accepted_tunnel and dev.status != "accepted":
            raise web.HTTPForbidden(text="device not accepted")
        return dev

    def _attach(self, dev: Device, tunnel) -> None:
        old = dev.tunnel
        if old is not None:
            dev.evictions += 1
            old.close("evicted by a new registration")
            state_line(dev, "evicted previous tunnel")
        dev.tunnel = tunnel
        dev.transport = tunnel.version
        dev.connects += 1
        dev.disconnected_at = None
        dev.heartbeat()
        state_line(dev, "online")

    def _detach(self, dev: Device, tunnel, reason: str) -> None:
        if dev.tunnel is tunnel:
            dev.tunnel = None
            dev.disconnected_at = time.time()
            dev.last_close_reason = reason
            state_line(dev, f"offline ({reason})")

    async def _serve_tunnel(self, request, cls, version: int):
        dev = self._tunnel_device(request, version)
        ws = web.WebSocketResponse(autoping=(version == 2), max_msg_size=0, compress=False)
        transport = request.transport
        await ws.prepare(request)
        tunnel = cls(self, dev, ws, transport)
        if version == 1:
            self.dialers[tunnel.dialer_id] = tunnel
        self._attach(dev, tunnel)
        reason = "?"
        try:
            reason = await tunnel.run()
        finally:
            tunnel.close(reason)
            self._detach(dev, tunnel, tunnel.closed_reason or reason)
        return ws

    async def tunnel_v2(self, request):
        return await self._serve_tunnel(request, TunnelV2, 2)

    async def tunnel_v1(self, request):
        return await self._serve_tunnel(request, TunnelV1, 1)

    async def revdial(self, request):
        tunnel = self.dialers.get(request.query.get("revdial.dialer", ""))
        if tunnel is None:
            return web.Response(status=400, text="unknown dialer")
        u = request.query.get("uuid", "")
        if u not in tunnel.pending:
            return web.Response(status=400, text="unknown uuid")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0, compress=False)
        transport = request.transport
        await ws.prepare(request)
        stream = DialbackStream(ws, tunnel.dev, transport, self.cfg.ws_fragment)
        if not tunnel.deliver(u, stream):
            await ws.close()
            return ws
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    stream._feed(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    break
                else:
                    break
        finally:
            stream._eof()
            for sid, s in list(tunnel.sessions.items()):
                if s is stream:
                    tunnel.sessions.pop(sid, None)
        return ws

    async def open_session(self, key: str, sid: str):
        dev = self.find(key)
        if dev is None or dev.tunnel is None:
            raise ConnectionError(f"device {key} not connected")
        return await dev.tunnel.open_session(sid)

    async def open_proxy(self, key: str, rid: str, host: str, port: int):
        """A proxy connection to host:port on the device's side (PROTOCOL.md 6): returns
        (stream, leftover bytes, the agent's answer) or raises webproxy.ProxyRefused."""
        dev = self.find(key)
        if dev is None or dev.tunnel is None:
            raise ConnectionError(f"device {key} not connected")
        return await dev.tunnel.open_proxy(rid, host, port)

    async def ensure_port_map(self, dev: Device, port: int = 0) -> int:
        pm = self.port_maps.get(dev.uid)
        if pm is None:
            pm = PortMap(self, dev.uid)
            await pm.start(self.cfg.host, port)
            self.port_maps[dev.uid] = pm
            dev.port_map = pm.port
            log.info("port map for %s: ssh -p %d USER@%s", dev.name, pm.port, self.cfg.host)
        return pm.port

    # -- admin --------------------------------------------------------------------------
    def _admin_dev(self, request) -> Device:
        dev = self.find(request.match_info["dev"])
        if dev is None:
            raise web.HTTPNotFound(text="no such device")
        return dev

    async def admin_status(self, request):
        w = self.cfg.online_window
        return web.json_response({
            "devices": [d.as_json(w) for d in self.devices.values()],
            "gateway_port": self.gateway.port if self.gateway else None,
            "keepalives_forwarded": self.keepalives_forwarded,
            "config": {k: v for k, v in vars(self.cfg).items() if k != "tenants"}
            | {"tenants": self.cfg.tenants}})

    async def admin_set_status(self, request):
        dev = self._admin_dev(request)
        dev.status = "accepted" if request.path.endswith("/accept") else "rejected"
        self.auth_cache.pop(dev.uid, None)
        if dev.status == "accepted" and dev.mac:
            # ShellHub merges on accept: another device of the namespace with the same
            # identity.mac is replaced by this one, which takes its name (Tests/interop).
            for other in list(self.devices.values()):
                if other is not dev and other.tenant == dev.tenant and other.mac == dev.mac:
                    dev.name = other.name
                    del self.devices[other.uid]
                    self.auth_cache.pop(other.uid, None)
                    state_line(other, f"merged into {dev.uid[:12]}")
        state_line(dev, "status changed")
        return web.json_response(dev.as_json(self.cfg.online_window))

    async def admin_revoke_tokens(self, request):
        """Every token issued so far is refused (401) and the tunnel closed: the agent must
        authenticate again before its next dial (tests of what each auth sends)."""
        dev = self._admin_dev(request)
        dev.token_generation += 1
        self.auth_cache.pop(dev.uid, None)
        if dev.tunnel:
            dev.tunnel.close("tokens revoked")
        state_line(dev, "tokens revoked")
        return web.json_response({"uid": dev.uid, "generation": dev.token_generation})

    async def admin_remove(self, request):
        dev = self._admin_dev(request)
        dev.status = "removed"
        if self.cfg.removed_is_401:
            self.auth_cache.pop(dev.uid, None)
        # else, as the snapshot: its cached auth answer (30 s) survives the removal.
        if dev.tunnel and self.cfg.removed_is_401:
            # Newer servers. The snapshot (v0.27.0-rc.6, measured in Tests/interop) leaves the
            # tunnel up and keeps accepting the device's token; only its gateway refuses it.
            dev.tunnel.close("device removed")
        state_line(dev, "removed")
        return web.json_response({"uid": dev.uid})

    async def admin_port_map(self, request):
        dev = self._admin_dev(request)
        body = await bind_json(request)
        port = await self.ensure_port_map(dev, int(body.get("port", 0) or 0))
        return web.json_response({"uid": dev.uid, "port": port})

    async def admin_disconnect(self, request):
        dev = self._admin_dev(request)
        if dev.tunnel:
            dev.tunnel.close("disconnected by admin")
        return web.json_response({"uid": dev.uid})

    async def admin_close_session(self, request):
        dev = self._admin_dev(request)
        body = await bind_json(request)
        if dev.tunnel is None:
            return _error(409, "device not connected")
        reply = await dev.tunnel.close_session(_want_str(body, "id"))
        return web.json_response({"uid": dev.uid,
                                  "reply": reply.decode("latin-1") if reply else ""})

    async def admin_web_endpoint_add(self, request):
        dev = self._admin_dev(request)
        body = await bind_json(request)
        host = _want_str(body, "host")
        port = body.get("port")
        listen = body.get("listen", 0) or 0
        if not host or not isinstance(port, int) or not 1 <= port <= 65535 \
                or not isinstance(listen, int):
            return _error(400, "host (string) and port (1..65535) are required")
        ep = WebEndpoint(self, dev.uid, host, port)
        await ep.start(self.cfg.host, listen)
        self.web_endpoints.setdefault(dev.uid, []).append(ep)
        log.info("web endpoint for %s: 127.0.0.1:%d -> %s:%d on the device", dev.name, ep.port,
                 host, port)
        return web.json_response({"uid": dev.uid, **ep.as_json()})

    async def admin_web_endpoints(self, request):
        dev = self._admin_dev(request)
        return web.json_response({"uid": dev.uid, "web_endpoints": [
            ep.as_json() for ep in self.web_endpoints.get(dev.uid, [])]})

    async def admin_flood(self, request):
        dev = self._admin_dev(request)
        body = await bind_json(request)
        if dev.tunnel is None:
            return _error(409, "device not connected")
        old = self.floods.get(dev.uid)
        if old is not None and not old.released and old.tunnel is dev.tunnel:
            return _error(409, "a flood is held on this tunnel: DELETE it first")
        try:
            flood = Flood(self, dev, streams=int(body.get("streams", 500)),
                          kinds=body.get("kinds"), batch=int(body.get("batch", 0)),
                          settle=float(body.get("settle", 5.0)),
                          hold=float(body.get("hold", 60.0)))
        except (FloodError, TypeError, ValueError) as e:
            return _error(400, str(e))
        self.floods[dev.uid] = flood
        return web.json_response(await flood.run())

    async def admin_flood_report(self, request):
        dev = self._admin_dev(request)
        flood = self.floods.get(dev.uid)
        if flood is None:
            return _error(404, "no flood")
        return web.json_response(flood.report())

    async def admin_flood_release(self, request):
        dev = self._admin_dev(request)
        flood = self.floods.get(dev.uid)
        if flood is None:
            return _error(404, "no flood")
        mode = request.query.get("mode", "fin")
        try:
            wait = float(request.query.get("wait", "5"))
            out = await flood.release(mode, wait)
        except (FloodError, ValueError) as e:
            return _error(400, str(e))
        return web.json_response(out | {"report": flood.report()})

    async def admin_add_key(self, request):
        body = await bind_json(request)
        try:
            fp = self.keyring.add_pem(_want_str(body, "private_key"))
        except (ValueError, TypeError) as e:
            return _error(400, f"bad key: {e}")
        return web.json_response({"fingerprint": fp})
