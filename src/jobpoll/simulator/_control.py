"""The HTTP control API under /_sim on the main origin (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._faults import JSON, _dumps

if TYPE_CHECKING:
    from ._server import Simulator


def _json(status: int, payload: Any) -> web.Response:
    return web.Response(body=_dumps(payload), status=status, content_type=JSON)


class ControlApi:
    """/_sim endpoints: what a test or user in another process can do through the
    Simulator's methods (add jobs, read the log, reset, configure, move the clock)."""

    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_sim", self._info)
        router.add_get("/_sim/jobs", self._list_jobs)
        router.add_post("/_sim/jobs", self._add_jobs)
        router.add_get("/_sim/requests", self._requests)
        router.add_post("/_sim/reset", self._reset)
        router.add_get("/_sim/config", self._config)
        router.add_post("/_sim/config", self._config)
        router.add_get("/_sim/clock", self._clock)
        router.add_post("/_sim/clock", self._clock)

    async def _info(self, request: web.Request) -> web.Response:
        sim = self.sim
        return _json(200, {"base_url": sim.base_url, "foreign_url": sim.foreign_url,
                           "files_url": sim.files_url,
                           "jobs": sim._table.counts(), "requests": len(sim._log),
                           "config": sim.settings()})

    async def _list_jobs(self, request: web.Request) -> web.Response:
        return _json(200, {"jobs": self.sim.jobs(request.query.get("provider"))})

    async def _add_jobs(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            specs = spec if isinstance(spec, list) else [spec]
            ids = self.sim.add_jobs(specs)
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})
        refs = [f"{s['provider']}:{i}" for s, i in zip(specs, ids)]
        return _json(200, {"ids": ids, "refs": refs})

    async def _requests(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            since = float(q["since"]) if "since" in q else None
        except ValueError:
            return _json(400, {"error": "since is an epoch number"})
        entries = self.sim.requests(origin=q.get("origin"), path=q.get("path"), since=since)
        if q.get("clear") in ("1", "true"):
            self.sim.clear_log()
        return _json(200, {"requests": entries})

    async def _reset(self, request: web.Request) -> web.Response:
        opts: dict = {}
        if request.can_read_body:
            try:
                opts = await request.json()
            except ValueError:
                return _json(400, {"error": "the body is a JSON object"})
            if not isinstance(opts, dict):
                return _json(400, {"error": "the body is a JSON object"})
        try:
            self.sim.reset(**{k: bool(v) for k, v in opts.items()})
        except TypeError as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"ok": True})

    async def _config(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return _json(200, {"config": self.sim.settings()})
        try:
            settings = await request.json()
            if not isinstance(settings, dict):
                raise ValueError("the body is a JSON object of settings")
            return _json(200, {"config": self.sim.configure(**settings)})
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})

    async def _clock(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict) or set(body) != {"advance"}:
                    raise ValueError('the body is {"advance": SECONDS}')
                self.sim.advance(body["advance"])
            except (ValueError, TypeError) as exc:
                return _json(400, {"error": str(exc)})
        return _json(200, {"offset": self.sim.clock.offset})
