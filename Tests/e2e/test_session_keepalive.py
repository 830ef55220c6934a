"""Per-session SSH keepalives (PROTOCOL.md 7.9; ShellHub's tests/ssh_test.go "connection
keepalive reaches the client"): an explicitly set SHELLHUB_KEEPALIVE_INTERVAL turns them on,
unset stays quiet. Seen by the user's real OpenSSH client (`ssh -vvv` logs every global request
it receives): directly through a port map (the agent's `keepalive@openssh.com`) and through the
hub's SSH gateway, which forwards it as `keepalive@shellhub.io` as ShellHub's does."""

import re
import subprocess
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import _askpass, write_shadow

RTYPE = re.compile(r"client_input_global_request: rtype (\S+) want_reply (\d)")
# SSH_OPTS without LogLevel=ERROR, which would hide -vvv's debug lines.
VERBOSE = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=30"]


def _global_requests(stderr: str) -> list:
    return RTYPE.findall(stderr)


@pytest.mark.parametrize("transport", [2, 1])
@pytest.mark.parametrize("interval", ["1", None], ids=["interval-1", "unset"])
def test_keepalives_reach_the_client_only_when_the_interval_is_set(
        make_hub, start_agent, tmp_path, transport, interval):
    hub = make_hub("--port-map", f"{HOST}=0")
    env = {"SHELLHUB_KEEPALIVE_INTERVAL": interval} if interval else {}
    agent = start_agent(hub.url, transport=transport, env=env)
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    r = subprocess.run(["ssh", "-vvv", "-p", str(hub.port_map(dev["uid"])), "-i", key, *VERBOSE,
                        "-o", "ServerAliveInterval=0", "root@127.0.0.1", "sleep 4; echo done"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr[-2000:] + agent.log()[-1500:]
    seen = _global_requests(r.stderr)
    if interval:
        # About one a second for 4 s; want_reply 1, and OpenSSH's answers kept the session up.
        assert len(seen) >= 3, seen
        assert set(seen) == {("keepalive@openssh.com", "1")}
    else:
        assert seen == []


@pytest.mark.parametrize("interval", ["1", None], ids=["interval-1", "unset"])
def test_keepalive_forwarded_by_the_gateway(make_hub, start_agent, tmp_path, interval):
    hub = make_hub("--gateway-port", "0")
    gw = hub.status()["gateway_port"]
    env = {"TETHER_SHADOW_FILE": write_shadow(tmp_path)}
    if interval:
        env["SHELLHUB_KEEPALIVE_INTERVAL"] = interval
    agent = start_agent(hub.url, env=env)
    connected(hub)
    r = subprocess.run(
        ["ssh", "-vvv", "-p", str(gw), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
         "-o", "NumberOfPasswordPrompts=1", "-o", "ServerAliveInterval=0",
         f"root@{HOST}@127.0.0.1", "sleep 4; echo done"],
        capture_output=True, text=True, timeout=90, env=_askpass(tmp_path, "s3cret-pw"),
        stdin=subprocess.DEVNULL)
    assert r.stdout == "done\n", r.stderr[-2000:] + agent.log()[-1500:]
    seen = _global_requests(r.stderr)
    if interval:
        assert len(seen) >= 3, seen
        assert set(seen) == {("keepalive@shellhub.io", "0")}
        assert hub.status()["keepalives_forwarded"] >= 3
    else:
        assert seen == []
        assert hub.status()["keepalives_forwarded"] == 0


def test_a_connection_without_channels_gets_them_too(make_hub, start_agent, tmp_path):
    # `ssh -N` (forwardings only, no session channel): kept alive like any other connection.
    hub = make_hub("--port-map", f"{HOST}=0")
    start_agent(hub.url, env={"SHELLHUB_KEEPALIVE_INTERVAL": "1"})
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    p = subprocess.Popen(["ssh", "-vvv", "-N", "-p", str(hub.port_map(dev["uid"])), "-i", key, *VERBOSE,
                          "-o", "ServerAliveInterval=0", "root@127.0.0.1"],
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        time.sleep(5)
    finally:
        p.terminate()
    seen = _global_requests(p.communicate(timeout=10)[1])
    assert len(seen) >= 3 and set(seen) == {("keepalive@openssh.com", "1")}, seen
