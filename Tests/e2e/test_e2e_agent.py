"""The Tether agent against the dev hub. Skipped until `tether help` lists `run`."""

import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture
def user_key(tmp_path, hub):
    """An RSA user key for OpenSSH, registered with the hub's /api/auth/ssh oracle."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "id_rsa"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    hub.api("POST", "/api/hub/ssh-keys", {"private_key": pem})
    return str(path)


def ssh(port: int, key: str, command: str, user: str = "root") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-p", str(port), "-i", key, "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=20", f"{user}@127.0.0.1", command],
        capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("transport", [2, 1])
def test_agent_registers_and_serves_ssh_over_tls(hub, nginx_tls, start_agent, user_key,
                                                 transport):
    agent = start_agent(nginx_tls.url, transport=transport, ca=nginx_tls.ca)
    dev = hub.wait_device(lambda d: d["name"] == "e2e-board" and d["online"], timeout=60)
    assert dev["transport"] == transport and dev["status"] == "accepted"
    port = hub.port_map(dev["uid"])
    r = ssh(port, user_key, "echo tether-e2e-ok")
    assert r.returncode == 0, r.stderr + "\nagent log:\n" + agent.log()[-3000:]
    assert r.stdout.strip() == "tether-e2e-ok"
    assert agent.stop() == 0
    hub.wait_device(lambda d: d["name"] == "e2e-board" and not d["connected"], timeout=15)
