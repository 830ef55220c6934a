"""Tenant-less pairing (PROTOCOL.md 4.6, 11) against the dev hub: an agent without a tenant
shows a code, polls until a person accepts it, saves the tenant beside its key and goes online;
a restart uses the saved tenant; rejected and expired codes are said once and not followed by
a storm of new ones; a paired device that is removed forgets its tenant and pairs again, while
one with a configured tenant stops (exit 3)."""

import os
import re
import stat
import time

import pytest

from hub.config import DEFAULT_TENANT
from hub.testing import write_device_key

CODE_LINE = r"pairing code ([2-9A-Z]{4})-([2-9A-Z]{4}), valid (\d+) min"


@pytest.fixture
def own_key(tmp_path):
    """A key of this test alone: the tenant file lands beside it."""
    return write_device_key(str(tmp_path / "paired.key"))


def no_tenant(key, **extra):
    return {"SHELLHUB_TENANT_ID": "", "SHELLHUB_PRIVATE_KEY": key, **extra}


def shown_code(agent, timeout=20):
    m = agent.wait_log(CODE_LINE, timeout=timeout)
    return m.group(1) + m.group(2), int(m.group(3))


@pytest.mark.parametrize("transport", [2, 1])
def test_pairs_saves_the_tenant_and_goes_online(make_hub, start_agent, own_key, transport):
    hub = make_hub()
    agent = start_agent(hub.url, transport=transport, env=no_tenant(own_key))
    code, minutes = shown_code(agent)
    assert minutes == 10
    assert f"/accept-device?code={code}" in agent.log()
    listed = hub.api("GET", "/api/hub/pairing")
    assert [c["code"] for c in listed["codes"]] == [code]
    # It polls about every 3 s and has not registered yet.
    time.sleep(4)
    polls = hub.api("GET", "/api/hub/pairing")["codes"][0]["polls"]
    assert 1 <= polls <= 3, polls
    assert hub.devices() == []
    hub.api("POST", f"/api/hub/pairing/{code}/accept", {"tenant": DEFAULT_TENANT})
    agent.wait_log(r"paired: tenant " + DEFAULT_TENANT)
    dev = hub.wait_device()
    assert dev["tenant_id"] == DEFAULT_TENANT
    tenant_file = own_key + ".tenant"
    assert open(tenant_file).read() == DEFAULT_TENANT + "\n"
    assert stat.S_IMODE(os.stat(tenant_file).st_mode) == 0o600
    assert hub.api("GET", "/api/hub/pairing")["requests"]["create"] == 1
    agent.stop()
    # A restart uses the saved tenant: no new code.
    again = start_agent(hub.url, transport=transport, env=no_tenant(own_key))
    again.wait_log(r"online: ")
    assert "pairing code" not in again.log()
    assert hub.api("GET", "/api/hub/pairing")["requests"]["create"] == 1


def test_rejected_code_is_said_once_and_no_new_code_follows_at_once(make_hub, start_agent, own_key):
    hub = make_hub()
    agent = start_agent(hub.url, env=no_tenant(own_key))
    code, _ = shown_code(agent)
    hub.api("POST", f"/api/hub/pairing/{code}/reject")
    m = agent.wait_log(r"pairing code rejected; next code in (\d+) min")
    assert 24 <= int(m.group(1)) <= 36  # 30 min +- 20 %
    time.sleep(4)
    assert hub.api("GET", "/api/hub/pairing")["requests"]["create"] == 1
    assert agent.log().count("rejected") == 1
    assert not os.path.exists(own_key + ".tenant")
    assert agent.returncode is None


def test_expired_code_stops_the_polling(make_hub, start_agent, own_key):
    hub = make_hub("--pairing-expiry", "4")
    agent = start_agent(hub.url, env=no_tenant(own_key))
    shown_code(agent)
    agent.wait_log(r"pairing code expired; next code in \d+ min", timeout=20)
    requests = hub.api("GET", "/api/hub/pairing")["requests"]
    time.sleep(4)
    assert hub.api("GET", "/api/hub/pairing")["requests"] == requests  # quiet now
    assert requests["status"] <= 3


