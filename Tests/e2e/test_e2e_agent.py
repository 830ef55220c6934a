"""The Tether agent against the dev hub. Skipped until `tether help` lists `run`."""

import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HOST = "e2e-board"


def register_user_key(hub, path):
    """An RSA user key for OpenSSH, registered with the hub's /api/auth/ssh oracle."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    hub.api("POST", "/api/hub/ssh-keys", {"private_key": key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()})
    return str(path)


def ssh(port: int, key: str, command: str, user: str = "root") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-p", str(port), "-i", key, "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=20", f"{user}@{'127.0.0.1'}",
         command], capture_output=True, text=True, timeout=60)


@pytest.fixture
def ssh_cases():
    """SSH cases run unless TETHER_E2E_SKIP_SSH=1 (an explicit opt-out for a build whose agent
    has no SSH service wired in yet; the skip says so in the report)."""
    if os.environ.get("TETHER_E2E_SKIP_SSH") == "1":
        pytest.skip("TETHER_E2E_SKIP_SSH=1: SSH cases disabled on purpose")


def connected(hub, timeout=60):
    return hub.wait_device(lambda d: d["name"] == HOST and d["connected"], timeout=timeout)


@pytest.mark.parametrize("transport", [2, 1])
def test_agent_online_over_tls_and_answers_heartbeats(make_hub, make_nginx, start_agent,
                                                      transport):
    hub = make_hub("--ping-interval", "1", "--v1-ping-interval", "1",
                   "--v1-keepalive-interval", "1")
    ng = make_nginx(hub)
    agent = start_agent(ng.url, transport=transport, ca=ng.ca)
    dev = connected(hub)
    assert dev["online"] and dev["transport"] == transport and dev["status"] == "accepted"
    assert dev["info"]["platform"] == "native" and dev["remote_addr"] == "127.0.0.1"
    time.sleep(3.5)
    dev = hub.device(HOST)
    assert dev["connected"] and dev["connects"] == 1
    if transport == 2:
        assert dev["pings_ok"] >= 2          # yamux pings answered within the deadline
    else:
        assert dev["pongs"] >= 2             # WebSocket pings answered
    assert agent.stop() == 0
    hub.wait_device(lambda d: d["name"] == HOST and not d["connected"], timeout=15)


@pytest.mark.parametrize("transport", [2, 1])
def test_agent_serves_ssh_through_port_map(hub, nginx_tls, start_agent, tmp_path, transport,
                                          ssh_cases):
    agent = start_agent(nginx_tls.url, transport=transport, ca=nginx_tls.ca)
    dev = connected(hub)
    port = hub.port_map(dev["uid"])
    key = register_user_key(hub, tmp_path / "id_rsa")
    r = ssh(port, key, "echo tether-e2e-ok")
    assert r.returncode == 0, r.stderr + "\nagent log:\n" + agent.log()[-3000:]
    assert r.stdout.strip() == "tether-e2e-ok"


@pytest.mark.parametrize("transport", [2, 1])
def test_agent_via_gateway_like_shellhub(make_hub, tmp_path, start_agent, ssh_cases, transport):
    """ShellHub's path: the hub terminates SSH and logs in to the agent with a minted RSA-4096
    key that the agent checks through /api/auth/ssh (PROTOCOL.md 7.1, 7.3)."""
    hub = make_hub("--gateway-port", "0")
    gw = hub.status()["gateway_port"]
    agent = start_agent(hub.url, transport=transport)
    connected(hub)
    key = tmp_path / "any_user_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    r = subprocess.run(
        ["ssh", "-p", str(gw), "-i", str(key), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "IdentitiesOnly=yes", f"root@{HOST}@127.0.0.1", "echo gateway-ok"],
        capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, (r.stderr + "\nhub log:\n" + hub.log()[-2000:]
                               + "\nagent log:\n" + agent.log()[-2000:])
    assert r.stdout.strip() == "gateway-ok"


@pytest.mark.parametrize("transport", [2, 1])
def test_agent_idle_heartbeat_traffic(make_hub, make_nginx, make_relay, start_agent, transport):
    """IP-level upstream cost of answering the hub's heartbeat over TLS (relay = carrier view).

    Timers are compressed (2 s) so a few cycles fit in the test; the per-cycle cost is what
    the real 35 s / 30 s timers multiply. A Go agent pays 92 B per ping answer (header and
    payload in separate segments) plus its own pings (PROTOCOL.md 8.2, 8.4)."""
    hub = make_hub("--ping-interval", "2", "--v1-ping-interval", "2",
                   "--v1-keepalive-interval", "2")
    ng = make_nginx(hub)
    relay = make_relay(ng.port)
    agent = start_agent(f"https://127.0.0.1:{relay.port}", transport=transport, ca=ng.ca)
    connected(hub)
    time.sleep(3)
    relay.reset()
    before = hub.device(HOST)
    time.sleep(12)
    snap = relay.snapshot()
    after = hub.device(HOST)
    key = "pings_ok" if transport == 2 else "pongs"
    cycles = after[key] - before[key]
    assert cycles >= 4, agent.log()[-2000:]
    up = snap["up"]["ip_bytes"] / cycles
    segs = snap["up"]["segments"] / cycles
    print(f"\nv{transport}: {cycles} cycles, upstream {up:.0f} IP bytes and {segs:.2f} "
          f"segments per cycle, downstream {snap['down']['ip_bytes'] / cycles:.0f}")
    # one answer per cycle (v1 also sends its own JSON keep-alive), ACKs piggybacked
    assert up <= (160 if transport == 2 else 320)
