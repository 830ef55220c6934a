"""The agent core against the dev hub: registration, both transports, TLS through nginx,
certificate refusal, reconnect after a hub restart, hostile servers, configuration errors,
the ARM board binaries under qemu-user and the x86_64 board binary natively. (SSH sessions:
test_e2e_agent.py.)"""

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from hub.testing import AGENT_HOSTNAME as E2E_HOSTNAME

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def online(hub, transport=None, timeout=30):
    return hub.wait_device(
        lambda d: d["name"] == E2E_HOSTNAME and d["online"] and d["connected"]
        and (transport is None or d["transport"] == transport), timeout=timeout)


def test_v2_registers_and_answers_every_server_ping(make_hub, start_agent):
    hub = make_hub("--ping-interval", "0.5")
    agent = start_agent(hub.url, transport=2)
    dev = online(hub, transport=2)
    assert dev["status"] == "accepted"
    assert dev["info"]["version"] == "0.10.0" and dev["info"]["platform"] == "native"
    # The hub tears the tunnel down after one unanswered ping (15 s deadline): six answered
    # pings on one connection mean the agent answers them all.
    hub.wait_device(lambda d: d["name"] == E2E_HOSTNAME and d["pings_ok"] >= 6, timeout=20)
    dev = hub.device(E2E_HOSTNAME)
    assert dev["connects"] == 1 and dev["connected"]
    agent.wait_log(r"online: dev\.e2e-board via v2")
    assert agent.stop() == 0
    hub.wait_device(lambda d: d["name"] == E2E_HOSTNAME and not d["connected"], timeout=10)


def test_v1_registers_and_answers_websocket_pings(make_hub, start_agent):
    hub = make_hub("--v1-ping-interval", "0.5", "--v1-keepalive-interval", "0.5",
                   "--v1-pong-timeout", "3")
    agent = start_agent(hub.url, transport=1)
    online(hub, transport=1)
    hub.wait_device(lambda d: d["name"] == E2E_HOSTNAME and d["pongs"] >= 5, timeout=20)
    assert hub.device(E2E_HOSTNAME)["connects"] == 1
    # Quiet by design: the agent sends no JSON keep-alives of its own.
    assert hub.device(E2E_HOSTNAME)["bytes"]["tunnel_up"] < 400
    assert agent.stop() == 0


@pytest.mark.parametrize("transport", [2, 1])
def test_tls_through_nginx_with_own_ca(hub, nginx_tls, start_agent, transport):
    agent = start_agent(nginx_tls.url, transport=transport, ca=nginx_tls.ca)
    online(hub, transport=transport)
    assert agent.stop() == 0


