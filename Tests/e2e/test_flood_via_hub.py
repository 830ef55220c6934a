"""A hub that floods the real agent (the hub's flood route, Tests/hub/flood.py): hundreds of v2
streams (SSH header then idle, multistream stalled, garbage, bare SYN) or v1 conn-readys at
once, far beyond the session slots. The agent must answer every one (accept or refuse, never
ignore), hold at most its slots plus its negotiation places (V2Tunnel.maxNegotiatingStreams,
V1Sessions.maxPendingDialBacks: 8), refuse by slot when slots are full, stay on the same
tunnel with bounded memory, end every released stream (FIN or RST), give back every file
descriptor, and serve a normal SSH session after."""

import os
import re
import time

import pytest

from hub.testing import AGENT_HOSTNAME as HOST

from .test_e2e_agent import connected, register_user_key
from .test_sessions_via_hub import run_ssh

SLOTS = 4            # TETHER_SESSION_SLOTS for these tests
NEGOTIATING = 8      # V2Tunnel.maxNegotiatingStreams, V1Sessions.maxPendingDialBacks
RSS_GROWTH_KIB = 20 * 1024


def memory_kib(pid: int) -> dict:
    """VmRSS (now) and VmHWM (peak so far) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return {k: int(v.split()[0]) for k, v in
                (line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))}


@pytest.fixture
def flooded(make_hub, start_agent, tmp_path, request):
    transport = request.param
    hub = make_hub("--port-map", f"{HOST}=0")
    agent = start_agent(hub.url, transport=transport, env={"TETHER_SESSION_SLOTS": str(SLOTS)})
    dev = connected(hub)
    key = register_user_key(hub, tmp_path / "id_rsa")
    port = hub.port_map(dev["uid"])
    # Warm-up session: the baseline includes what one SSH session allocates for good.
    r = run_ssh(port, key, "echo warm")
    assert r.stdout.strip() == "warm", r.stderr + agent.log()[-1500:]
    # Its slot is free again. v2 logs the slot's end; v1 frees it silently when the dial-back
    # closes, just before the SSH server notices its peer is gone.
    agent.wait_log(r"slot \d+ closed" if transport == 2 else r"ssh: conn hub: closed")
    return hub, agent, port, key, transport


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def flood(hub, **body):
    return hub.api("POST", f"/api/hub/devices/{HOST}/flood", body)


def release(hub, mode="fin"):
    return hub.api("DELETE", f"/api/hub/devices/{HOST}/flood?mode={mode}&wait=5")


def ssh_works_again(port, key, agent, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        r = run_ssh(port, key, "echo after-flood", timeout=30)
        if r.stdout.strip() == "after-flood":
            return
        assert time.monotonic() < deadline, r.stderr + agent.log()[-2000:]
        time.sleep(0.5)


def assert_same_tunnel(hub, agent):
    dev = hub.device(HOST)
    assert dev["connected"] and dev["connects"] == 1, dev
    assert agent.returncode is None, agent.log()[-2000:]


both = pytest.mark.parametrize("flooded", [2, 1], indirect=True, ids=["v2", "v1"])


@both
def test_flood_is_refused_bounded_and_the_agent_recovers(flooded):
    hub, agent, port, key, transport = flooded
    base = memory_kib(agent.proc.pid)
    base_fds = open_fds(agent.proc.pid)
    n = 500 if transport == 2 else 300

    # 1. Everything at once, four kinds round-robin.
    rep = flood(hub, streams=n, settle=5)
    total, kinds = rep["total"], rep["kinds"]
    assert rep["tunnel_up"] and total["opened"] == n
    # Every stream / conn-ready was answered: accepted and negotiated, or refused.
    assert total["unsettled"] == 0, rep
    if transport == 2:
        # The agent ACKs what it takes and RSTs the rest: no SYN is ignored.
        assert rep["syn_unanswered"] == 0, rep
    else:
        assert total["negotiated"] + total["refused"] == n, rep
        assert sum(rep["pickup_failed"].values()) == total["refused"], rep
    # Bounded by design: slots plus negotiation places, the excess refused.
    assert total["held"] <= SLOTS + NEGOTIATING, rep
    assert kinds["ssh"]["held"] <= SLOTS, rep
    assert total["refused"] >= n - SLOTS - NEGOTIATING - kinds["garbage"]["opened"], rep
    assert kinds["garbage"]["held"] == 0, rep
    assert_same_tunnel(hub, agent)
    out = release(hub)
    if transport == 2:
        # FIN on every held stream: the agent ends each (SSH session over, negotiation reset).
        assert out["lingering"] == 0, out

    # 2. SSH opens in batches: the slots fill up, then the agent refuses by slot.
    m = 60 if transport == 2 else 40
    rep = flood(hub, streams=m, kinds=["ssh"], batch=SLOTS, settle=5)
    ssh = rep["kinds"]["ssh"]
    assert ssh["unsettled"] == 0, rep
    assert (ssh["held"], ssh["answered"]) == (SLOTS, SLOTS), rep
    if transport == 2:
        assert ssh["refused"] == m - SLOTS, rep      # RST after the header: no free slot
    else:
        assert ssh["closed"] + ssh["refused"] == m - SLOTS, rep
    r = run_ssh(port, key, "echo squeezed-in", timeout=30)
    assert r.returncode != 0 and "squeezed-in" not in r.stdout    # every slot is held
    agent.wait_log(r"all session slots busy", timeout=5)
    # v2: RST this time (the hub's hold timer does the same); the slots must come back too.
    out = release(hub, mode="rst")
    assert out["released"] == SLOTS, out

    # 3. Back to normal on the same tunnel, memory bounded.
    ssh_works_again(port, key, agent)
    assert_same_tunnel(hub, agent)
    after = memory_kib(agent.proc.pid)
    assert after["VmRSS"] - base["VmRSS"] < RSS_GROWTH_KIB, (base, after)
    assert after["VmHWM"] - base["VmRSS"] < RSS_GROWTH_KIB, (base, after)
    # Every SSH server session, socketpair and dial-back of the flood is gone again.
    deadline = time.monotonic() + 5
    while open_fds(agent.proc.pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(agent.proc.pid) <= base_fds, (base_fds, open_fds(agent.proc.pid))
    assert not re.search(r"(fatal|panic|Fatal error)", agent.log())


@both
def test_flood_leaves_a_bounded_log(flooded):
    hub, agent, port, key, transport = flooded
    n = 500 if transport == 2 else 300
    before = len(agent.log().splitlines())
    rep = flood(hub, streams=n, settle=5)
    assert rep["total"]["opened"] == n
    release(hub)
    time.sleep(0.5)                            # lines of the release itself
    new = agent.log().splitlines()[before:]
    assert len(new) < 50, f"{len(new)} lines, e.g. {new[:3]}"
