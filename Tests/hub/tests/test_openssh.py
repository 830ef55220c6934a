"""Plain OpenSSH (ssh, scp/sftp) carried through the hub's port map to an agent-side sshd."""

import asyncio
import getpass
import os

import pytest
from fake_agent import FakeAgentV1, FakeAgentV2, tcp_pipe_handler
from hubtest_helpers import port_map, register, wait_for

from hub.testing import Sshd

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    s = Sshd(str(tmp_path_factory.mktemp("sshd"))).start()
    yield s
    s.stop()


async def run(*argv, timeout=30):
    p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), timeout)
    return p.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("agent_cls", [FakeAgentV2, FakeAgentV1])
async def test_ssh_and_scp_through_port_map(hub, device_key, sshd, tmp_path, agent_cls):
    dev = await register(hub, device_key)
    agent = await agent_cls(hub.ws_url, dev["token"], handler=tcp_pipe_handler(sshd.port)).connect()
    await wait_for(lambda: hub.device(dev["uid"]).tunnel is not None)
    port = await port_map(hub, dev["uid"])
    rc, out, err = await run(*sshd.client_argv(port, "echo", "through-the-hub"))
    assert rc == 0, err
    assert out.strip() == "through-the-hub"
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(700_000))
    dst = tmp_path / "dst.bin"
    scp = ["scp", "-P", str(port), "-i", sshd.key_path, "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR"]
    rc, _, err = await run(*scp, str(src), f"{getpass.getuser()}@127.0.0.1:{dst}")
    assert rc == 0, err
    assert dst.read_bytes() == src.read_bytes()
    st = hub.device(dev["uid"]).counters
    key = "tunnel" if agent_cls is FakeAgentV2 else "dialback"
    assert st[key + "_down"] > 700_000
    await agent.close()
