"""Gateway mode: the hub terminates the user's SSH and logs in to the agent like ShellHub.

The 'agent' here is an asyncssh server reached through the fake agent's tunnel; it records what
the hub's SSH client does and verifies public keys through the hub's /api/auth/ssh oracle.
"""

import asyncio
import base64
import hashlib
import json

import aiohttp
import asyncssh
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from fake_agent import FakeAgentV1, FakeAgentV2
from hubtest_helpers import register, wait_for

pytestmark = pytest.mark.asyncio
PASSWORD = "s3cret"


class AgentSSH(asyncssh.SSHServer):
    """The device's SSH server: records methods, checks keys via the hub oracle."""

    log: list = []

    def __init__(self, hub_url, token):
        self.hub_url = hub_url
        self.token = token

    def connection_made(self, conn):
        AgentSSH.log.append(("connect",))

    def begin_auth(self, username):
        AgentSSH.log.append(("user", username))
        return True

    def password_auth_supported(self):
        return True

    def public_key_auth_supported(self):
        return True

    def validate_password(self, username, password):
        AgentSSH.log.append(("password", password))
        return password == PASSWORD

    async def validate_public_key(self, username, key):
        AgentSSH.log.append(("publickey", key.get_algorithm()))
        der = serialization.load_ssh_public_key(key.export_public_key("openssh"))
        blob = base64.b64decode(key.export_public_key("openssh").split()[1])
        md5 = hashlib.md5(blob).hexdigest()
        fp = ":".join(md5[i:i + 2] for i in range(0, 32, 2))
        data = json.dumps({"Username": username, "Namespace": "board"}, separators=(",", ":"))
        async with aiohttp.ClientSession() as s:
            async with s.post(self.hub_url + "/api/auth/ssh",
                              headers={"Authorization": "Bearer " + self.token},
                              json={"fingerprint": fp, "data": data}) as r:
                if r.status != 200:
                    AgentSSH.log.append(("oracle", r.status))
                    return False
                sig = base64.b64decode((await r.json())["signature"])
        try:
            der.verify(sig, data.encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return False
        AgentSSH.log.append(("oracle", 200, der.key_size))
        return True


async def agent_process(process):
    if process.command == "keepalives":
        # the Go agent's per-session keepalive, and libssh's; the hub answers success to both,
        # failure to anything else (ShellHub's drainAgentRequests)
        conn = process.get_extra_info("connection")
        out = []
        for name in (b"keepalive", b"keepalive@openssh.com", b"tcpip-forward-ish"):
            pkttype, _ = await conn._make_global_request(name)
            out.append(f"{name.decode()}={pkttype}")
        process.stdout.write(" ".join(out) + "\n")
        process.exit(0)
        return
    if process.command:
        process.stdout.write(f"ran {process.command}\n")
        await process.stdout.drain()
        process.exit(7)
        return
    data = await process.stdin.read(5)
    process.stdout.write(data.upper())
    process.exit(0)


@pytest_asyncio.fixture
async def agent_ssh_server():
    servers = []

    async def start(hub_url, token):
        srv = await asyncssh.create_server(
            lambda: AgentSSH(hub_url, token), "127.0.0.1", 0,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            process_factory=agent_process)
        servers.append(srv)
        return srv.sockets[0].getsockname()[1]
    yield start
    for s in servers:
        s.close()


def pipe_to(port):
    from fake_agent import tcp_pipe_handler
    return tcp_pipe_handler(port)


@pytest.mark.parametrize("agent_cls", [FakeAgentV2, FakeAgentV1])
async def test_gateway_password_and_publickey(make_hub, device_key, agent_ssh_server, agent_cls):
    h = await make_hub()
    from hub.gateway import Gateway
    h.hub.gateway = Gateway(h.hub)
    gw_port = await h.hub.gateway.start("127.0.0.1", 0)
    dev = await register(h, device_key, hostname="board")
    ssh_port = await agent_ssh_server(h.url, dev["token"])
    agent = await agent_cls(h.ws_url, dev["token"], handler=pipe_to(ssh_port)).connect()
    await wait_for(lambda: h.device(dev["uid"]).tunnel is not None)
    AgentSSH.log.clear()

    # 1. wrong password, then right one: each attempt is a fresh stream + SSH connection
    async with asyncssh.connect("127.0.0.1", gw_port, username="root@dev.board",
                                password=PASSWORD, known_hosts=None, client_keys=None,
                                preferred_auth="password") as conn:
        r = await conn.run("uname", check=False)
        assert r.exit_status == 7 and r.stdout == "ran uname\n"
        r = await conn.run(input="hello", check=False)
        assert r.stdout == "HELLO"
        r = await conn.run("keepalives", check=False)
        # 81 = SSH_MSG_REQUEST_SUCCESS, 82 = SSH_MSG_REQUEST_FAILURE
        assert r.stdout == "keepalive=81 keepalive@openssh.com=81 tcpip-forward-ish=82\n"
    assert AgentSSH.log[:2] == [("connect",), ("user", "root")]
    assert ("password", PASSWORD) in AgentSSH.log
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect("127.0.0.1", gw_port, username="root@board", password="bad",
                               known_hosts=None, client_keys=None, preferred_auth="password")
    await asyncio.sleep(0.2)
    methods = [e for e in AgentSSH.log if e[0] in ("password", "publickey")]
    assert ("password", "bad") in methods
    opens = len(agent.streams) if agent_cls is FakeAgentV2 else \
        sum(1 for m in agent.control_messages if m.get("command") == "conn-ready")
    assert opens >= 3    # one per attempt, plus the replacement stream after the failure

    # 2. public key: the hub mints an RSA-4096 key, the agent checks it via the oracle
    AgentSSH.log.clear()
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    async with asyncssh.connect("127.0.0.1", gw_port, username="alice@board",
                                client_keys=[user_key], known_hosts=None,
                                preferred_auth="publickey") as conn:
        r = await conn.run("id", check=False)
        assert r.stdout == "ran id\n"
    assert ("user", "alice") in AgentSSH.log
    assert ("oracle", 200, 4096) in AgentSSH.log
    assert not any(e[0] == "password" for e in AgentSSH.log)
    assert h.hub.keyring._keys == {}          # the minted key is forgotten after login

    # 3. unknown device: every method fails
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect("127.0.0.1", gw_port, username="root@nosuch", password="x",
                               known_hosts=None, client_keys=None, preferred_auth="password")
    await agent.close()
