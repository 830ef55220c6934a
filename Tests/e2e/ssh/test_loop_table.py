"""A connection whose fds do not all fit the event loop's table (issue 13 item 1): it is closed
with every fd it had taken out of the loop, so nothing is left to spin on POLLNVAL, and the next
connection is served. `--loop-descriptors` makes the table small enough to fill with one
client (the agent reserves a connection's most per slot, see Tests/e2e/test_slot_tables.py)."""
import os
import socket
import subprocess
import time

import pytest

from .conftest import RUNNER


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_connection_over_the_table_is_closed_cleanly(make_server, tmp_path):
    if RUNNER:
        # The exact fill counts each session's fds (pipes, pty, the child's pidfd), which under
        # qemu-user differ from the host's in ways not pinned down yet (the first try, assuming
        # no pidfd there, did not fill either). The registration logic is the same Swift code;
        # the host run covers it, and Tests/e2e/test_slot_tables.py the agent's own tables.
        pytest.skip("under qemu-user: the per-session fd count this exact fill relies on differs")
    s = make_server(extra=["--loop-descriptors", "9"])
    ctl = str(tmp_path / "ctl")
    base = ["ssh", "-p", str(s.port), *s.opts(), "-S", ctl]
    subprocess.run([*base, "-M", "-f", "-N", "-o", "ControlPersist=yes", f"{s.user}@127.0.0.1"],
                   env=s.env(), check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)
    held = []
    try:
        # The listener, the connection's socket, a plain session that never reads its stdin
        # (stdout and stderr pipes and the child's pidfd registered) and two pty sessions (the
        # master and the pidfd each) fill the 9 places exactly.
        first = subprocess.Popen([*base, "-T", f"{s.user}@127.0.0.1", "echo s0; exec sleep 60"],
                                 env=s.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        held.append(first)
        assert first.stdout.readline() == b"s0\n", s.logtext()
        for i in range(1, 3):
            p = subprocess.Popen([*base, "-tt", f"{s.user}@127.0.0.1", f"echo s{i}; exec sleep 60"],
                                 env=s.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            held.append(p)
            assert p.stdout.readline().strip() == f"s{i}".encode(), s.logtext()
        assert "table full" not in s.logtext()
        # Input the first session's program does not read stays queued, so its stdin pipe
        # needs a place too: there is none. The connection ends, with the pty fds registered
        # after the one that did not fit taken out as well.
        try:
            first.stdin.write(os.urandom(256 * 1024))
            first.stdin.flush()
        except BrokenPipeError:
            pass
        deadline = time.time() + 10
        while "event loop descriptor table full" not in s.logtext() and time.time() < deadline:
            time.sleep(0.1)
        assert "event loop descriptor table full" in s.logtext(), s.logtext()
        # Nothing left registered for closed fds: the server sleeps instead of spinning...
        time.sleep(0.5)
        before = cpu_seconds(s.proc.pid)
        time.sleep(2)
        assert cpu_seconds(s.proc.pid) - before < 0.5, "ssh-serve spins after the table filled"
        # ...and the table has room again for the next client.
        r = s.ssh("echo after", timeout=60)
        assert r.stdout == b"after\n", r.stderr + s.logtext().encode()
        assert s.proc.poll() is None
    finally:
        for p in held:
            p.kill()
        subprocess.run([*base, "-O", "exit", f"{s.user}@127.0.0.1"], env=s.env(), capture_output=True,
                       timeout=30)


def test_a_connection_without_a_timer_for_its_deadline_is_not_served(make_server):
    # Issue 13 item 2: the login grace is a loop timer; a connection that cannot get one is
    # closed instead of being served with no limit. Two silent TCP clients take the 2 timers.
    s = make_server(extra=["--loop-timers", "2", "--login-grace-ms", "60000"])
    silent = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
    try:
        deadline = time.time() + 10
        while s.logtext().count(": start") < 2 and time.time() < deadline:
            time.sleep(0.05)
        r = s.ssh("echo served", timeout=60)
        assert r.stdout != b"served\n"
        assert "event loop timer table full" in s.logtext(), s.logtext()
        silent.pop().close()
        time.sleep(0.5)
        r = s.ssh("echo served", timeout=60)
        assert r.stdout == b"served\n", r.stderr + s.logtext().encode()
    finally:
        for c in silent:
            c.close()
