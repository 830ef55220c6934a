"""The agent's log output stalls (its stderr is a pipe nobody drains: a full journald, a serial
console held by flow control): sessions go on, lines are dropped and counted, and the count is
the first line once the reader drains again. Before the logger wrote without blocking, the
first line into the full pipe froze the one thread: no SSH, no heartbeats."""

import os
import signal
import subprocess
import time

from hub.config import DEFAULT_TENANT
from hub.testing import agent_env

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import HOST, run_ssh


def fill(fd: int) -> int:
    """Fills the pipe through a description of its own: O_NONBLOCK on `fd` itself would be
    shared with the agent's stderr and make its writes non-blocking behind its back."""
    own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    total = 0
    try:
        while True:
            total += os.write(own, b"." * 4096)
    except BlockingIOError:
        pass
    finally:
        os.close(own)
    return total


def drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    out = b""
    try:
        while chunk := os.read(fd, 65536):
            out += chunk
    except BlockingIOError:
        pass
    return out


def test_stalled_log_pipe_does_not_stall_sessions(make_hub, tether_bin, device_key_file, tmp_path):
    hub = make_hub("--port-map", f"{HOST}=0")
    r, w = os.pipe()
    env = agent_env(hub.url, device_key_file, tenant=DEFAULT_TENANT)   # debug: a line per event
    proc = subprocess.Popen([tether_bin, "run"], env=env, stdin=subprocess.DEVNULL,
                            stdout=w, stderr=w, start_new_session=True)
    try:
        dev = connected(hub)
        key = register_user_key(hub, tmp_path / "id_rsa")
        port = hub.port_map(dev["uid"])
        early = drain(r)
        assert b"online" in early or b"tunnel" in early, early[-2000:]
        filled = fill(w)             # nobody reads from here on: the pipe is full
        assert filled > 0
        for i in range(3):
            res = run_ssh(port, key, f"echo stalled-{i}", timeout=60)
            assert (res.returncode, res.stdout) == (0, f"stalled-{i}\n"), res.stderr
        assert hub.device(dev["uid"])["connected"]
        assert proc.poll() is None
        backlog = drain(r)
        assert backlog.startswith(b"." * 4096) and len(backlog) == filled, \
            "the agent wrote into the full pipe (a write blocked until the drain?)"
        res = run_ssh(port, key, "echo after", timeout=60)
        assert res.returncode == 0
        deadline = time.monotonic() + 10
        text = b""
        while time.monotonic() < deadline and b"log lines dropped" not in text:
            time.sleep(0.2)
            text += drain(r)
        lines = text.decode(errors="replace").splitlines()
        dropped = [ln for ln in lines if "log lines dropped: log output stalled" in ln]
        assert len(dropped) == 1, text[-2000:]
        assert lines.index(dropped[0]) == 0 and int(dropped[0].split()[2]) >= 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(r)
        os.close(w)
