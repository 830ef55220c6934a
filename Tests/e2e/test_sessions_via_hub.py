"""SSH sessions through the dev hub with real OpenSSH clients (issue 6 cases): exec status and
stderr, pty, sftp/scp round trips, ssh -L, parallel sessions, the slot pool full, password
login through the gateway (right, wrong, unknown user), and the aarch64 board binary."""

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30"]


@pytest.fixture
def device(make_hub, start_agent, tmp_path, request):
    transport = getattr(request, "param", 2)
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport)
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    return hub, agent, hub.port_map(dev["uid"]), key


def run_ssh(port, key, command, extra=(), timeout=60):
    return subprocess.run(["ssh", "-p", str(port), "-i", key, *SSH_OPTS, *extra, "root@127.0.0.1", command],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("device", [2, 1], indirect=True, ids=["v2", "v1"])
def test_exec_status_stderr_and_pty(device):
    hub, agent, port, key = device
    r = run_ssh(port, key, "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n"), agent.log()[-1500:]
    r = run_ssh(port, key, "tty; echo TERM=$TERM", extra=("-tt",))
    assert r.returncode == 0 and "/dev/pts/" in r.stdout and "TERM=" in r.stdout


@pytest.mark.parametrize("device", [2, 1], indirect=True, ids=["v2", "v1"])
def test_sftp_and_scp_round_trips_keep_every_byte(device, tmp_path):
    hub, agent, port, key = device
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(4 * 1024 * 1024 + 17))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    remote = tmp_path / "remote"
    remote.mkdir()
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {remote}/a.bin\nget {remote}/a.bin {tmp_path}/back.bin\n")
    r = subprocess.run(["sftp", "-P", str(port), "-i", key, *SSH_OPTS, "-b", str(batch), "root@127.0.0.1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + agent.log()[-1500:]
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == digest
    for mode in (["-O"], []):  # legacy scp over exec, then scp over SFTP
        dst = remote / f"scp{len(mode)}.bin"
        r = subprocess.run(["scp", *mode, "-P", str(port), "-i", key, *SSH_OPTS, str(src), f"root@127.0.0.1:{dst}"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256(dst.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("target", ["127.0.0.1", "localhost"], ids=["address", "name"])
def test_local_forward_to_an_echo_server(device, target):
    """A name goes through the agent's non-blocking resolver (a forked child), an address
    straight to a non-blocking connect."""
    hub, agent, port, key = device
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def echo():
        c, _ = srv.accept()
        while data := c.recv(65536):
            c.sendall(data)
        c.close()
    threading.Thread(target=echo, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
    fwd = subprocess.Popen(["ssh", "-N", "-L", f"{lport}:{target}:{srv.getsockname()[1]}", "-p", str(port),
                            "-i", key, *SSH_OPTS, "root@127.0.0.1"])
    try:
        payload = os.urandom(512 * 1024)
        for _ in range(100):
            try:
                c = socket.create_connection(("127.0.0.1", lport), timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        got = bytearray()
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        c.settimeout(30)
        while data := c.recv(65536):
            got += data
        c.close()
        assert bytes(got) == payload
    finally:
        fwd.terminate()
        srv.close()


@pytest.mark.parametrize("device", [2, 1], indirect=True, ids=["v2", "v1"])
def test_eight_parallel_sessions(device):
    hub, agent, port, key = device
    procs = [subprocess.Popen(["ssh", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1",
                               f"sleep 1; echo session-{i}"], stdout=subprocess.PIPE, text=True)
             for i in range(8)]
    outs = [p.communicate(timeout=90)[0].strip() for p in procs]
    assert outs == [f"session-{i}" for i in range(8)]
    assert all(p.returncode == 0 for p in procs)


@pytest.mark.parametrize("transport", [2, 1])
def test_full_slot_pool_refuses_cleanly_and_recovers(make_hub, start_agent, tmp_path, transport):
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport, env={"TETHER_SESSION_SLOTS": "2"})
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    holders = [subprocess.Popen(["ssh", "-tt", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1",
                                 "echo held; sleep 300"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
               for _ in range(2)]
    for h in holders:
        assert h.stdout.readline().strip() == b"held"
    r = run_ssh(port, key, "echo third", timeout=60)
    assert r.returncode != 0 and "third" not in r.stdout
    agent.wait_log(r"(all session slots busy|slots)", timeout=10)
    assert all(h.poll() is None for h in holders)  # the others are unharmed
    assert agent.returncode is None
    holders[0].kill()
    time.sleep(2)
    r = run_ssh(port, key, "echo again")
    assert r.stdout.strip() == "again", r.stderr  # the slot is reusable
    holders[1].kill()


def _askpass(tmp_path, password):
    script = tmp_path / f"askpass-{len(password)}"
    script.write_text(f"#!/bin/sh\necho '{password}'\n")
    script.chmod(0o755)
    return {**os.environ, "SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}


def write_shadow(tmp_path, password="s3cret-pw", mode=0o644) -> str:
    """A test shadow file (for TETHER_SHADOW_FILE) giving root a SHA-512 crypt of `password`."""
    hashed = subprocess.run(["openssl", "passwd", "-6", "-salt", "e2esalt", password],
                            capture_output=True, text=True, check=True).stdout.strip()
    shadow = tmp_path / "shadow"
    shadow.write_text(f"root:{hashed}:19000:0:99999:7:::\n")
    os.chmod(shadow, mode)
    return str(shadow)


def gateway_login(gw, tmp_path, user, password, command="echo password-ok"):
    """A password login through the hub's SSH gateway, the password typed by SSH_ASKPASS."""
    return subprocess.run(
        ["ssh", "-p", str(gw), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
         "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR",
         f"{user}@{HOST}@127.0.0.1", command],
        capture_output=True, text=True, timeout=90, env=_askpass(tmp_path, password),
        stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("transport", [2, 1])
def test_password_login_through_the_gateway(make_hub, start_agent, tmp_path, transport):
    """The hub terminates SSH and relays the typed password (PROTOCOL.md 7.1); the agent checks
    it against a shadow file (here a test one: TETHER_SHADOW_FILE) with crypt(3)."""
    hub = make_hub("--gateway-port", "0")
    gw = hub.status()["gateway_port"]
    agent = start_agent(hub.url, transport=transport, env={"TETHER_SHADOW_FILE": write_shadow(tmp_path)})
    connected(hub)

    def login(user, password):
        return gateway_login(gw, tmp_path, user, password)
    r = login("root", "s3cret-pw")
    assert r.stdout.strip() == "password-ok", r.stderr + hub.log()[-1500:] + agent.log()[-1500:]
    assert login("root", "wrong-pw").returncode != 0
    assert login("nosuchuser", "s3cret-pw").returncode != 0
    assert "s3cret-pw" not in agent.log() and "wrong-pw" not in agent.log()
    # The hub writes ShellHub's `DELETE /ssh/close/<id>` into each stream it is done with.
    # Neither after a session nor on a stream abandoned before SSH is that a connection error.
    agent.wait_log(r"closed by peer after the session ended")
    time.sleep(1)
    assert "DELETE" not in agent.log() and "Packet len" not in agent.log(), agent.log()[-2000:]


def test_an_account_file_others_can_write_is_not_used(make_hub, start_agent, tmp_path):
    """TETHER_SHADOW_FILE is honoured only for a file as safe as /etc/shadow: one another
    account could write (here mode 0666) is ignored with one line, and its password does not
    log in."""
    hub = make_hub("--gateway-port", "0")
    gw = hub.status()["gateway_port"]
    agent = start_agent(hub.url, env={"TETHER_SHADOW_FILE": write_shadow(tmp_path, mode=0o666)})
    connected(hub)
    r = gateway_login(gw, tmp_path, "root", "s3cret-pw")
    assert r.returncode != 0 and "password-ok" not in r.stdout
    assert agent.log().count("TETHER_SHADOW_FILE=") == 1, agent.log()[-2000:]
    assert "ignored: not a regular file owned by this user" in agent.log()


BOARD = os.path.join(ROOT, "dist", "raspberrypi4", "tether")


@pytest.mark.skipif(not os.path.exists(BOARD) or not shutil.which("qemu-aarch64-static"),
                    reason="no aarch64 board binary (make cross BOARD=raspberrypi4)")
def test_board_binary_serves_ssh_under_qemu(make_hub, start_agent, tmp_path):
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=2, command=["qemu-aarch64-static", BOARD])
    dev = connected(hub, timeout=90)
    key = register_user_key(hub, tmp_path / "id_rsa")
    r = run_ssh(hub.port_map(dev["uid"]), key, "uname -m; echo board-ok", timeout=120)
    assert r.returncode == 0, r.stderr + agent.log()[-2000:]
    assert r.stdout.split() == ["x86_64", "board-ok"]


@pytest.mark.parametrize("device", [2, 1], indirect=True, ids=["v2", "v1"])
def test_close_protocol_ends_the_matching_session(device):
    """/ssh/close/1.0.0 (v2) and GET /ssh/close/<id> (v1), as a user's "close session" in the
    console reaches the agent (PROTOCOL.md 6, 7.6): that session ends, the other one lives."""
    hub, agent, port, key = device
    sessions = []
    for _ in range(2):
        p = subprocess.Popen(["ssh", "-tt", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1",
                              "echo up; sleep 300"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"up"
        sessions.append(p)
        time.sleep(0.5)
    ids = hub.device(HOST)["sessions"]
    assert len(ids) == 2
    first = ids[0]
    hub.api("POST", f"/api/hub/devices/{HOST}/close-session", {"id": first})
    deadline = time.time() + 20
    while time.time() < deadline and all(p.poll() is None for p in sessions):
        time.sleep(0.2)
    ended = [p for p in sessions if p.poll() is not None]
    assert len(ended) == 1, agent.log()[-2000:]
    assert [p for p in sessions if p.poll() is None]  # the other session is unharmed
    # Closing an unknown session is answered and logged, nothing else.
    hub.api("POST", f"/api/hub/devices/{HOST}/close-session", {"id": "f" * 64})
    agent.wait_log(r"close for unknown session ffffffffffff", timeout=10)
    for p in sessions:
        p.kill()


@pytest.mark.parametrize("transport", [2, 1])
def test_streams_that_never_authenticate_give_their_slots_back(make_hub, start_agent, tmp_path, transport):
    """A peer that opens SSH streams and never logs in (here: silent TCP clients on the hub's
    port map, each one becomes an SSH stream to the agent) holds every slot only until
    TETHER_LOGIN_GRACE; then the agent closes them, logs why once each, and serves a real login."""
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport,
                        env={"TETHER_SESSION_SLOTS": "2", "TETHER_LOGIN_GRACE": "3"})
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    talker = silent[1]
    talker.sendall(b"SSH-2.0-OpenSSH_9.2 never-authenticates\r\n")
    agent.wait_log(r"opened in slot 1", timeout=15)
    r = run_ssh(port, key, "echo too-early", timeout=60)
    assert "too-early" not in r.stdout  # both slots are held
    agent.wait_log(r"all session slots busy", timeout=10)
    for s in silent:
        s.settimeout(30)
        try:
            while s.recv(4096):
                pass  # the talker gets the agent's version line and KEX_INIT first
        except ConnectionResetError:
            pass
        s.close()
    assert agent.wait_log(r"not authenticated within 3 s", timeout=10)
    r = run_ssh(port, key, "echo after-grace")
    assert r.stdout.strip() == "after-grace", r.stderr + agent.log()[-2000:]
    # A login that outlives the grace is not cut: the limit ends at authentication.
    r = run_ssh(port, key, "sleep 4; echo still-here")
    assert r.stdout.strip() == "still-here", r.stderr
    assert agent.log().count("not authenticated within") == 2
    assert agent.returncode is None
