#!/usr/bin/env python3
"""A small reference agent in Python, for checking the harness and the demo runner end to end
without Tether (`TETHER_BIN=Tests/hub/tests/pyagent.py`). It is NOT Tether and proves nothing
about Tether; it shares no code with the hub.

`pyagent.py help` lists `run`; `pyagent.py run` reads SHELLHUB_SERVER_ADDRESS, _PRIVATE_KEY,
_TENANT_ID, _PREFERRED_HOSTNAME, _TRANSPORT_VERSION (and SSL_CERT_FILE for https), registers,
opens the tunnel and serves each session with an asyncssh server that checks user keys through
the hub's /api/auth/ssh oracle and runs commands with `sh -c`. SIGTERM stops it (exit 0).
"""

import asyncio
import base64
import hashlib
import json
import os
import signal
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aiohttp  # noqa: E402
import asyncssh  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from fake_agent import FakeAgentV1, FakeAgentV2, tcp_pipe_handler  # noqa: E402


class DeviceSSH(asyncssh.SSHServer):
    def __init__(self, base, token, name):
        self.base, self.token, self.name = base, token, name

    def begin_auth(self, username):
        return True

    def public_key_auth_supported(self):
        return True

    async def validate_public_key(self, username, key):
        line = key.export_public_key("openssh")
        pub = serialization.load_ssh_public_key(line)
        md5 = hashlib.md5(base64.b64decode(line.split()[1])).hexdigest()
        fp = ":".join(md5[i:i + 2] for i in range(0, 32, 2))
        data = json.dumps({"Username": username, "Namespace": self.name}, separators=(",", ":"))
        async with aiohttp.ClientSession() as s:
            async with s.post(self.base + "/api/auth/ssh", json={"fingerprint": fp, "data": data},
                              headers={"Authorization": "Bearer " + self.token}) as r:
                if r.status != 200:
                    return False
                sig = base64.b64decode((await r.json())["signature"])
        try:
            pub.verify(sig, data.encode(), padding.PKCS1v15(), hashes.SHA256())
            return True
        except Exception:
            return False


async def run_command(process):
    """exec only (no pty, no shell sessions): enough for the harness checks."""
    proc = await asyncio.create_subprocess_shell(process.command or "true",
                                                 stdin=asyncio.subprocess.DEVNULL,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    process.stdout.write(out)
    process.stderr.write(err)
    process.exit(proc.returncode)


async def run() -> int:
    env = os.environ
    base = env["SHELLHUB_SERVER_ADDRESS"].rstrip("/")
    with open(env["SHELLHUB_PRIVATE_KEY"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.PKCS1).decode()
    body = {"info": {"id": "python", "pretty_name": "pyagent", "version": "0.1.0",
                     "arch": "amd64", "platform": "native"},
            "identity": {"mac": env.get("SHELLHUB_PREFERRED_IDENTITY", "02:00:00:00:00:aa")},
            "hostname": env.get("SHELLHUB_PREFERRED_HOSTNAME", ""), "public_key": pem,
            "tenant_id": env["SHELLHUB_TENANT_ID"]}
    ctx = ssl.create_default_context() if base.startswith("https") else None
    async with aiohttp.ClientSession() as s:
        async with s.post(base + "/api/devices/auth", json=body, ssl=ctx) as r:
            if r.status != 200:
                print(f"pyagent: auth failed {r.status}", flush=True)
                return 1
            auth = await r.json()
    print(f"pyagent: registered {auth['name']} uid {auth['uid'][:12]}", flush=True)
    host_key = asyncssh.import_private_key(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    server = await asyncssh.create_server(lambda: DeviceSSH(base, auth["token"], auth["name"]),
                                          "127.0.0.1", 0, server_host_keys=[host_key],
                                          process_factory=run_command, encoding=None)
    port = server.sockets[0].getsockname()[1]
    ws_base = "ws" + base[len("http"):]
    cls = FakeAgentV1 if env.get("SHELLHUB_TRANSPORT_VERSION", "2") == "1" else FakeAgentV2
    agent = await cls(ws_base, auth["token"], handler=tcp_pipe_handler(port), ssl=ctx).connect()
    print("pyagent: tunnel up", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    closed = asyncio.ensure_future(agent.closed.wait())
    await asyncio.wait([closed, asyncio.ensure_future(stop.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    await agent.close()
    server.close()
    return 0 if stop.is_set() else 1


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "help":
        print("usage: pyagent.py <command>\n  run    connect to the hub\n  help   this text")
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        return asyncio.run(run())
    print("pyagent: unknown command", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
