"""The resolver's forked lookup child holds none of the agent's descriptors (issue #13 item 5).

A lookup is made slow for real: the agent runs in a private mount namespace (`unshare -m`,
root only) where /etc/resolv.conf is bind-mounted over by one naming a nameserver on a
loopback address of our own, served by a plain UDP socket that reads queries and never answers
(`options timeout:30 attempts:1`, so glibc waits 30 s and the agent's 15 s deadline ends the
child). The agent's network, hub and SSH clients are the host's own; only name lookups differ.
Why this way: glibc has no environment variable naming a nameserver (RES_OPTIONS sets only
options such as timeouts, LOCALDOMAIN only search domains), and a private network namespace
(`unshare -rn`) would cut the agent off from the hub; a bind mount changes just that one file,
for the agent alone, and glibc and musl both read it.
"""

import os
import random
import select
import shutil
import socket
import subprocess
import time

import pytest

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import HOST, SSH_OPTS


def can_unshare_mounts():
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.fixture
def black_hole():
    """A UDP socket on 127.x.y.1:53 that takes DNS queries and never replies."""
    for _ in range(20):
        addr = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.1"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((addr, 53))
            break
        except OSError:
            s.close()
    else:
        pytest.skip("no loopback address free for a nameserver on port 53")
    yield s
    s.close()


@pytest.fixture
def slow_dns_device(make_hub, start_agent, tether_bin, tmp_path, black_hole):
    if not can_unshare_mounts():
        pytest.skip("needs unshare -m (root) for a private /etc/resolv.conf")
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {black_hole.getsockname()[0]}\noptions timeout:30 attempts:1\n")
    hub = make_hub("--port-map", f"{HOST}=0")
    wrap = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(conf), tether_bin]
    agent = start_agent(hub.url, command=wrap)  # hub.url is an address: no lookup for the hub
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    return hub, agent, hub.port_map(dev["uid"]), key


def read_to_eof(f, timeout):
    out = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([f], [], [], left)[0]:
            break
        data = os.read(f.fileno(), 4096)
        if not data:
            break
        out += data
    return out


def test_closed_pipe_shows_eof_while_a_lookup_hangs(slow_dns_device, black_hole):
    """A session's `cat` sees EOF on stdin as soon as the client closes it, even though a
    direct-tcpip open to a name is still resolving. Before: the lookup child, forked after the
    session started, held the agent's write end of cat's stdin until the 15 s deadline."""
    hub, agent, port, key = slow_dns_device
    ssh = ["ssh", "-p", str(port), "-i", key, *SSH_OPTS]
    cat = subprocess.Popen([*ssh, "root@127.0.0.1", "cat; echo done"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fwd = None
    try:
        cat.stdin.write(b"ping\n")
        cat.stdin.flush()
        ready, _, _ = select.select([cat.stdout], [], [], 30)
        assert ready and cat.stdout.readline() == b"ping\n", agent.log()[-1500:]
        fwd = subprocess.Popen([*ssh, "-W", "slow-lookup.example:80", "root@127.0.0.1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        black_hole.settimeout(30)
        query, _ = black_hole.recvfrom(512)  # the lookup child is now waiting on us
        assert b"slow-lookup" in query
        # The lookup child (a fork of the agent: same executable) has stdio, its pipe and the
        # stub resolver's own UDP socket; before, it had every descriptor of the agent too.
        pid = agent.proc.pid
        exe = os.readlink(f"/proc/{pid}/exe")
        kids = [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
        lookup = [c for c in kids if os.readlink(f"/proc/{c}/exe") == exe]
        assert len(lookup) == 1, kids
        fds = sorted(int(f) for f in os.listdir(f"/proc/{lookup[0]}/fd"))
        assert len([f for f in fds if f > 2]) <= 2, fds
        start = time.monotonic()
        cat.stdin.close()
        out = read_to_eof(cat.stdout, 30)
        elapsed = time.monotonic() - start
        assert out == b"done\n", agent.log()[-1500:]
        assert fwd.poll() is None, "the lookup ended before the check"
        assert elapsed < 3, f"EOF took {elapsed:.1f} s: the lookup child held the pipe"
    finally:
        if fwd is not None:
            fwd.kill()
            fwd.wait()
        if cat.poll() is None:
            cat.kill()
            cat.wait()


def test_other_names_resolve_while_one_hangs(slow_dns_device, black_hole):
    """Lookups run side by side: while one name hangs on the silent nameserver, a forward to
    `localhost` (answered from /etc/hosts in its own child) opens at once; the hanging one
    fails alone at the agent's 15 s deadline, with one log line. Before: the second name got
    "resolver busy"."""
    hub, agent, port, key = slow_dns_device
    ssh = ["ssh", "-p", str(port), "-i", key, *SSH_OPTS]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    fwd = subprocess.Popen([*ssh, "-W", "slow-lookup.example:80", "root@127.0.0.1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        black_hole.settimeout(30)
        black_hole.recvfrom(512)
        start = time.monotonic()
        near = subprocess.Popen([*ssh, "-W", f"localhost:{srv.getsockname()[1]}", "root@127.0.0.1"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            c, _ = srv.accept()
        except socket.timeout:
            near.kill()
            raise AssertionError(near.communicate()[1].decode() + agent.log()[-1500:])
        c.sendall(b"hi")
        c.close()
        out, _ = near.communicate(timeout=30)
        assert out == b"hi"
        assert time.monotonic() - start < 10
        assert fwd.poll() is None  # still resolving
        line = "forward to slow-lookup.example:80: resolve slow-lookup.example: timed out"
        agent.wait_log(line, timeout=30)
        assert fwd.wait(timeout=30) != 0
        assert agent.log().count(line) == 1
    finally:
        srv.close()
        if fwd.poll() is None:
            fwd.kill()
            fwd.wait()
