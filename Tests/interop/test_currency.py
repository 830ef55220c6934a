"""What ShellHub's own end-to-end suite (tests/ssh_test.go, both transports) expects of an agent,
checked through the real rc.6 gateway (issue 12), and the device key proof's fallback against a
server that has no challenge endpoint yet:

* "connection keepalive reaches the client": with SHELLHUB_KEEPALIVE_INTERVAL=1 the agent's
  keepalive requests reach the user's OpenSSH client through the gateway (which forwards them as
  `keepalive@shellhub.io`); unset, none do;
* "connection EXEC with environment variables": `env` requests for names outside LANG/LC_* are
  accepted and dropped (the gateway relays them with Go's Session.Setenv, which fails the
  session on a refusal), allowed ones reach the program;
* rc.6 answers the challenge endpoint with an error: the agent authenticates unsigned, says so
  once, and is accepted and online."""

import re
import subprocess

import pytest

from conftest import LINUX_USER, SLOW, askpass_env, password_opts
from shellhub import SSH_PORT

pytestmark = pytest.mark.ssh

RTYPE = re.compile(r"client_input_global_request: rtype (\S+) want_reply (\d)")
# Not conftest's SSH_OPTS: its LogLevel=ERROR would hide -vvv's debug lines.
VERBOSE = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=0"]


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
@pytest.mark.parametrize("interval", ["1", None], ids=["interval-1", "unset"])
def test_keepalive_reaches_the_client(legacy, start_device, account, transport, interval):
    env = {"SHELLHUB_KEEPALIVE_INTERVAL": interval} if interval else {}
    dev = start_device(legacy, transport=transport, env=env)
    r = subprocess.run(["ssh", "-vvv", "-p", str(SSH_PORT), *VERBOSE, *password_opts(),
                        f"{LINUX_USER}@{dev.target}@127.0.0.1", "sleep 5; echo done"],
                       capture_output=True, text=True, timeout=90 * SLOW,
                       env=askpass_env(account["askpass"]), stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr[-2500:] + dev.agent.log()[-1500:]
    seen = RTYPE.findall(r.stderr)
    if interval:
        assert len(seen) >= 3, seen
        assert {name for name, _ in seen} == {"keepalive@shellhub.io"}, seen
    else:
        assert seen == [], seen


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_exec_with_environment_variables(legacy, start_device, ssh, transport):
    dev = start_device(legacy, transport=transport)
    r = ssh(dev, "echo FOO=${FOO-unset} LANG=${LANG-unset} LC_TIME=${LC_TIME-unset}",
            extra=("-o", "SetEnv=FOO=bar LANG=de_DE.UTF-8 LC_TIME=C"))
    assert r.returncode == 0, r.stderr + dev.agent.log()[-2000:]
    assert r.stdout.split() == ["FOO=unset", "LANG=de_DE.UTF-8", "LC_TIME=C"], r.stdout


def test_proof_falls_back_on_a_server_without_the_challenge(legacy, start_device):
    dev = start_device(legacy)            # accepted and online (start_device waits for it)
    log = dev.agent.log()
    assert log.count("no device key proof on this server") == 1, log[-2000:]
    assert re.search(r"no device key proof on this server \(\d+ on challenge\); unsigned", log)
