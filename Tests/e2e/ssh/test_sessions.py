"""Interactive sessions, file transfer, forwarding and concurrency with real OpenSSH clients."""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tmux(sock, *args):
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, timeout=10)


def wait_pane(sock, needle, timeout=15):
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = tmux(sock, "capture-pane", "-p", "-t", "t").stdout
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not on screen:\n{text}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing")
def test_pty_shell_prompt_resize_ctrl_c_exit_code(server, tmp_path):
    sock = f"tether-{os.getpid()}-{server.port}"
    rc_file = tmp_path / "rc"
    env = " ".join(f"{k}={v}" for k, v in server.env().items()
                   if k in ("SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY"))
    opts = " ".join(server.opts())
    cmd = (f"env {env} ssh -tt -p {server.port} {opts} {server.user}@127.0.0.1; "
           f"echo $? > {rc_file}; sleep 30")
    tmux(sock, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "100", "-y", "30", cmd)
    try:
        tmux(sock, "set", "-g", "status", "off")
        tmux(sock, "send-keys", "-t", "t", "echo READY-$((6*7))", "Enter")
        wait_pane(sock, "READY-42")
        tmux(sock, "send-keys", "-t", "t", "tty; stty size", "Enter")
        wait_pane(sock, "/dev/pts/")
        tmux(sock, "resize-window", "-t", "t", "-x", "120", "-y", "40")
        time.sleep(0.3)
        tmux(sock, "send-keys", "-t", "t", "clear; stty size", "Enter")
        wait_pane(sock, "40 120")
        tmux(sock, "send-keys", "-t", "t", "sleep 100", "Enter")
        time.sleep(0.5)
        tmux(sock, "send-keys", "-t", "t", "C-c", "")
        tmux(sock, "send-keys", "-t", "t", "echo AFTER-$((1+1))", "Enter")
        wait_pane(sock, "AFTER-2")
        tmux(sock, "send-keys", "-t", "t", "exit 7", "Enter")
        deadline = time.time() + 10
        while time.time() < deadline and not (rc_file.exists() and rc_file.read_text().strip()):
            time.sleep(0.1)
        assert rc_file.read_text().strip() == "7"
    finally:
        tmux(sock, "kill-server")


def test_exec_with_pty_merges_stderr(server):
    r = server.ssh("tty; echo out; echo err >&2; exit 2", extra=["-tt"])
    assert r.returncode == 2
    lines = r.stdout.decode().replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/")
    assert lines[1:3] == ["out", "err"]  # stderr arrives on the pty, not as extended data
    assert b"err" not in r.stderr


SFTP_SERVER = next((p for p in ["/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server",
                                "/usr/lib/sftp-server"] if os.path.exists(p)), None)


