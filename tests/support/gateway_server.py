"""The gateway app served by uvicorn in a background thread, for tests that need a real HTTP
and websocket server (a browser, python-telegram-bot's webhook, a websocket client) while
the test itself runs synchronously.

`server.call(coro_fn)` runs a coroutine on the server's event loop — the way a test reaches
`app.state.gateway.deliver(...)` as the agent console would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from bot.app import create_app
from kefu_config.settings import Settings

T = TypeVar("T")


class GatewayServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: FastAPI = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.gateway_port,
                                log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name="gateway")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.settings.gateway_port}/ws/chat"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._server.serve())

    def start(self, timeout: float = 30.0) -> GatewayServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)

    def call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        """Run `make()` on the gateway's loop and wait for its result."""
        async def run() -> T:
            return await make()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    @property
    def gateway(self):
        return self.app.state.gateway

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
