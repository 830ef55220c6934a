"""Self-check of the e2e harness (hub subprocess, nginx TLS, relay) with independent clients.

These test the fixtures the agent's e2e cases rely on; they do not involve the agent.
"""

import json
import ssl
import urllib.request


def test_hub_subprocess_status(hub):
    st = hub.status()
    assert st["devices"] == []
    assert st["config"]["ping_interval"] == 35.0 and st["config"]["ping_timeout"] == 15.0
    assert st["config"]["v1_keepalive_interval"] == 30.0
    assert st["config"]["auth_cache_ttl"] == 30.0
    assert "hub listening on" in hub.log()


def test_hub_time_knobs_from_flags(make_hub):
    h = make_hub("--ping-interval", "2", "--ping-timeout", "1", "--v1-pong-timeout", "3",
                 "--no-auto-accept", "--require-accepted-tunnel")
    cfg = h.status()["config"]
    assert cfg["ping_interval"] == 2.0 and cfg["ping_timeout"] == 1.0
    assert cfg["v1_pong_timeout"] == 3.0
    assert cfg["auto_accept"] is False and cfg["require_accepted_tunnel"] is True


def test_nginx_tls_through_relay(hub, nginx_tls, make_relay):
    relay = make_relay(nginx_tls.port)
    ctx = ssl.create_default_context(cafile=nginx_tls.ca)
    with urllib.request.urlopen(f"https://127.0.0.1:{relay.port}/info", context=ctx,
                                timeout=10) as r:
        info = json.loads(r.read())
    # Host names the relay port; nginx adds X-Forwarded-Port with its own, which wins
    assert info["endpoints"]["api"] == f"127.0.0.1:{nginx_tls.port}"
    snap = relay.snapshot()
    assert snap["connections"] == 1
    # a TLS handshake plus one request and answer: a few hundred bytes each way at least
    assert snap["up"]["payload"] > 200 and snap["down"]["payload"] > 500
    assert snap["up"]["ip_bytes"] == snap["up"]["payload"] + 52 * snap["up"]["segments"]


def test_gateway_flag_starts_ssh_listener(make_hub):
    import socket
    h = make_hub("--gateway-port", "0")
    port = h.status()["gateway_port"]
    assert port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(64).startswith(b"SSH-2.0-")


def test_port_map_flag_opens_port_on_registration(make_hub, device_key_file):
    from cryptography.hazmat.primitives import serialization
    with open(device_key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.PKCS1).decode()
    h = make_hub("--port-map", "Board=0")
    dev = h.api("POST", "/api/devices/auth", {
        "info": {"id": "debian", "pretty_name": "x", "version": "1.0.0", "arch": "amd64",
                 "platform": "native"},
        "identity": {"mac": "02:00:00:00:00:09"}, "hostname": "board", "public_key": pem,
        "tenant_id": "00000000-0000-4000-0000-000000000000"})
    assert dev["name"] == "board"
    assert h.device("board")["port"] > 0
