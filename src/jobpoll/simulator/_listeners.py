"""The simulator's three listeners (main, foreign, files) on an event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from aiohttp import web

ORIGINS = ("main", "foreign", "files")


class Listeners:
    """Starts and stops the aiohttp servers; `routes(app, origin)` fills each app."""

    def __init__(self, routes: Callable[[web.Application, str], None]) -> None:
        self._routes = routes
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runners: list[web.AppRunner] = []

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, host: str, port: int, foreign_port: int, files_port: int,
              ssl_context: Any = None) -> tuple[str, str, str]:
        """Serve in a background thread; returns the (main, foreign, files) base URLs:
        https with a server `ssl_context` (the file origin stays http)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        ready = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                box["ports"] = loop.run_until_complete(
                    self._setup(host, (port, foreign_port, files_port), ssl_context))
            except BaseException as exc:  # reported to the caller of start()
                box["error"] = exc
                loop.run_until_complete(self._cleanup())
                loop.close()
                ready.set()
                return
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._cleanup())
                loop.close()

        thread = threading.Thread(target=run, name="jobpoll-simulator", daemon=True)
        thread.start()
        ready.wait()
        if "error" in box:
            thread.join()
            raise box["error"]
        self._thread = thread
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        if ":" in shown:
            shown = f"[{shown}]"
        main_port, foreign, files = box["ports"]
        scheme = "https" if ssl_context is not None else "http"
        return (f"{scheme}://{shown}:{main_port}", f"{scheme}://{shown}:{foreign}",
                f"http://{shown}:{files}")

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            fut = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
            fut.result(timeout=5)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = self._loop = None

    async def _setup(self, host: str, ports: tuple[int, int, int],
                     ssl_context: Any = None) -> list[int]:
        bound = []
        for origin, wanted in zip(ORIGINS, ports):
            app = web.Application(handler_args={"max_field_size": 65536})
            self._routes(app, origin)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            self._runners.append(runner)
            tls = ssl_context if origin != "files" else None
            site = web.TCPSite(runner, host, wanted, backlog=2048, ssl_context=tls)
            await site.start()
            bound.append(runner.addresses[0][1])
        return bound

    async def _cleanup(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            try:
                await runner.cleanup()
            except Exception:
                pass
