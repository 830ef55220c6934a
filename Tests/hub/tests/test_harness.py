"""The e2e harness pieces (hub subprocess, nginx TLS, agent process, port map, oracle key)
driven end to end with pyagent.py, a Python reference agent that is not Tether."""

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.config import DEFAULT_TENANT
from hub.testing import AgentProcess, HubProcess, Nginx, TrafficRelay, agent_env, write_device_key

PYAGENT = os.path.join(os.path.dirname(__file__), "pyagent.py")


@pytest.mark.parametrize("transport", [2, 1])
def test_reference_agent_through_nginx_and_relay(tmp_path, transport):
    hub = HubProcess(str(tmp_path / "hub"), "--port-map", "e2e-board=0").start()
    ng = relay = agent = None
    try:
        ng = Nginx(str(tmp_path / "nginx"), hub.port).start()
        relay = TrafficRelay(ng.port).start()
        key = write_device_key(str(tmp_path / "device.key"))
        env = agent_env(f"https://127.0.0.1:{relay.port}", key, tenant=DEFAULT_TENANT,
                        transport=transport, ca=ng.ca)
        agent = AgentProcess([sys.executable, PYAGENT, "run"], env, str(tmp_path / "agent.log"))
        dev = hub.wait_device(lambda d: d["name"] == "e2e-board" and d["connected"])
        assert dev["transport"] == transport and dev["port"]
        user = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        id_path = tmp_path / "id_rsa"
        id_path.write_bytes(user.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.OpenSSH,
                                               serialization.NoEncryption()))
        os.chmod(id_path, 0o600)
        hub.api("POST", "/api/hub/ssh-keys", {"private_key": user.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode()})
        r = subprocess.run(["ssh", "-p", str(dev["port"]), "-i", str(id_path),
                            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
                            "root@127.0.0.1", "echo via-harness"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr + agent.log()
        assert r.stdout == "via-harness\n"
        snap = relay.snapshot()
        assert snap["connections"] >= 2 + (transport == 1)   # auth, tunnel (+ dial-back)
        assert snap["up"]["payload"] > 2000 and snap["down"]["payload"] > 2000
        assert agent.stop() == 0
        hub.wait_device(lambda d: d["name"] == "e2e-board" and not d["connected"], timeout=10)
    finally:
        for p in (agent, relay, ng, hub):
            if p is not None:
                p.stop()
