"""Every session slot keeps its share of the event loop's tables (issue 13 item 1), on the
agent's runtime through the dev hub's port map, with real OpenSSH clients.

Three users on a 4-slot agent each hold one connection with its most channels open (pty and
plain sessions, and `-L` forwards with a TCP client connected through each), all multiplexed
over one OpenSSH ControlMaster connection per user. The fourth user must still get a session,
an eleventh channel on a full connection is refused with an SSH failure (not a dropped
connection), and every held session still answers afterwards."""

import os
import socket
import subprocess
import threading
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import SSH_OPTS, run_ssh

SLOTS = 4
PTY_SESSIONS = 3
PLAIN_SESSIONS = 3
FORWARDS = 4  # 3 + 3 + 4 = 10 channels: SSHLimits.channelsPerConnection


class EchoServer:
    """A TCP echo target for the forwards, beside the agent (loopback)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        try:
            while data := c.recv(4096):
                c.sendall(data)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class User:
    """One OpenSSH master connection with its channels held open."""

    def __init__(self, port, key, tmp_path, n):
        self.ctl = str(tmp_path / f"ctl-{n}")
        self.base = ["ssh", "-p", str(port), "-i", key, *SSH_OPTS, "-S", self.ctl]
        self.procs = []
        self.clients = []
        subprocess.run([*self.base, "-M", "-f", "-N", "-o", "ControlPersist=yes", "root@127.0.0.1"],
                       check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)

    def session(self, pty, tag):
        args = [*self.base, *(["-tt"] if pty else ["-T"]), "root@127.0.0.1",
                f"echo {tag}; while read line; do echo got-$line; done"]
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = p.stdout.readline()
        assert tag.encode() in line, line
        self.procs.append(p)
        return p

    def forward(self, target_port):
        lport = free_port()
        r = subprocess.run([*self.base, "-O", "forward", "-L", f"{lport}:127.0.0.1:{target_port}",
                            "root@127.0.0.1"], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        c = socket.create_connection(("127.0.0.1", lport), timeout=30)
        c.sendall(b"ping")
        assert c.recv(16) == b"ping"
        self.clients.append(c)
        return lport

    def close(self):
        for c in self.clients:
            c.close()
        for p in self.procs:
            p.kill()
        subprocess.run([*self.base, "-O", "exit", "root@127.0.0.1"], capture_output=True, timeout=30)


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_a_free_slot_is_usable_while_the_others_hold_their_most_channels(
        make_hub, start_agent, tmp_path, transport):
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport, env={"TETHER_SESSION_SLOTS": str(SLOTS)})
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    echo = EchoServer()
    users = []
    try:
        for n in range(SLOTS - 1):
            u = User(port, key, tmp_path, n)
            users.append(u)
            for i in range(PTY_SESSIONS):
                u.session(True, f"pty-{n}-{i}")
            for i in range(PLAIN_SESSIONS):
                u.session(False, f"plain-{n}-{i}")
            for _ in range(FORWARDS):
                u.forward(echo.port)
        # The fourth slot works although every other slot is at its channel limit.
        r = run_ssh(port, key, "echo fourth", timeout=60)
        assert r.stdout.strip() == "fourth", r.stderr + agent.log()[-3000:]
        # An eleventh channel on a full connection: an SSH refusal, the connection stays.
        # (OpenSSH's mux client then falls back to a connection of its own, a second slot.)
        r = subprocess.run([*users[0].base, "-T", "root@127.0.0.1", "echo eleventh"],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert b"Session open refused by peer" in r.stderr, r.stderr
        # Every held channel still answers.
        for u in users:
            for p in u.procs:
                p.stdin.write(b"x\n")
                p.stdin.flush()
                # (a pty echoes the line before the answer)
                lines = [p.stdout.readline() for _ in range(2 if "-tt" in p.args else 1)]
                assert b"got-x" in lines[-1], lines
            for c in u.clients:
                c.sendall(b"again")
                assert c.recv(16) == b"again"
        assert "event loop" not in agent.log() and "cannot start SSH" not in agent.log(), agent.log()[-3000:]
        assert agent.returncode is None
    finally:
        for u in users:
            u.close()
        echo.close()
