import os
import sys

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from hub.config import DEFAULT_TENANT, Config  # noqa: E402
from hub.core import Hub  # noqa: E402

TENANT = DEFAULT_TENANT


def pytest_collection_modifyitems(items):
    import inspect
    for item in items:
        fn = getattr(item, "function", None)
        if fn is not None and inspect.iscoroutinefunction(fn):
            item.add_marker(pytest.mark.asyncio)


def go_rsa_public_pem(key) -> str:
    """PEM of the PKCS#1 RSAPublicKey, 64-char lines, as Go's pem encoder writes it."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.PKCS1).decode()


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
        if hub.gateway:
            await hub.gateway.stop()
        await runner.cleanup()


@pytest_asyncio.fixture
async def hub(make_hub):
    return await make_hub()


def auth_body(public_key: str, mac="aa:bb:cc:dd:ee:ff", hostname=None, tenant=TENANT, **extra):
    body = {"info": {"id": "debian", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                     "version": "v0.27.0", "arch": "amd64", "platform": "native"},
            "identity": {"mac": mac}, "public_key": public_key, "tenant_id": tenant}
    if hostname is not None:
        body["hostname"] = hostname
    body.update(extra)
    return body
