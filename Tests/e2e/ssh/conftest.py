"""Fixtures for the SSH server e2e tests: `tether ssh-serve` on a free port with a temp host
key and shadow file, driven by the real OpenSSH client (ssh, sftp, scp)."""
import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
TETHER = os.environ.get("TETHER_BIN", str(REPO / ".build-ssh/debug/tether"))
# e.g. TETHER_RUNNER=qemu-aarch64-static with TETHER_BIN=dist/raspberrypi4/tether
RUNNER = os.environ.get("TETHER_RUNNER", "").split()
# e.g. TETHER_SSH_SERVE_EXTRA=--event-loop: run every case on TetherPlatform's EventLoop.
SERVE_EXTRA = os.environ.get("TETHER_SSH_SERVE_EXTRA", "").split()
PASSWORD = "s3cret pass"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl_hash(password, method="-6"):
    return subprocess.run(["openssl", "passwd", method, password], check=True,
                          capture_output=True, text=True).stdout.strip()


class Server:
    def __init__(self, tmp, extra=(), shadow_lines=None, passwd=None):
        self.tmp = tmp
        self.port = free_port()
        self.host_key = tmp / "host.pem"
        if not self.host_key.exists():
            subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(self.host_key), "2048"],
                           check=True, capture_output=True)
        user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.user = user
        shadow = tmp / "shadow"
        lines = shadow_lines if shadow_lines is not None else [
            f"{user}:{openssl_hash(PASSWORD)}:19000:0:99999:7:::"]
        shadow.write_text("\n".join(lines) + "\n")
        self.askpass = tmp / "askpass.sh"
        self.set_password(PASSWORD)
        args = [*RUNNER, TETHER, "ssh-serve", "--port", str(self.port), "--host-key", str(self.host_key),
                "--shadow", str(shadow), "--device-name", "e2e-device"]
        # Login records go to files of the test, never the host's.
        self.utmp = tmp / f"utmp-{self.port}"
        self.wtmp = tmp / f"wtmp-{self.port}"
        self.utmp.write_bytes(b"")
        self.wtmp.write_bytes(b"")
        args += ["--utmp", str(self.utmp), "--wtmp", str(self.wtmp)]
        if passwd is not None:
            args += ["--passwd", str(passwd)]
        if RUNNER:
            args += ["--builtin-sftp-runner", shutil.which(RUNNER[0])]
        args += SERVE_EXTRA + list(extra)
        self.log = open(tmp / f"serve-{self.port}.log", "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("ssh-serve did not start: " + self.logtext())

    def set_password(self, password):
        self.askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n")
        self.askpass.chmod(0o755)

    def logtext(self):
        self.log.flush()
        return (self.tmp / f"serve-{self.port}.log").read_text()

    def opts(self, password=True, connect_timeout=10):
        o = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}"]
        if password:
            o += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                  "-o", "NumberOfPasswordPrompts=1"]
        return o

    def env(self):
        e = dict(os.environ)
        e.update(SSH_ASKPASS=str(self.askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return e

    def ssh(self, *cmd, user=None, extra=(), password=True, timeout=30, input=None, env=None,
            connect_timeout=10, **kw):
        args = ["ssh", "-p", str(self.port), *self.opts(password, connect_timeout), *extra,
                f"{user or self.user}@127.0.0.1", *cmd]
        return subprocess.run(args, env=env or self.env(), capture_output=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              **kw)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(**kw):
        s = Server(tmp_path, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server(make_server):
    return make_server()