def test_preauthorised_code_pairs_without_a_person(make_hub, start_agent, own_key):
    hub = make_hub()
    hub.api("POST", "/api/hub/pairing/K7Q2WXYZ/authorize", {"tenant": DEFAULT_TENANT})
    agent = start_agent(hub.url, env=no_tenant(own_key, SHELLHUB_PAIRING_CODE="K7Q2WXYZ"))
    agent.wait_log(r"paired: tenant " + DEFAULT_TENANT)
    hub.wait_device()
    assert "pairing code " not in agent.log()


def test_removed_paired_device_forgets_its_tenant_and_pairs_again(make_hub, start_agent, own_key):
    hub = make_hub("--removed-is-401")
    agent = start_agent(hub.url, env=no_tenant(own_key))
    code, _ = shown_code(agent)
    hub.api("POST", f"/api/hub/pairing/{code}/accept")
    dev = hub.wait_device()
    assert os.path.exists(own_key + ".tenant")
    hub.api("DELETE", f"/api/hub/devices/{dev['uid']}")
    agent.wait_log(r"device removed from its namespace \(401\): forgetting the saved tenant", timeout=30)
    assert not os.path.exists(own_key + ".tenant")
    log = agent.log()
    second = re.findall(CODE_LINE, log)
    deadline = time.monotonic() + 20
    while len(second) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        second = re.findall(CODE_LINE, agent.log())
    assert len(second) == 2 and second[1] != second[0]
    assert agent.returncode is None


def test_removed_device_with_a_configured_tenant_stops(make_hub, start_agent):
    hub = make_hub("--removed-is-401")
    agent = start_agent(hub.url)
    dev = hub.wait_device()
    hub.api("DELETE", f"/api/hub/devices/{dev['uid']}")
    agent.wait_log(r"device removed from its namespace \(401\): stopping", timeout=30)
    deadline = time.monotonic() + 10
    while agent.returncode is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent.returncode == 3


def test_unreachable_server_is_one_line_with_the_reason(start_agent, own_key):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = start_agent(f"http://127.0.0.1:{port}", env=no_tenant(own_key))
    m = agent.wait_log(r"pairing: (.+); retrying", timeout=20)
    assert "refused" in m.group(1).lower(), m.group(1)
    time.sleep(8)  # several retries (backoff from 3 s)
    assert agent.log().count("pairing: ") == 1
    assert agent.returncode is None


def test_a_tenant_that_cannot_be_saved_is_saved_later(make_hub, start_agent, own_key):
    """`<key>.tenant` cannot be written at first (here a directory stands at its path): the
    agent goes online with the tenant all the same, says so once, and saves it as soon as the
    path takes it, so a restart does not pair again."""
    tenant_file = own_key + ".tenant"
    os.mkdir(tenant_file)
    hub = make_hub()
    agent = start_agent(hub.url, env=no_tenant(own_key))
    code, _ = shown_code(agent)
    hub.api("POST", f"/api/hub/pairing/{code}/accept", {"tenant": DEFAULT_TENANT})
    agent.wait_log(r"paired: tenant " + DEFAULT_TENANT + r", not saved yet \(retrying\): ")
    hub.wait_device()
    time.sleep(3)
    assert agent.log().count("not saved yet") == 1
    os.rmdir(tenant_file)
    agent.wait_log(r"tenant saved at last: .*paired\.key\.tenant", timeout=30)
    assert open(tenant_file).read() == DEFAULT_TENANT + "\n"
    assert stat.S_IMODE(os.stat(tenant_file).st_mode) == 0o600
    agent.stop()
    again = start_agent(hub.url, env=no_tenant(own_key))
    again.wait_log(r"online: ")
    assert "pairing code" not in again.log()
