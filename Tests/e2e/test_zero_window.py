"""A hub whose TCP window stays at zero (issue 13, stress cases): the agent is sending a bulk
download through its tunnel when the path stops reading (the counting relay between agent and
hub stops forwarding, nothing is closed, so the agent's socket buffers fill and the peer's
window stays shut). The agent must hold its memory (back-pressure down to the SSH channel and
the program, not queues that grow), stay up, and finish the download byte-exact once the path
moves again."""

import subprocess
import threading
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import SSH_OPTS

TOTAL = 64 * 1024 * 1024


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_a_shut_window_holds_memory_and_the_download_resumes(make_hub, make_relay, start_agent, tmp_path,
                                                            transport):
    hub = make_hub("--port-map", f"{HOST}=0")
    relay = make_relay(hub.port)
    agent = start_agent(f"http://127.0.0.1:{relay.port}", transport=transport)
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    pid = agent.proc.pid
    p = subprocess.Popen(["ssh", "-p", str(port), "-i", key, *SSH_OPTS, "root@127.0.0.1",
                          f"head -c {TOTAL} /dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    got = [0]

    def drain():
        while chunk := p.stdout.read(65536):
            got[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.time() + 60
    while got[0] < 2 * 1024 * 1024 and time.time() < deadline:
        time.sleep(0.05)
    assert got[0] >= 2 * 1024 * 1024, agent.log()[-2000:]
    base = rss_kib(pid)
    relay.blackhole(True)
    peak = base
    for _ in range(16):
        time.sleep(0.5)
        peak = max(peak, rss_kib(pid))
    stalled_at = got[0]
    time.sleep(1)
    assert got[0] - stalled_at < 1024 * 1024, "bytes still flowing through a shut window"
    assert agent.returncode is None
    # Bounded: the send queues are fixed; what the agent holds does not grow with the stall.
    assert peak - base < 4096, f"RSS grew {peak - base} KiB while the window was shut"
    relay.blackhole(False)
    assert p.wait(timeout=120) == 0, p.stderr.read().decode() + agent.log()[-2000:]
    reader.join(10)
    assert got[0] == TOTAL
    assert agent.returncode is None
