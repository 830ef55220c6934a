"""ShellHub issue #5946 reproduced: an idle SSH session behind a proxy that drops connections
silent for 8 s (nginx proxy_read_timeout). Tether pings only idle connections, so the session
lives; with the policy told there is no such middlebox, the same session dies (the test can
fail)."""

import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.testing import AGENT_HOSTNAME


def _user_key(tmp_path, hub):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "id_rsa"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    hub.api("POST", "/api/hub/ssh-keys", {"private_key": pem})
    return str(path)


def _idle_session(hub, tmp_path, port):
    key = _user_key(tmp_path, hub)
    # A session that prints once, then stays silent; ServerAlive off: the client adds nothing.
    p = subprocess.Popen(
        ["ssh", "-tt", "-p", str(port), "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ServerAliveInterval=0", "-o", "LogLevel=ERROR",
         "root@127.0.0.1", "echo started; sleep 600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"started"
    return p


@pytest.mark.parametrize("transport", [2, 1])
@pytest.mark.parametrize("middlebox_idle,survives", [("10", True), ("3600", False)],
                         ids=["policy-knows-8s-proxy", "policy-without-middlebox"])
def test_idle_session_through_a_proxy_that_drops_silent_connections(
        make_hub, make_nginx, start_agent, tmp_path, transport, middlebox_idle, survives):
    hub = make_hub("--port-map", f"{AGENT_HOSTNAME}=0")
    nginx = make_nginx(hub, read_timeout="8s")
    agent = start_agent(nginx.url, transport=transport, ca=nginx.ca,
                        env={"TETHER_MIDDLEBOX_IDLE": middlebox_idle})
    dev = hub.wait_device(lambda d: d["name"] == AGENT_HOSTNAME and d["connected"], timeout=30)
    session = _idle_session(hub, tmp_path, hub.port_map(dev["uid"]))
    time.sleep(25)  # three proxy timeouts
    alive = session.poll() is None
    session.kill()
    if survives:
        assert alive, agent.log()[-2000:]
        # The tunnel never dropped either (one connect since start).
        assert hub.device(AGENT_HOSTNAME)["connects"] == 1
    else:
        assert not alive
