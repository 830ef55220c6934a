"""SSH through the real ShellHub gateway (`ssh -p 2222 user@namespace.device@host`) to Tether:
password and public-key logins, exec, pty, sftp/scp, both transports. Every case here is
marked `ssh` and runs again for the raspberrypi4 board binary under qemu-user."""

import hashlib
import os
import re
import subprocess
import time

import pytest

from conftest import LINUX_USER, SLOW, SSH_OPTS, askpass_env, key_opts, password_opts
from shellhub import SSH_PORT

pytestmark = pytest.mark.ssh


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_password_exec_stdout_stderr_status(legacy, start_device, ssh, transport):
    dev = start_device(legacy, transport=transport)
    r = ssh(dev, "echo out; echo err >&2; id -u; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n65534\n", "err\n"), \
        r.stderr + dev.agent.log()[-2000:]
    r = ssh(dev, "echo never", wrong_password=True)
    assert r.returncode == 255 and "never" not in r.stdout
    log = dev.agent.log()
    assert "refused" in log and PASSWORD_NOT_LOGGED(log)
    if transport == 1:
        assert re.search(r"online: \S+ via v1", log), log[-1500:]


def PASSWORD_NOT_LOGGED(log: str) -> bool:
    from conftest import PASSWORD
    return PASSWORD not in log and "not-the-password" not in log


def test_namespace_public_key(legacy, start_device, ssh, ns_key):
    """A key registered in the namespace (legacy mode): the gateway logs in to the device with
    a key it mints, which the agent checks through POST /api/auth/ssh."""
    dev = start_device(legacy)
    r = ssh(dev, "echo key-ok; whoami 2>/dev/null || id -un", key=ns_key)
    assert r.returncode == 0 and r.stdout.startswith("key-ok\n"), r.stderr + dev.agent.log()[-2000:]
    assert re.search(r"auth publickey for 'interop' from \S+ accepted", dev.agent.log())


def test_session_end_bytes_are_not_a_connection_error(legacy, start_device, ssh):
    """After a session ends the server writes `DELETE /ssh/close/<uid> HTTP/1.1...` into the
    dead stream (PROTOCOL.md 6). That must not be logged as a connection error."""
    dev = start_device(legacy)
    for i in range(2):
        r = ssh(dev, f"echo run{i}")
        assert r.stdout == f"run{i}\n", r.stderr
    end = time.monotonic() + 10 * SLOW
    while time.monotonic() < end and dev.agent.log().count("slot ") < 4:
        time.sleep(0.2)
    time.sleep(1)
    log = dev.agent.log()
    assert "connection error" not in log, log[-2000:]
    assert log.count("closed by peer after the session ended") == 2, log[-2000:]


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_sftp_and_scp_4mib(legacy, start_device, account, ns_key, tmp_path, transport):
    """With the namespace key: `sftp -b` implies BatchMode, which rules out passwords."""
    if os.environ.get("TETHER_RUNNER") and transport == 1:
        pytest.skip("board run: v1 bulk covered on the host build (qemu time budget)")
    dev = start_device(legacy, transport=transport)
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(4 * 1024 * 1024 + 13))
    want = _digest(src)
    home = account["home"]
    remote = f"up-{dev.name}.bin"
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {remote}\nget {remote} {tmp_path}/back.bin\n")
    target = f"{LINUX_USER}@{dev.target}@127.0.0.1"
    auth = key_opts(ns_key)
    r = subprocess.run(["sftp", "-P", str(SSH_PORT), *SSH_OPTS, *auth, "-b",
                        str(batch), target], capture_output=True, text=True,
                       timeout=180 * SLOW)
    assert r.returncode == 0, r.stdout + r.stderr + dev.agent.log()[-2000:]
    assert _digest(home / remote) == want
    assert _digest(tmp_path / "back.bin") == want
    for mode in (["-O"], []):            # legacy scp (exec `scp -t`), then scp over SFTP
        name = f"scp{len(mode)}-{dev.name}.bin"
        r = subprocess.run(["scp", *mode, "-P", str(SSH_PORT), *SSH_OPTS, *auth,
                            str(src), f"{target}:{name}"], capture_output=True, text=True,
                           timeout=180 * SLOW)
        assert r.returncode == 0, r.stderr + dev.agent.log()[-2000:]
        assert _digest(home / name) == want
        (home / name).unlink()
    (home / remote).unlink()


