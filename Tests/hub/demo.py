"""`python -m hub.demo` (from Tests/): the hub and the Tether agent on loopback, and the ssh
command that reaches this machine's own shell through the tunnel.

Steps: start the hub (port map for the device `demo`), optionally nginx TLS in front, start
`$TETHER_BIN run` with SHELLHUB_* pointing at it, wait for the tunnel, register a fresh user key
with the hub's /api/auth/ssh oracle (so the agent accepts it), print the ssh command, run one
command through it, then keep everything up until Ctrl-C (or exit at once with --once).
Exit status 3 when the agent binary has no `run` command yet.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .config import DEFAULT_TENANT
from .testing import (AgentProcess, HubProcess, Nginx, agent_env, agent_supports_run,
                      write_device_key)

DEVICE = "demo"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hub.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tether", default=os.environ.get("TETHER_BIN", ""),
                   help="agent binary (default: $TETHER_BIN)")
    p.add_argument("--transport", type=int, default=2, choices=(1, 2))
    p.add_argument("--tls", action="store_true", help="put nginx with a test CA in front")
    p.add_argument("--user", default=getpass.getuser(), help="account to log in as")
    p.add_argument("--once", action="store_true", help="stop after the proof command")
    p.add_argument("--workdir", default="", help="keep files here (default: a temp dir)")
    a = p.parse_args(argv)

    if not a.tether or not os.access(a.tether, os.X_OK):
        print("demo: no agent binary; build it (swift build) or pass --tether", file=sys.stderr)
        return 2
    ok, why = agent_supports_run(a.tether)
    if not ok:
        print(f"demo: {why}; the agent cannot connect yet", file=sys.stderr)
        return 3

    work = a.workdir or tempfile.mkdtemp(prefix="tether-demo-")
    os.makedirs(work, exist_ok=True)
    procs = []
    try:
        hub = HubProcess(os.path.join(work, "hub"), "--port-map", f"{DEVICE}=0").start()
        procs.append(hub)
        server, ca = hub.url, None
        if a.tls:
            ng = Nginx(os.path.join(work, "nginx"), hub.port).start()
            procs.append(ng)
            server, ca = ng.url, ng.ca
        print(f"hub:   {hub.url}  (log {hub.log_path})")
        if a.tls:
            print(f"nginx: {server}  (CA {ca})")
        key_file = write_device_key(os.path.join(work, "device.key"))
        env = agent_env(server, key_file, tenant=DEFAULT_TENANT, transport=a.transport,
                        hostname=DEVICE, ca=ca)
        agent = AgentProcess([a.tether, "run"], env, os.path.join(work, "agent.log"))
        procs.append(agent)
        print(f"agent: {a.tether} run  (log {agent.log_path})")
        dev = hub.wait_device(lambda d: d["name"] == DEVICE and d["connected"], timeout=90)
        port = dev["port"] or hub.port_map(DEVICE)

        user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        id_path = os.path.join(work, "id_rsa")
        with open(id_path, "wb") as f:
            f.write(user_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
        os.chmod(id_path, 0o600)
        hub.api("POST", "/api/hub/ssh-keys", {"private_key": user_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode()})
        ssh = [shutil.which("ssh") or "ssh", "-p", str(port), "-i", id_path,
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", f"{a.user}@127.0.0.1"]
        print("\nReach this machine through the tunnel with:\n  " + " ".join(ssh) + "\n")
        proof = subprocess.run(ssh + ["echo hello from $(hostname) through tether; id -un"],
                               capture_output=True, text=True, timeout=60)
        print(proof.stdout, end="")
        if proof.returncode != 0:
            print(f"demo: ssh failed ({proof.returncode}): {proof.stderr}", file=sys.stderr)
            return 1
        if a.once:
            return 0
        print("Ctrl-C stops the agent and the hub.")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        while agent.returncode is None:
            time.sleep(0.5)
        print(f"demo: agent exited with {agent.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in reversed(procs):
            proc.stop()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