@pytest.mark.skipif(SFTP_SERVER is None, reason="no sftp-server")
def test_sftp_put_get_multi_megabyte(server, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 123))
    remote = tmp_path / "remote.bin"
    back = tmp_path / "back.bin"
    batch = f"put {src} {remote}\nget {remote} {back}\n"
    # Commands on stdin (not -b, which forbids password prompts).
    r = subprocess.run(["sftp", "-P", str(server.port), *server.opts(),
                        f"{server.user}@127.0.0.1"], input=batch.encode(), env=server.env(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sha(src) == sha(remote) == sha(back)


@pytest.mark.parametrize("mode", ["-O", "-s"])
def test_scp_both_modes(server, tmp_path, mode):
    if mode == "-s" and SFTP_SERVER is None:
        pytest.skip("no sftp-server")
    src = tmp_path / "scp-src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    dst = tmp_path / f"scp-dst{mode}.bin"
    back = tmp_path / f"scp-back{mode}.bin"
    base = ["scp", mode, "-P", str(server.port), *server.opts()]
    r = subprocess.run(base + [str(src), f"{server.user}@127.0.0.1:{dst}"], env=server.env(),
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(base + [f"{server.user}@127.0.0.1:{dst}", str(back)], env=server.env(),
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert sha(src) == sha(dst) == sha(back)


def echo_server():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return

            def one(c=c):
                with c:
                    while True:
                        d = c.recv(65536)
                        if not d:
                            return
                        c.sendall(d)
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return ls


def test_local_forward_to_echo_server(server):
    ls = echo_server()
    echo_port = ls.getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
    p = subprocess.Popen(["ssh", "-N", "-p", str(server.port), *server.opts(),
                          "-o", "ExitOnForwardFailure=yes",
                          "-L", f"{lport}:127.0.0.1:{echo_port}", f"{server.user}@127.0.0.1"],
                         env=server.env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", lport), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        payload = os.urandom(2 * 1024 * 1024)
        got = bytearray()
        c.settimeout(20)

        def send():
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        t.join()
        c.close()
        assert bytes(got) == payload
        # A refused destination: the channel open fails, the connection lives on.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        r = subprocess.run(["ssh", "-p", str(server.port), *server.opts(), "-W",
                            f"127.0.0.1:{dead}", f"{server.user}@127.0.0.1"], env=server.env(),
                           capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        assert r.returncode != 0
        assert b"open failed" in r.stderr or b"failed" in r.stderr
    finally:
        p.terminate()
        p.wait()
        ls.close()


def test_remote_forward_refused(server):
    r = server.ssh("true", extra=["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"])
    assert r.returncode == 255


def test_eight_parallel_sessions(server):
    t0 = time.time()
    procs = [subprocess.Popen(["ssh", "-p", str(server.port), *server.opts(),
                               f"{server.user}@127.0.0.1", f"sleep 1; echo n{i}; exit {i}"],
                              env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for i in range(8)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=60)
        assert p.returncode == i, err
        assert out == f"n{i}\n".encode()
    # One thread, but nothing blocks: eight 1 s sessions overlap.
    assert time.time() - t0 < 6


def test_client_starts_ssh_late(server):
    # No short timeout between the stream opening and the client's first bytes.
    relay = os.path.join(os.path.dirname(__file__), "relay_delayed.py")
    r = server.ssh("echo late-ok", extra=["-o", f"ProxyCommand={sys.executable} {relay} "
                                                f"127.0.0.1 {server.port} 12"], timeout=60,
                   connect_timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"late-ok\n"


def test_pty_sessions_write_utmp_and_wtmp(server):
    r = server.ssh("tty", extra=["-tt"])
    tty = r.stdout.decode().strip()
    assert tty.startswith("/dev/pts/")
    line = tty[len("/dev/"):]
    wtmp = subprocess.run(["utmpdump", str(server.wtmp)], capture_output=True, text=True).stdout
    records = [l for l in wtmp.splitlines() if l.startswith("[")]
    assert len(records) == 2, wtmp  # login, logout
    assert records[0].startswith("[7]") and f"[{server.user}" in records[0] and f"[{line}" in records[0]
    assert records[1].startswith("[8]") and f"[{line}" in records[1]
    utmp = subprocess.run(["utmpdump", str(server.utmp)], capture_output=True, text=True).stdout
    slots = [l for l in utmp.splitlines() if l.startswith("[")]
    assert len(slots) == 1 and slots[0].startswith("[8]")  # the slot is reused at logout
    # No pty, no record.
    server.ssh("true")
    assert os.path.getsize(server.wtmp) == 2 * 384


def test_agent_forwarding(server, tmp_path):
    key = tmp_path / "agentkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fwd-test", "-f", str(key)],
                   check=True)
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = server.env()
    for part in agent.split(";"):
        part = part.strip()
        if part.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")):
            k, v = part.split("=", 1)
            env[k] = v
    try:
        subprocess.run(["ssh-add", str(key)], env=env, check=True, capture_output=True)
        r = server.ssh("echo $SSH_AUTH_SOCK; ssh-add -l", extra=["-A"], env=env)
        assert r.returncode == 0, r.stderr
        sock, listing = r.stdout.decode().split("\n", 1)
        assert sock.startswith("/tmp/tether-agent-")
        assert "fwd-test" in listing
        # Removed with the session: the server tears it down when it handles the close, which
        # may come a moment after the client has exited (slow under qemu).
        deadline = time.time() + 10
        while os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(sock)
        r = server.ssh("echo ${SSH_AUTH_SOCK:-none}", env=env)  # no -A: no socket
        assert r.stdout == b"none\n"
    finally:
        subprocess.run(["kill", env["SSH_AGENT_PID"]])