def _tmux(*args) -> str:
    return subprocess.run(["tmux", "-L", "tether-interop", *args], capture_output=True,
                          text=True, check=True).stdout


def _wait_pane(pane: str, pattern: str, timeout: float) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = _tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane).rstrip()
        m = re.search(pattern, text)
        if m:
            return m
        time.sleep(0.2)
    raise TimeoutError(f"pane has no /{pattern}/:\n{text}")


def test_pty_size_window_change_ctrl_c_and_status(legacy, start_device, account, tmp_path):
    dev = start_device(legacy)
    status_file = tmp_path / "status"
    env = askpass_env(account["askpass"])
    cmd = " ".join(["ssh", "-tt", "-p", str(SSH_PORT), *SSH_OPTS, *password_opts(),
                    f"{LINUX_USER}@{dev.target}@127.0.0.1"])
    script = tmp_path / "run.sh"
    script.write_text(f"#!/bin/sh\n{cmd}\necho $? > {status_file}\nsleep 30\n")
    script.chmod(0o755)
    session = f"it{os.getpid()}"
    _tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
          *[f"-e{k}={env[k]}" for k in ("SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY")],
          str(script))
    pane = f"{session}:0.0"
    try:
        _tmux("set-option", "-t", session, "window-size", "manual")
        _tmux("send-keys", "-t", pane, "PS1='pr''ompt> '; export PS1", "Enter")
        _wait_pane(pane, r"prompt>\s*\Z", 60 * SLOW)   # typed ahead: maybe after a `$ `
        _tmux("send-keys", "-t", pane, "echo SIZE=$(stty size)", "Enter")
        _wait_pane(pane, r"SIZE=30 100", 20 * SLOW)
        _tmux("resize-window", "-t", session, "-x", "120", "-y", "40")
        time.sleep(1)
        _tmux("send-keys", "-t", pane, "echo SIZE2=$(stty size)", "Enter")
        _wait_pane(pane, r"SIZE2=40 120", 20 * SLOW)
        _tmux("send-keys", "-t", pane, "sleep 300; echo after-sleep", "Enter")
        time.sleep(1.5 * SLOW)
        _tmux("send-keys", "-t", pane, "C-c")
        _tmux("send-keys", "-t", pane, "echo INTR=ok", "Enter")
        _wait_pane(pane, r"(?m)^INTR=ok", 20 * SLOW)
        text = _tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane)
        assert "after-sleep" not in text.replace("echo after-sleep", "")
        _tmux("send-keys", "-t", pane, "exit 7", "Enter")
        end = time.monotonic() + 30 * SLOW
        while time.monotonic() < end and not (status_file.exists()
                                              and status_file.read_text().endswith("\n")):
            time.sleep(0.2)
        assert status_file.read_text().strip() == "7", dev.agent.log()[-2000:]
    finally:
        subprocess.run(["tmux", "-L", "tether-interop", "kill-session", "-t", session],
                       capture_output=True)
    subprocess.run(["tmux", "-L", "tether-interop", "kill-server"], capture_output=True)


def test_v1_login_typed_slowly(legacy, start_device, account, workdir):
    """v1: the gateway dials the session's WebSocket back when the user connects and starts
    SSH on it only at authentication. Until then it does not read the dial-back, so gorilla
    answers no WebSocket ping there; the agent must not take that for a dead peer. Here the
    password comes 70 s late (a person typing, a second factor): past the agent's
    dial-back ping (~45-50 s idle) and its 15 s answer grace."""
    if os.environ.get("TETHER_RUNNER"):
        pytest.skip("host build only (70 s of waiting; the logic is not per architecture)")
    dev = start_device(legacy, transport=1)
    slow = workdir / "askpass-slow"
    from conftest import PASSWORD
    slow.write_text(f"#!/bin/sh\nsleep 70\nprintf '%s\\n' '{PASSWORD}'\n")
    slow.chmod(0o755)
    r = subprocess.run(["ssh", "-p", str(SSH_PORT), *SSH_OPTS, *password_opts(),
                        f"{LINUX_USER}@{dev.target}@127.0.0.1", "echo slow-ok"],
                       capture_output=True, text=True, timeout=150, env=askpass_env(str(slow)),
                       stdin=subprocess.DEVNULL)
    assert r.stdout == "slow-ok\n", r.stderr + dev.agent.log()[-2000:]
    assert "peer silent" not in dev.agent.log()
