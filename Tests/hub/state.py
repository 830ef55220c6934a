"""Devices, their status and heartbeats, per-device traffic counters (server/api + dialer)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("hub")

COUNTERS = ("tunnel_up", "tunnel_down", "dialback_up", "dialback_down")


@dataclass
class Device:
    uid: str
    tenant: str
    namespace: str
    name: str
    mac: str
    public_key: str
    info: dict
    status: str = "pending"
    remote_addr: str = ""
    created_at: float = field(default_factory=time.time)
    last_seen: float = 0.0          # wall clock, like the server's last_seen
    disconnected_at: float | None = None
    tunnel: object = None           # TunnelV1 / TunnelV2 while connected
    transport: int | None = None    # 1 or 2 (last tunnel seen)
    connects: int = 0
    evictions: int = 0
    pings_ok: int = 0
    pongs: int = 0
    # bytes: up = agent -> hub, down = hub -> agent; WebSocket payload bytes
    counters: dict = field(default_factory=lambda: {k: 0 for k in COUNTERS})
    port_map: int | None = None
    last_close_reason: str = ""
    # proved its device key once: unsigned auths and tokens issued without the proof refused
    proven: bool = False
    # bumped by the admin route revoke-tokens: older tokens are refused (forces a re-auth)
    token_generation: int = 0

    def online(self, window: float) -> bool:
        # The server's rule: never disconnected since the last tunnel (a fresh device counts)
        # and a heartbeat within the window. `connected` (tunnel up) is reported separately.
        return self.disconnected_at is None and time.time() - self.last_seen <= window

    def heartbeat(self) -> None:
        self.last_seen = time.time()

    def as_json(self, window: float) -> dict:
        return {
            "uid": self.uid, "name": self.name, "namespace": self.namespace,
            "tenant_id": self.tenant, "status": self.status, "online": self.online(window),
            "last_seen": self.last_seen, "disconnected_at": self.disconnected_at,
            "transport": self.transport, "connected": self.tunnel is not None,
            "identity": {"mac": self.mac}, "info": self.info, "remote_addr": self.remote_addr,
            "proven": self.proven, "connects": self.connects, "last_close_reason": self.last_close_reason, "evictions": self.evictions,
            "pings_ok": self.pings_ok, "pongs": self.pongs,
            "bytes": dict(self.counters), "port": self.port_map,
            "sessions": sorted(getattr(self.tunnel, "sessions", {}) or {}) if self.tunnel else [],
        }


def state_line(dev: Device, what: str) -> None:
    """One log line per state change, short enough to grep in test logs."""
    log.info("device %s (%s) %s: status=%s transport=v%s", dev.name, dev.uid[:12], what,
             dev.status, dev.transport)