def test_untrusted_certificate_is_refused_with_a_clear_line(hub, nginx_tls, start_agent):
    # No CA given: the self-signed chain must not be accepted.
    agent = start_agent(nginx_tls.url, transport=2, env={"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
    agent.wait_log(r"offline: auth: .*(certif|verify|trust)", timeout=20)
    time.sleep(1)
    assert hub.devices() == []
    # One line per state change, not one per retry.
    assert agent.log().count("offline:") <= 2
    assert agent.returncode is None


def test_agent_comes_back_after_hub_restart(make_hub, start_agent):
    hub = make_hub()
    port = hub.port
    agent = start_agent(hub.url, transport=2)
    online(hub)
    hub.stop()
    agent.wait_log(r"tunnel lost", timeout=10)
    hub2 = make_hub("--port", str(port))
    # Backoff with full jitter: the first retries come within seconds, never in lock-step.
    dev = online(hub2, timeout=60)
    assert dev["connects"] == 1
    assert agent.returncode is None


def _garbage_server(reply: bytes):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            try:
                c.recv(65536)
                if reply:
                    c.sendall(reply)
                time.sleep(0.05)
            except OSError:
                pass
            finally:
                c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, stop


@pytest.mark.parametrize("reply", [
    b"\x16\x03\x01garbage\r\n\r\n" * 20,
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    b"",  # accept, read, close without a word
], ids=["binary", "huge-length", "bad-chunk", "silent-close"])
def test_hostile_server_gets_retries_not_a_crash(start_agent, reply):
    srv, stop = _garbage_server(reply)
    try:
        agent = start_agent(f"http://127.0.0.1:{srv.getsockname()[1]}", transport=2)
        agent.wait_log(r"offline: ", timeout=15)
        time.sleep(2)
        assert agent.returncode is None, agent.log()
    finally:
        stop.set()
        srv.close()
    assert agent.stop() == 0


def test_server_that_stalls_mid_handshake_times_out(start_agent):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)  # accepted by the kernel, never answered
    try:
        agent = start_agent(f"http://127.0.0.1:{srv.getsockname()[1]}", transport=2)
        agent.wait_log(r"offline: auth: timed out", timeout=45)
        assert agent.returncode is None
    finally:
        srv.close()


@pytest.mark.parametrize("var,value,name", [
    ("SHELLHUB_TRANSPORT_VERSION", "3", "SHELLHUB_TRANSPORT_VERSION"),
    ("SHELLHUB_SERVER_ADDRESS", "not a url", "SHELLHUB_SERVER_ADDRESS"),
    ("SHELLHUB_KEEPALIVE_INTERVAL", "0", "SHELLHUB_KEEPALIVE_INTERVAL"),
    ("SHELLHUB_PRIVATE_KEY", "/tmp//x.key", "SHELLHUB_PRIVATE_KEY"),
])
def test_invalid_configuration_is_one_clear_line(start_agent, hub, var, value, name):
    agent = start_agent(hub.url, env={var: value})
    agent.proc.wait(20)
    assert agent.returncode == 2
    lines = [l for l in agent.log().splitlines() if l.strip()]
    assert len(lines) == 1 and name in lines[0], lines


def test_unreadable_key_file_is_refused(start_agent, hub, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n")
    agent = start_agent(hub.url, env={"SHELLHUB_PRIVATE_KEY": str(bad)})
    agent.proc.wait(20)
    assert agent.returncode == 2
    assert "bad.key" in agent.log()


def test_missing_key_is_created_0600_and_reused(start_agent, hub, tmp_path):
    key = tmp_path / "keys" / "device.key"
    agent = start_agent(hub.url, env={"SHELLHUB_PRIVATE_KEY": str(key)})
    uid = online(hub)["uid"]
    agent.stop()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert oct(key.parent.stat().st_mode & 0o777) == "0o700"
    assert key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    start_agent(hub.url, env={"SHELLHUB_PRIVATE_KEY": str(key)})
    # Same key, same MAC, same tenant: the same device UID (PROTOCOL.md 2.6).
    assert online(hub)["uid"] == uid


def test_a_new_key_that_cannot_be_saved_is_kept_until_it_can(start_agent, hub, tmp_path):
    """A full or read-only key directory (here: its parent is a file): the agent does not exit
    (a respawning supervisor would have it make a new key each time) nor go online with a key
    it would lose at restart. It says so once, waits, and saves the same key once the path
    takes it."""
    blocker = tmp_path / "data"
    blocker.write_text("not a directory\n")
    key = blocker / "device.key"
    agent = start_agent(hub.url, env={"SHELLHUB_PRIVATE_KEY": str(key)})
    agent.wait_log(r"device key: cannot save it, retrying \(offline until kept\): ", timeout=30)
    time.sleep(4)                        # retries at 1 s, 2 s, 4 s...
    assert agent.returncode is None, agent.log()
    assert agent.log().count("cannot save") == 1
    assert hub.devices() == []
    blocker.unlink()
    blocker.mkdir()
    agent.wait_log(r"device key saved at last: .*device.key", timeout=30)
    online(hub)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert agent.log().count("created device key") == 1


BOARDS = [("raspberrypi4", "qemu-aarch64-static"), ("beaglebone-black", "qemu-arm-static")]


@pytest.mark.parametrize("board,qemu", BOARDS)
@pytest.mark.parametrize("transport", [2, 1])
def test_board_binary_under_qemu_goes_online(make_hub, nginx_tls, start_agent, hub, transport, board, qemu):
    binary = os.path.join(ROOT, "dist", board, "tether")
    if not os.path.exists(binary) or not shutil.which(qemu):
        pytest.skip(f"no {board} binary (make cross BOARD={board}) or no {qemu}")
    agent = start_agent(nginx_tls.url, transport=transport, ca=nginx_tls.ca, command=[qemu, binary])
    dev = online(hub, transport=transport, timeout=90)
    assert dev["info"]["arch"] in ("arm64", "arm")
    agent.wait_log(rf"embedded, board {board}")
    assert agent.stop() == 0


@pytest.mark.parametrize("transport", [2, 1])
def test_x86_64_board_binary_goes_online_natively(make_hub, nginx_tls, start_agent, hub, transport):
    """The static musl / Embedded Swift board build for x86_64 runs here without qemu."""
    binary = os.path.join(ROOT, "dist", "generic-x86_64", "tether")
    if not os.path.exists(binary) or os.uname().machine != "x86_64":
        pytest.skip("no generic-x86_64 binary (make cross BOARD=generic-x86_64) or not an x86_64 machine")
    agent = start_agent(nginx_tls.url, transport=transport, ca=nginx_tls.ca, command=[binary])
    dev = online(hub, transport=transport, timeout=60)
    assert dev["info"]["arch"] == "amd64"
    agent.wait_log(r"\(x86_64-linux-musl, embedded, board generic-x86_64\)")
    assert agent.stop() == 0


def _diag(tether_bin, env):
    return subprocess.run([tether_bin, "diag"], env=env, capture_output=True, text=True, timeout=120)


def test_diag_walks_every_check_in_80_columns(tether_bin, hub, nginx_tls, device_key_file):
    from hub.testing import agent_env
    from hub.config import DEFAULT_TENANT
    env = agent_env(nginx_tls.url, device_key_file, tenant=DEFAULT_TENANT, ca=nginx_tls.ca)
    r = _diag(tether_bin, env)
    assert r.returncode == 0, r.stdout + r.stderr
    names = [l.split()[0] for l in r.stdout.splitlines()[1:-1] if not l.startswith(" ")]
    assert names == ["config", "clock", "key", "identity", "trust", "tenant", "connect", "server", "auth",
                     "tunnel"]
    assert all(len(l) <= 80 for l in r.stdout.splitlines())
    assert r.stdout.splitlines()[-1] == "diag: 10 passed, 0 failed"


def test_diag_without_a_tenant_says_the_agent_will_pair(tether_bin, hub, nginx_tls, tmp_path):
    from hub.testing import agent_env, write_device_key
    key = write_device_key(str(tmp_path / "unpaired.key"))
    env = agent_env(nginx_tls.url, key, tenant="", ca=nginx_tls.ca)
    r = _diag(tether_bin, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tenant   ok   none: 'tether run' pairs first (shows a code)" in r.stdout
    assert "auth " not in r.stdout  # nothing to authenticate as yet


def test_diag_names_the_failing_step_with_a_hint(tether_bin, hub, nginx_tls, device_key_file):
    from hub.testing import agent_env
    env = agent_env(nginx_tls.url, device_key_file, tenant="11111111-1111-4111-8111-111111111111",
                    ca=nginx_tls.ca)
    r = _diag(tether_bin, env)
    assert r.returncode == 1
    assert "auth     FAIL refused (404)" in r.stdout
    assert "hint: SHELLHUB_TENANT_ID" in r.stdout
