"""Shotstack, Creatomate, Replicate, Runway and Luma endpoints (see the package
docstring), one class for the five. Payloads come from _renderapis.py."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable

from aiohttp import web

from . import _renderapis as R
from ._endpoints import Endpoints, Wrap
from ._faults import _dumps
from ._jobs import SimJob

Refusal = tuple[int, Any]


def _token(obj: dict) -> str:
    return base64.urlsafe_b64encode(_dumps(obj)).decode().rstrip("=")


def _untoken(token: str) -> dict:
    obj = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if not isinstance(obj, dict):
        raise ValueError("not a cursor")
    return obj


def _bearer(request: web.Request) -> str | None:
    m = re.fullmatch(r"\s*Bearer\s+(\S+)\s*", request.headers.get("Authorization", ""))
    return m.group(1) if m else None


class RenderApiEndpoints(Endpoints):
    """The five APIs' status (and list) endpoints; state lives in the Simulator."""

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        router.add_get("/edit/{version}/render/{job_id}", wrap(self._shotstack))
        router.add_get("/v1/renders/{job_id}", wrap(self._creatomate))
        router.add_get("/v2/renders/{job_id}", wrap(self._creatomate))
        router.add_get("/v1/predictions", wrap(self._replicate_list))
        router.add_get("/v1/predictions/{job_id}", wrap(self._replicate))
        router.add_get("/v1/tasks/{job_id}", wrap(self._runway))
        router.add_get("/dream-machine/v1/generations", wrap(self._luma_list))
        router.add_get("/dream-machine/v1/generations/{job_id}", wrap(self._luma))

    # ------------------------------------------------------------------ shared

    def _keyed(self, provider: str, key: str | None, main: bool) -> tuple[str | None, Refusal | None]:
        """(key, None) for an accepted key; a missing key or one starting "bad" is refused."""
        if not main:
            return None, None
        if not key or key.startswith("bad"):
            return None, R.unauthorized(provider)
        return key, None

    async def _one(self, request: web.Request, main: bool, provider: str, key: str | None,
                   payload: Callable[[SimJob, str, float], Any],
                   refusal: Refusal | None = None) -> web.StreamResponse:
        """A status lookup: the refusal, the not-found answer, or the job's payload."""
        fault = self._random_fault(main)
        job_id = request.match_info["job_id"]
        if refusal is None:
            key, refusal = self._keyed(provider, key, main)
        if refusal is not None:
            return await self._answer(request, provider, *refusal, fault=fault)
        job = self._lookup(provider, job_id, key)
        if job is None:
            return await self._answer(request, provider, *R.not_found(provider, job_id),
                                      fault=fault, job_id=job_id)
        return await self._status_answer(request, job, main, fault, payload)

    def _newest_first(self, provider: str, key: str | None, after: tuple[float, str] | None,
                      skip: int, limit: int) -> tuple[list[tuple[SimJob, str, float]], bool]:
        """Up to `limit` visible jobs, newest first, older than `after`, past `skip`;
        and whether more follow."""
        rows: list[tuple[SimJob, str, float]] = []
        mono = self.clock.monotonic()
        with self.lock:
            order, jobs = self.table.order[provider], self.table.jobs[provider]
            for created, job_id in reversed(order):
                if after is not None and (created, job_id) >= after:
                    continue
                job = jobs[job_id]
                if key is not None and not job.visible_to(key):
                    continue
                if skip:
                    skip -= 1
                    continue
                rows.append((job, *job.phase(mono)))
                if len(rows) > limit:
                    break
        return rows[:limit], len(rows) > limit

    # ------------------------------------------------------------------ endpoints

    async def _shotstack(self, request: web.Request, main: bool) -> web.StreamResponse:
        refusal = None
        if request.match_info["version"] not in ("v1", "stage"):
            refusal = R.shotstack_error(404, "Not Found")
        return await self._one(request, main, "shotstack", request.headers.get("x-api-key", "").strip(),
                               R.shotstack_render, refusal)

    async def _creatomate(self, request: web.Request, main: bool) -> web.StreamResponse:
        key, refusal = self._keyed("creatomate", _bearer(request), main)
        if refusal is None and key is not None and not self.limits.within_budget("creatomate", key):
            refusal = (429, R.rate_limited("creatomate", 10))
        return await self._one(request, main, "creatomate", key, R.creatomate_render, refusal)

    async def _replicate(self, request: web.Request, main: bool) -> web.StreamResponse:
        base = str(request.url.origin())
        return await self._one(request, main, "replicate", _bearer(request),
                               lambda job, phase, frac: R.replicate_prediction(job, phase, frac, base))

    async def _runway(self, request: web.Request, main: bool) -> web.StreamResponse:
        refusal = None
        version = request.headers.get("X-Runway-Version")
        if main and version not in R.RUNWAY_VERSIONS:
            refusal = R.runway_error(400, "The X-Runway-Version header is missing or not a supported "
                                          f"version ({', '.join(R.RUNWAY_VERSIONS)})")
        return await self._one(request, main, "runway", _bearer(request), R.runway_task, refusal)

    async def _luma(self, request: web.Request, main: bool) -> web.StreamResponse:
        return await self._one(request, main, "luma", _bearer(request), R.luma_generation)

    async def _replicate_list(self, request: web.Request, main: bool) -> web.StreamResponse:
        """GET /v1/predictions: newest first, a page of `replicate_page_size` (100),
        `next` the URL of the next page (a keyset cursor), `previous` null here."""
        fault = self._random_fault(main)
        key, refusal = self._keyed("replicate", _bearer(request), main)
        if refusal is not None:
            return await self._answer(request, "replicate", *refusal, fault=fault)
        after = None
        cursor = request.query.get("cursor")
        if cursor:
            try:
                state = _untoken(cursor)
                after = (float(state["c"]), str(state["i"]))
            except Exception:
                return await self._answer(request, "replicate",
                                          *R.replicate_error(400, "Bad request", "Invalid cursor"), fault=fault)
        base = str(request.url.origin())
        rows, more = self._newest_first("replicate", key, after, 0, self.settings["replicate_page_size"])
        next_url = None
        if more:
            last = rows[-1][0]
            next_url = f"{base}/v1/predictions?cursor={_token({'c': last.created, 'i': last.id})}"
        body = {"previous": None, "next": next_url,
                "results": [R.replicate_prediction(j, p, f, base) for j, p, f in rows]}
        return await self._answer(request, "replicate", 200, body, fault=fault)

    async def _luma_list(self, request: web.Request, main: bool) -> web.StreamResponse:
        """GET /generations?limit=&offset=: newest first, {generations, has_more, count, limit, offset}."""
        fault = self._random_fault(main)
        key, refusal = self._keyed("luma", _bearer(request), main)
        if refusal is not None:
            return await self._answer(request, "luma", *refusal, fault=fault)
        try:
            limit = int(request.query.get("limit", "10"))
            offset = int(request.query.get("offset", "0"))
            if not 1 <= limit <= 100 or offset < 0:
                raise ValueError
        except ValueError:
            return await self._answer(request, "luma", *R.luma_error(
                422, "limit must be 1 to 100 and offset 0 or more"), fault=fault)
        rows, more = self._newest_first("luma", key, None, offset, limit)
        body = {"generations": [R.luma_generation(j, p, f) for j, p, f in rows],
                "has_more": more, "count": len(rows), "limit": limit, "offset": offset}
        return await self._answer(request, "luma", 200, body, fault=fault)
