"""The agent's side of the contract against the real ShellHub server: registration and
acceptance, TLS through the HTTPS front, a server restart, removal, MAC merges (host build)."""

import re
import subprocess
import time

import pytest

from conftest import SLOW
from shellhub import ApiError


def test_pending_accept_online_shown_by_the_api(legacy, start_device):
    dev = start_device(legacy, accept=False)
    d = dev.wait_registered("pending")
    assert d["status"] == "pending" and d["identity"]["mac"] == dev.name
    assert d["info"]["platform"] == "native" and d["info"]["version"]
    assert d["public_key"].startswith("-----BEGIN RSA PUBLIC KEY-----")
    dev.agent.wait_log(r"auth ok: \S+ in lab \(pending\)")
    legacy.api.accept(dev.uid)
    d = dev.wait_online()
    assert d["status"] == "accepted" and d["online"] is True and d["name"] == dev.name
    assert dev.agent.returncode is None


@pytest.mark.ssh
@pytest.mark.parametrize("transport", [2, 1], ids=["v2", "v1"])
def test_tls_through_the_https_front(legacy, start_device, ssh, tls, transport):
    dev = start_device(legacy, transport=transport, url=legacy.gateway.https_url, ca=tls["ca"])
    r = ssh(dev, "echo over-tls")
    assert r.stdout == "over-tls\n", r.stderr + dev.agent.log()[-2000:]
    assert f"via v{transport}" in dev.agent.log()


@pytest.mark.ssh
def test_tls_refuses_a_server_of_another_ca(legacy, start_device, workdir):
    from hub.testing import make_ca
    other = make_ca(str(workdir / "other-ca"))
    dev = start_device(legacy, url=legacy.gateway.https_url, ca=other["ca"], accept=False)
    dev.agent.wait_log(r"(?i)certificate|verif", timeout=20 * SLOW)
    time.sleep(2)
    names = [d["name"] for st in ("pending", "accepted") for d in legacy.api.devices(st)]
    assert dev.name not in names
    assert dev.agent.returncode is None      # it keeps retrying with backoff
    assert "auth ok" not in dev.agent.log()


def test_server_restart_under_a_connected_agent(legacy, start_device, ssh):
    dev = start_device(legacy)
    assert ssh(dev, "echo before").stdout == "before\n"
    legacy.server.stop()
    time.sleep(2)
    legacy.server.start()
    t0 = time.monotonic()
    # Reconnects use full-jitter backoff 1 s .. 5 min; the server was away ~3 s, so a few
    # attempts at most: bound 1 + 2 + 4 + 8 + 16 s.
    r = None
    while time.monotonic() - t0 < 31 * SLOW:
        r = ssh(dev, "echo after", timeout=20)
        if r.stdout == "after\n":
            break
        time.sleep(0.5)
    assert r is not None and r.stdout == "after\n", (r.stderr if r else "") + dev.agent.log()[-2000:]
    assert dev.agent.returncode is None
    assert len(re.findall(r"online: \S+ via v2", dev.agent.log())) == 2


def _go_log_events(log: str) -> list:
    return re.findall(r'msg="([^"]+)"', log)


def test_device_removed_through_the_api_tether_and_go_agent_alike(legacy, start_device, ssh):
    """Measured against this server (v0.27.0-rc.6): removing a device changes nothing on its
    tunnel. The server neither closes the tunnel nor refuses it later (the tunnel checks only
    the JWT), so both agents stay up and log nothing; after a tunnel loss both redial without a
    new device auth; the gateway refuses SSH to the device ("device not found"). The next
    device auth (here: the agents restarted with the same keys) re-registers the device as
    pending: both agents log that once and keep running (the server caches a device auth for
    30 s in Redis; the case flushes it rather than waiting). Tether's exit 3 (401 on device auth)
    is for servers that answer a removed device with 401; this one never does."""
    t = start_device(legacy, kind="tether")
    g = start_device(legacy, kind="go")
    assert ssh(t, "echo pre").stdout == "pre\n"
    t.agent.wait_log(r"slot \d+ closed")
    t_len, g_len = len(t.agent.log()), len(g.agent.log())
    legacy.api.remove(t.uid)
    legacy.api.remove(g.uid)
    time.sleep(3)
    removed = {d["name"]: d for d in legacy.api.devices("removed")}
    assert {t.name, g.name} <= set(removed)
    assert removed[t.name]["online"] and removed[g.name]["online"]
    assert t.agent.returncode is None and g.agent.returncode is None
    assert t.agent.log()[t_len:] == "" and g.agent.log()[g_len:] == ""
    assert ssh(t, "echo never").returncode == 255
    assert "device not found" in legacy.server.log()


def test_removed_device_registers_again_as_pending(legacy, start_device, workdir):
    """Continuation with fresh processes: a removed device's next auth makes it pending again,
    for Tether and the Go agent alike (same key, name and identity as before)."""
    keys = {}
    for kind in ("tether", "go"):
        d = start_device(legacy, kind=kind)
        keys[kind] = (d, None)
        legacy.api.remove(d.uid)
        d.agent.stop()
    legacy.redis.flush()       # = the 30 s device-auth cache expired
    for kind, (old, _) in keys.items():
        env_key = _key_of(old)
        again = start_device(legacy, kind=kind, name=old.name, key=env_key, accept=False)
        d = again.wait_registered("pending")
        assert d["uid"] == old.uid
        time.sleep(1)
        if kind == "tether":
            assert len(re.findall(r"auth ok: \S+ in lab \(pending\)", again.agent.log())) == 1
        else:
            assert "Server connection established" in _go_log_events(again.agent.log())
        assert again.agent.returncode is None


def _key_of(dev) -> str:
    return dev.agent_env["SHELLHUB_PRIVATE_KEY"]


def test_same_mac_merge_and_preferred_identity(legacy, start_device, ssh):
    """Two agents on one machine (same MAC, different keys and names). Accepting the second
    merges it into the first (server-side, on accept): one accepted device is left, with the
    second device's uid and the first one's name; the first device's record is gone while its
    agent stays connected, and `user@lab.<first name>` now reaches the second agent.
    SHELLHUB_PREFERRED_IDENTITY (any string, sent as identity.mac) keeps them apart."""
    a = start_device(legacy, identity=False)
    b = start_device(legacy, identity=False, accept=False)
    db = b.wait_registered("pending")
    assert db["identity"]["mac"] == legacy.api.device(a.uid)["identity"]["mac"] != a.name
    legacy.api.accept(b.uid)
    time.sleep(1)
    accepted = [d for d in legacy.api.devices("accepted") if d["identity"]["mac"] == db["identity"]["mac"]]
    assert [(d["uid"], d["name"]) for d in accepted] == [(b.uid, a.name)]
    with pytest.raises(ApiError) as gone:
        legacy.api.device(a.uid)
    assert gone.value.status == 404
    r = ssh(a, "echo merged")          # a's name, b's agent
    assert r.stdout == "merged\n", r.stderr
    b.agent.wait_log(r"session \w+ opened")
    assert "session" not in a.agent.log()
    assert a.agent.returncode is None and b.agent.returncode is None
    # With identities: both stay, each under its own name.
    c = start_device(legacy)
    d = start_device(legacy)
    names = {x["name"] for x in legacy.api.devices("accepted")}
    assert {c.name, d.name} <= names
    assert ssh(c, "echo c").stdout == "c\n" and ssh(d, "echo d").stdout == "d\n"
