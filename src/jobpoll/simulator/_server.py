"""The Simulator: an aiohttp server imitating the providers (see the package docstring).

The Simulator is the public face; each concern is a part of its own, which the
Simulator makes and wires together: settings (_settings.py), the job table
(_jobtable.py), the request log (_requestlog.py), rate windows (_limits.py),
fault picking (_injector.py), the listeners (_listeners.py), the providers'
endpoints (_handlers.py, _renderapi_handlers.py), the file origin (_files.py)
and the control API (_control.py).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterable

from aiohttp import web

from ._control import ControlApi
from ._files import FileOrigin
from ._handlers import Json2VideoEndpoints, MuviEndpoints, PictoryEndpoints, ReelbotEndpoints
from ._injector import FaultInjector
from ._jobs import SimClock
from ._jobtable import JobTable
from ._limits import RateWindows
from ._listeners import Listeners
from ._renderapi_handlers import RenderApiEndpoints
from ._requestlog import RequestLog
from ._settings import DEFAULT_SETTINGS, LOG_SIZE, Settings, check_setting

__all__ = ["Simulator", "DEFAULT_SETTINGS", "LOG_SIZE"]


class Simulator:
    """A local imitation of the json2video, Pictory, Muvi, Reelbot, Shotstack,
    Creatomate, Replicate, Runway and Luma APIs.

    See the package docstring (``jobpoll.simulator``) for endpoints, jobs,
    faults, settings and the HTTP control API.
    """

    def __init__(self, *, seed: int | None = None, fault_rate: float = 0.0,
                 speed: float = 1.0, clock: SimClock | None = None) -> None:
        # One lock for all parts: reset() and configure() change several at once.
        self._lock = threading.RLock()
        self.clock = clock or SimClock()
        self._settings = Settings(seed)
        self._table = JobTable(self._lock, self.clock, seed)
        self._log = RequestLog(self._lock)
        self._limits = RateWindows(self._lock, self.clock, self._settings)
        self._faults = FaultInjector(self._lock, self._settings)
        self._listeners = Listeners(self._routes)
        self.base_url = ""
        self.foreign_url = ""
        self.files = FileOrigin(self)
        # In the order their routes are matched (the catch-all comes last).
        self._endpoints = (Json2VideoEndpoints(self), PictoryEndpoints(self), MuviEndpoints(self),
                           ReelbotEndpoints(self), RenderApiEndpoints(self))
        self._control = ControlApi(self)
        self.configure(fault_rate=fault_rate, speed=speed)

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0, *, foreign_port: int = 0,
              files_port: int = 0, ssl_context: Any = None) -> str:
        """Serve in a background thread; returns the base URL ("http://127.0.0.1:PORT",
        or https with a server `ssl_context`, as real providers are; the foreign
        origin too, the file origin stays http)."""
        self.base_url, self.foreign_url, self.files.base_url = self._listeners.start(
            host, port, foreign_port, files_port, ssl_context)
        return self.base_url

    @property
    def files_url(self) -> str:
        """The file origin, where outputs are served (see _files.py)."""
        return self.files.base_url

    def file_bytes(self, url: str) -> bytes:
        """The whole file the file origin serves at `url`."""
        return self.files.file_bytes(url)

    def url_for(self, provider: str) -> str:
        """The base URL to give jobpoll for `provider` (JOBPOLL_<NAME>_BASE_URL): the
        simulator's, plus the path the API lives under (Shotstack /edit/v1, Luma
        /dream-machine/v1)."""
        from ._renderapis import BASE_PATHS

        return self.base_url + BASE_PATHS.get(provider, "")

    def stop(self) -> None:
        self._listeners.stop()

    def __enter__(self) -> "Simulator":
        if not self._listeners.running:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ jobs and clock

    def add_job(self, provider: str, job_id: str | None = None, *, queued: float = 1.0,
                running: float = 3.0, outcome: str = "done", age: float = 0.0,
                faults: list[dict] | None = None, **variant: Any) -> str:
        """Create (or replace) a job; returns its ID."""
        return self.add_jobs([dict(variant, provider=provider, id=job_id, queued=queued,
                                   running=running, outcome=outcome, age=age, faults=faults)])[0]

    def add_jobs(self, specs: Iterable[dict]) -> list[str]:
        """add_job for each spec: {"provider": ..., "id" or "job_id": ..., other add_job
        keywords}. All or nothing: one bad spec (ValueError) adds none."""
        return self._table.add(specs, self._settings["speed"])

    def remove_job(self, provider: str, job_id: str) -> bool:
        return self._table.remove(provider, job_id)

    def advance(self, seconds: float) -> float:
        """Move the simulator's clock `seconds` forward, as if that time had passed:
        jobs progress, retentions run out, rate windows reset. What the simulator
        holds is back-dated by as much, so the times in its answers stay on the
        real clock. Returns the clock's total offset."""
        with self._lock:
            self.clock.advance(seconds)
            self._table.backdate(seconds)
            self._limits.backdate(seconds)
            return self.clock.offset

    def phase(self, provider: str, job_id: str) -> str:
        """The job's phase now: queued, running, done, failed, cancelled or cleaned."""
        return self._table.jobs[provider][job_id].phase()[0]

    def jobs(self, provider: str | None = None) -> list[str]:
        """"provider:id" of every job (oldest first)."""
        return self._table.refs(provider)

    # ------------------------------------------------------------------ log and settings

    def requests(self, *, origin: str | None = None, path: str | None = None,
                 since: float | None = None) -> list[dict]:
        """The request log, oldest first (optionally filtered: origin, path prefix, t >= since)."""
        return self._log.entries(origin=origin, path=path, since=since)

    def clear_log(self) -> None:
        self._log.clear()

    def reset(self, *, jobs: bool = True, log: bool = True, limits: bool = True) -> None:
        """Forget jobs, the request log and/or the rate-limit windows."""
        with self._lock:
            if jobs:
                self._table.clear()
            if log:
                self._log.clear()
            if limits:
                self._limits.forget()

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings (see the package docstring); returns them all."""
        with self._lock:
            new = dict(self._settings.values)
            for name, value in settings.items():
                if name == "seed":
                    self._settings.seed = value
                    self._faults.reseed(value)
                    continue
                new[name] = check_setting(name, value)
            for bucket in ("status", "download"):
                if f"reelbot_{bucket}_budget" in settings:
                    self._limits.forget(bucket)
            self._log.resize(new["log_size"])
            self._settings.replace(new)
            return self.settings()

    def settings(self) -> dict[str, Any]:
        return self._settings.as_dict()

    # ------------------------------------------------------------------ routing

    def _routes(self, app: web.Application, origin: str) -> None:
        """Fill one listener's app: every request is logged (and, on the main
        origin, delayed by the `latency` setting) before its handler runs."""
        log, settings, main = self._log, self._settings, origin == "main"

        def wrap(fn):
            async def handler(request: web.Request) -> web.StreamResponse:
                entry = log.record(origin, request)
                latency = settings["latency"]
                if latency and main:
                    await asyncio.sleep(latency)
                resp = await fn(request, main)
                entry[6] = resp.status
                return resp
            return handler

        r = app.router
        if origin == "files":
            r.add_get("/{tail:.*}", wrap(self.files.serve))
            return
        for endpoints in self._endpoints:
            endpoints.routes(r, wrap)
        if main:
            self._control.routes(r)
        r.add_route("*", "/{tail:.*}", wrap(_not_routed))


async def _not_routed(request: web.Request, main: bool) -> web.StreamResponse:
    return web.Response(status=404, text="404: Not Found")
