import os
import sys

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

# Tests/ for `import hub`; this folder for the helper modules the tests import by name.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hub.config import Config  # noqa: E402
from hub.core import Hub  # noqa: E402


@pytest.fixture(scope="session")
def device_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hubkey") / "signing.pem")


class HubHandle:
    def __init__(self, hub: Hub, url: str):
        self.hub = hub
        self.url = url
        self.ws_url = "ws" + url[len("http"):]

    def device(self, uid):
        return self.hub.devices[uid]


@pytest_asyncio.fixture
async def make_hub(signing_key_file):
    runners = []

    async def start(**overrides) -> HubHandle:
        cfg = Config(port=0, signing_key_file=signing_key_file, **overrides)
        hub = Hub(cfg)
        runner = web.AppRunner(hub.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append((runner, hub))
        port = site._server.sockets[0].getsockname()[1]
        return HubHandle(hub, f"http://127.0.0.1:{port}")

    yield start
    for runner, hub in runners:
        for d in hub.devices.values():
            if d.tunnel:
                d.tunnel.close("test end")
        for pm in hub.port_maps.values():
            await pm.stop()
        for eps in hub.web_endpoints.values():
            for ep in eps:
                await ep.stop()
        for fl in hub.floods.values():
            if not fl.released:
                await fl.release("rst", wait=0)
        if hub.gateway:
            await hub.gateway.stop()
        await runner.cleanup()


@pytest_asyncio.fixture
async def hub(make_hub):
    return await make_hub()
