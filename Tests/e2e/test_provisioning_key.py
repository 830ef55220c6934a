"""Provisioning keys (docs/protocol-changes.md; ShellHub after v0.27.0-rc.6): an agent with
SHELLHUB_PROVISIONING_KEY (or the older SHELLHUB_INSTALL_KEY) and no tenant enrols without
pairing: the server resolves the tenant from the key, the answer's `tenant_id` is kept in
`<key>.tenant` (0600) like a paired tenant, and the next start sends it."""

import os
import stat

import pytest

from hub.config import DEFAULT_TENANT
from hub.testing import write_device_key


@pytest.fixture
def own_key(tmp_path):
    return write_device_key(str(tmp_path / "provisioned.key"))


@pytest.mark.parametrize("name", ["SHELLHUB_PROVISIONING_KEY", "SHELLHUB_INSTALL_KEY"])
def test_provisioning_key_enrols_without_a_tenant_and_keeps_it(make_hub, start_agent, own_key, name):
    hub = make_hub("--no-auto-accept", "--provisioning-key", f"pk-e2e={DEFAULT_TENANT}")
    env = {"SHELLHUB_TENANT_ID": "", "SHELLHUB_PRIVATE_KEY": own_key, name: "pk-e2e"}
    agent = start_agent(hub.url, env=env)
    agent.wait_log(r"provisioned: tenant " + DEFAULT_TENANT)
    dev = hub.wait_device()
    assert dev["status"] == "accepted" and dev["tenant_id"] == DEFAULT_TENANT
    assert "pairing" not in agent.log()
    tenant_file = own_key + ".tenant"
    assert open(tenant_file).read() == DEFAULT_TENANT + "\n"
    assert stat.S_IMODE(os.stat(tenant_file).st_mode) == 0o600
    first = hub.api("GET", "/api/hub/device-auth")["signed"][0]
    # Both names of the key, no tenant, and the proof over exactly that.
    assert first["provisioning_key"] == "pk-e2e" and first["install_key"] == "pk-e2e"
    assert "tenant_id" not in first
    agent.stop()
    again = start_agent(hub.url, env=env)
    again.wait_log(r"online: ")
    assert "provisioned:" not in again.log()
    last = hub.api("GET", "/api/hub/device-auth")["signed"][-1]
    assert last["tenant_id"] == DEFAULT_TENANT and last["provisioning_key"] == "pk-e2e"


def test_an_unknown_provisioning_key_is_refused_and_said_once(make_hub, start_agent, own_key):
    hub = make_hub("--provisioning-key", f"pk-e2e={DEFAULT_TENANT}")
    agent = start_agent(hub.url, env={"SHELLHUB_TENANT_ID": "", "SHELLHUB_PRIVATE_KEY": own_key,
                                      "SHELLHUB_PROVISIONING_KEY": "not-a-key"})
    agent.wait_log(r"offline: refused \(400\)")
    assert hub.devices() == []
    assert not os.path.exists(own_key + ".tenant")
    assert agent.log().count("refused (400)") == 1
    assert agent.returncode is None
