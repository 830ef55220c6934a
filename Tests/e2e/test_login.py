"""`tether login` (the Go agent's `login`; POST /api/devices/auth/code, GET
/api/devices/auth/status) against the dev hub: a pending device shows a code in lines of at
most 80 columns with its expiry and waits until a person accepts it; an accepted device says
so; a device without a tenant says in one line that it is not registered yet."""

import re
import subprocess
import time

from hub.config import DEFAULT_TENANT
from hub.testing import agent_env, write_device_key

CODE = re.compile(r"^      ([2-9A-Z]{4})-([2-9A-Z]{4})$", re.M)


def login(tether_bin, url, key, tenant=DEFAULT_TENANT, **extra):
    env = agent_env(url, key, tenant=tenant, extra={"SHELLHUB_PREFERRED_IDENTITY": "02:00:00:00:03:00", **extra})
    return subprocess.Popen([tether_bin, "login"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_pending_device_shows_a_code_and_waits_for_acceptance(make_hub, tether_bin, tmp_path):
    hub = make_hub("--no-auto-accept")
    key = write_device_key(str(tmp_path / "login.key"))
    p = login(tether_bin, hub.url, key)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines.append(p.stdout.readline())
        if lines[-1].startswith("Waiting for acceptance"):
            break
    text = "".join(lines)
    m = CODE.search(text)
    assert m, text
    code = m.group(1) + m.group(2)
    assert f"{hub.url}/accept-device?code={code}" in text
    assert "code expires in 10 min" in text
    assert all(len(line.rstrip("\n")) <= 80 for line in lines), lines
    listed = hub.api("GET", "/api/hub/login-codes")["codes"]
    assert [c["code"] for c in listed] == [code]
    time.sleep(4)   # it polls the status (every 3 s) and keeps waiting
    assert p.poll() is None
    assert hub.api("GET", "/api/hub/device-auth")["requests"]["status"] >= 1
    hub.api("POST", f"/api/hub/login-codes/{code}/accept")
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out
    assert "Accepted: dev." in out
    assert hub.devices()[0]["status"] == "accepted"


def test_expired_code_and_accepted_device(make_hub, tether_bin, tmp_path):
    hub = make_hub("--no-auto-accept", "--login-code-expiry", "4")
    key = write_device_key(str(tmp_path / "login.key"))
    out, _ = login(tether_bin, hub.url, key).communicate(timeout=30)
    assert "code expires in 4 s" in out
    assert "The code expired before the device was accepted" in out
    dev = hub.devices()[0]
    hub.api("POST", f"/api/hub/devices/{dev['uid']}/accept")
    p = login(tether_bin, hub.url, key)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0 and out.startswith("Already accepted: dev."), out
    assert hub.api("GET", "/api/hub/device-auth")["requests"]["code"] == 1


def test_a_device_without_a_tenant_is_not_registered_yet(make_hub, tether_bin, tmp_path):
    hub = make_hub()
    key = write_device_key(str(tmp_path / "login.key"))
    p = login(tether_bin, hub.url, key, tenant="")
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 1
    assert out.startswith("not registered yet: no tenant"), out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert hub.devices() == []
