"""The agent out of file descriptors (issue 13, stress cases): with `ulimit -n` low and more
session slots than descriptors, sessions are refused once socketpair(2), the pty or the
child's pipes fail with EMFILE; the agent says so in its log, stays up with its tunnel and
the sessions it holds, and serves new sessions as soon as descriptors are free again."""

import shutil
import subprocess
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import SSH_OPTS, run_ssh

NOFILE = 40


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_sessions_beyond_the_fd_limit_are_refused_and_the_agent_recovers(
        make_hub, start_agent, tether_bin, tmp_path, transport):
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport, env={"TETHER_SESSION_SLOTS": "32"},
                        command=[shutil.which("prlimit"), f"--nofile={NOFILE}:{NOFILE}", "--", tether_bin])
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    holders = []
    refused = 0
    try:
        for i in range(20):
            p = subprocess.Popen(["ssh", "-tt", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1",
                                  f"echo held-{i}; exec sleep 300"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            line = p.stdout.readline()
            if f"held-{i}".encode() in line:
                holders.append(p)
            else:
                refused += 1
                p.kill()
                p.wait()
        assert holders, agent.log()[-3000:]
        assert refused > 0, f"{len(holders)} sessions with {NOFILE} descriptors"
        assert agent.returncode is None
        log = agent.log()
        assert "Too many open files" in log, log[-3000:]
        # Said as what it is: a passwd file the agent could not open is not an unknown user.
        assert "unknown user" not in log, log[-3000:]
        # The sessions held are unharmed and the device stays connected.
        for p in holders:
            assert p.poll() is None
        assert hub.device(dev["uid"])["connected"]
        # Descriptors free again: a new session is served.
        for p in holders[: max(3, len(holders) // 2)]:
            p.kill()
            p.wait()
        time.sleep(2)
        r = run_ssh(port, key, "echo again", timeout=60)
        assert r.stdout.strip() == "again", r.stderr + agent.log()[-3000:]
    finally:
        for p in holders:
            p.kill()


def test_a_session_inherits_no_agent_descriptor_whatever_its_number(make_hub, start_agent, tether_bin, tmp_path):
    # The agent's parent (a supervisor) leaves it fd 1500 open without close-on-exec: the
    # user's program must not get it (the child closed only fds below 1024 before).
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, args=(), command=[
        "bash", "-c", 'ulimit -n 4096 && exec 1500</dev/null && exec "$0" run', tether_bin])
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    assert "1500" in " ".join(__import__("os").listdir(f"/proc/{agent.proc.pid}/fd"))
    r = run_ssh(port, key, "ls /proc/self/fd")
    assert r.returncode == 0, r.stderr
    assert "1500" not in r.stdout.split(), r.stdout
    r = run_ssh(port, key, "ls /proc/self/fd", extra=("-tt",))
    assert "1500" not in r.stdout.split(), r.stdout
