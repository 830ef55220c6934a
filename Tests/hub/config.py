"""Knobs of the hub. Defaults equal ShellHub's server; tests compress time with them."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

DEFAULT_TENANT = "00000000-0000-4000-0000-000000000000"
DEFAULT_NAMESPACE = "dev"


def _env(name: str, default):
    raw = os.environ.get("HUB_" + name)
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    return type(default)(raw)


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    # namespace tenant id -> namespace name
    tenants: dict = field(default_factory=lambda: {DEFAULT_TENANT: DEFAULT_NAMESPACE})
    auto_accept: bool = True
    require_accepted_tunnel: bool = False
    # tenant-less pairing: seconds a code lives (server/api/services/device-pairing.go: 10 min)
    pairing_expiry: float = 600.0
    # newer servers answer 401 to a removed device's auth (PROTOCOL.md 11); the snapshot
    # re-registers it as pending
    removed_is_401: bool = False
    # v2 (yamux) server ping loop: server/ssh/pkg/dialer/manager.go
    ping_interval: float = 35.0
    ping_timeout: float = 15.0
    stream_open_timeout: float = 75.0
    # v1 (revdial) control connection
    v1_keepalive_interval: float = 30.0
    v1_ping_interval: float = 30.0
    v1_pong_timeout: float = 35.0
    dialback_timeout: float = 30.0
    # device-auth result cache
    auth_cache_ttl: float = 30.0
    # online <=> tunnel up and last_seen within this window
    online_window: float = 120.0
    # multistream + header handshake bound on a new v2 stream
    stream_handshake_timeout: float = 30.0
    # version reported by /info
    version: str = "v0.27.0-rc.6"
    ssh_port: int = 22
    # gateway mode (0 = off)
    gateway_port: int = -1
    signing_key_file: str = ""
    # gorilla's 1 KiB write buffer: longer server messages are sent as continuation frames
    ws_fragment: int = 1024
    log_level: str = "INFO"
    # device name -> local port (0 = any) of a port map opened when that device registers
    port_maps: dict = field(default_factory=dict)
    # device key proof (newer servers): the challenge route exists (False: 404, as rc.6)
    device_key_proof: bool = True
    # SHELLHUB_REQUIRE_DEVICE_KEY_PROOF=true: every unsigned auth is refused (403)
    require_device_key_proof: bool = False
    challenge_ttl: float = 60.0
    # provisioning key -> tenant (newer servers; `install_key` is the older name)
    provisioning_keys: dict = field(default_factory=dict)
    login_code_expiry: float = 600.0

    @classmethod
    def from_args(cls, argv=None) -> "Config":
        d = cls()
        p = argparse.ArgumentParser(prog="python -m hub", description=__doc__,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--host", default=_env("HOST", d.host))
        p.add_argument("--port", type=int, default=_env("PORT", d.port),
                       help="HTTP port (0 = pick a free one; the log says which)")
        p.add_argument("--tenant", action="append", default=[],
                       help="TENANT_UUID[=namespace], repeatable (default: %s=%s)"
                       % (DEFAULT_TENANT, DEFAULT_NAMESPACE))
        p.add_argument("--no-auto-accept", action="store_true",
                       default=_env("NO_AUTO_ACCEPT", False),
                       help="new devices stay pending until accepted by the admin route")
        p.add_argument("--require-accepted-tunnel", action="store_true",
                       default=_env("REQUIRE_ACCEPTED_TUNNEL", False),
                       help="tunnel endpoints answer 403 to devices that are not accepted")
        p.add_argument("--ping-interval", type=float, default=_env("PING_INTERVAL", d.ping_interval),
                       help="v2: seconds between the hub's yamux pings (after each answer)")
        p.add_argument("--ping-timeout", type=float, default=_env("PING_TIMEOUT", d.ping_timeout),
                       help="v2: seconds to wait for a ping ACK before tearing the tunnel down")
        p.add_argument("--stream-open-timeout", type=float,
                       default=_env("STREAM_OPEN_TIMEOUT", d.stream_open_timeout),
                       help="v2: seconds for the agent to ACK a new stream (else session closed)")
        p.add_argument("--v1-keepalive-interval", type=float,
                       default=_env("V1_KEEPALIVE_INTERVAL", d.v1_keepalive_interval),
                       help="v1: seconds between JSON keep-alive messages")
        p.add_argument("--v1-ping-interval", type=float,
                       default=_env("V1_PING_INTERVAL", d.v1_ping_interval),
                       help="v1: seconds between WebSocket pings")
        p.add_argument("--v1-pong-timeout", type=float,
                       default=_env("V1_PONG_TIMEOUT", d.v1_pong_timeout),
                       help="v1: close when no pong arrived for this many seconds")
        p.add_argument("--auth-cache-ttl", type=float, default=_env("AUTH_CACHE_TTL", d.auth_cache_ttl),
                       help="seconds a device-auth result is cached per UID")
        p.add_argument("--online-window", type=float, default=_env("ONLINE_WINDOW", d.online_window),
                       help="a device is online if its last heartbeat is this recent")
        p.add_argument("--gateway-port", type=int, default=_env("GATEWAY_PORT", d.gateway_port),
                       help="SSH gateway port (-1 = off, 0 = pick a free one)")
        p.add_argument("--signing-key", default=_env("SIGNING_KEY", d.signing_key_file),
                       help="PEM file of the RSA token key (created if missing; default: in memory)")
        p.add_argument("--ws-fragment", type=int, default=_env("WS_FRAGMENT", d.ws_fragment),
                       help="max payload per WebSocket frame of hub messages (0 = unfragmented)")
        p.add_argument("--port-map", action="append", default=[], metavar="NAME=PORT",
                       help="open a port map for device NAME on PORT (0 = any) when it "
                       "registers; repeatable")
        p.add_argument("--pairing-expiry", type=float, default=_env("PAIRING_EXPIRY", d.pairing_expiry),
                       help="seconds a pairing code lives")
        p.add_argument("--removed-is-401", action="store_true", default=_env("REMOVED_IS_401", False),
                       help="device auth of a removed device answers 401 (newer servers)")
        p.add_argument("--no-device-key-proof", action="store_true",
                       default=_env("NO_DEVICE_KEY_PROOF", False),
                       help="no /api/devices/auth/challenge route (404), as v0.27.0-rc.6")
        p.add_argument("--require-device-key-proof", action="store_true",
                       default=_env("REQUIRE_DEVICE_KEY_PROOF", False),
                       help="refuse (403) every device auth without the key proof")
        p.add_argument("--challenge-ttl", type=float, default=_env("CHALLENGE_TTL", d.challenge_ttl),
                       help="seconds a device auth challenge lives")
        p.add_argument("--provisioning-key", action="append", default=[], metavar="KEY=TENANT",
                       help="a provisioning key enrolling into TENANT (default tenant if omitted)")
        p.add_argument("--login-code-expiry", type=float,
                       default=_env("LOGIN_CODE_EXPIRY", d.login_code_expiry),
                       help="seconds a device login code lives")
        p.add_argument("--log-level", default=_env("LOG_LEVEL", d.log_level))
        a = p.parse_args(argv)
        cfg = cls(host=a.host, port=a.port, auto_accept=not a.no_auto_accept,
                  require_accepted_tunnel=a.require_accepted_tunnel,
                  ping_interval=a.ping_interval, ping_timeout=a.ping_timeout,
                  stream_open_timeout=a.stream_open_timeout,
                  v1_keepalive_interval=a.v1_keepalive_interval,
                  v1_ping_interval=a.v1_ping_interval, v1_pong_timeout=a.v1_pong_timeout,
                  auth_cache_ttl=a.auth_cache_ttl, online_window=a.online_window,
                  gateway_port=a.gateway_port, signing_key_file=a.signing_key,
                  ws_fragment=a.ws_fragment, pairing_expiry=a.pairing_expiry,
                  removed_is_401=a.removed_is_401,
                  device_key_proof=not a.no_device_key_proof,
                  require_device_key_proof=a.require_device_key_proof,
                  challenge_ttl=a.challenge_ttl, login_code_expiry=a.login_code_expiry,
                  log_level=a.log_level)
        for pk in a.provisioning_key:
            key, _, tid = pk.partition("=")
            cfg.provisioning_keys[key] = tid or DEFAULT_TENANT
        for pm in a.port_map:
            name, _, port = pm.partition("=")
            cfg.port_maps[name.lower()] = int(port or 0)
        if a.tenant:
            cfg.tenants = {}
            for t in a.tenant:
                tid, _, ns = t.partition("=")
                cfg.tenants[tid] = ns or "ns" + str(len(cfg.tenants))
        return cfg
