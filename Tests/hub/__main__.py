"""`python -m hub [flags]` from the Tests/ folder. Flags: `python -m hub --help`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from .config import Config
from .core import Hub


async def serve(cfg: Config) -> None:
    hub = Hub(cfg)
    runner = web.AppRunner(hub.app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    if cfg.gateway_port >= 0:
        from .gateway import Gateway
        hub.gateway = Gateway(hub)
        await hub.gateway.start(cfg.host, cfg.gateway_port)
        logging.getLogger("hub").info("gateway listening on %s:%d", cfg.host, hub.gateway.port)
    # This exact line is parsed by the test fixtures.
    print(f"hub listening on http://{cfg.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv=None) -> None:
    cfg = Config.from_args(argv)
    logging.basicConfig(level=getattr(logging, cfg.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stdout)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    asyncio.run(serve(cfg))


if __name__ == "__main__":
    main()
