"""The namespace in `identity` SSH access mode (first-boot /api/setup on a fresh database): a
key enrolled to the ShellHub account logs in; device passwords do not."""

import pytest

pytestmark = [pytest.mark.ssh, pytest.mark.identity]


def test_identity_mode_account_key(identity, start_device, ssh, user_key):
    if getattr(identity, "_identity_generation", None) != identity.generation:
        identity.api.add_identity_key(user_key["pub"])
        identity._identity_generation = identity.generation
    dev = start_device(identity)
    r = ssh(dev, "echo identity-ok; id -u; exit 4", key=user_key["path"])
    assert (r.returncode, r.stdout) == (4, "identity-ok\n65534\n"), \
        r.stderr + dev.agent.log()[-2000:]
    # No passwords in this mode: the gateway does not offer the method at all.
    r = ssh(dev, "echo never")
    assert r.returncode == 255 and "never" not in r.stdout
