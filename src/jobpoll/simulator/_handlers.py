"""The endpoints of the four providers jobpoll first supported (json2video, Pictory,
Muvi, Reelbot), a class each; see the package docstring. Payloads come from
_providers.py."""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import random
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from . import _providers as P
from ._endpoints import Endpoints, Wrap
from ._faults import _dumps
from ._files import presigned_expired
from ._jobs import DONE, FAILED, GENERIC_ID, J2V_ID, SimJob, iso_epoch, iso_ms

MAX_J2V_RANGE = 93 * 86400.0
_FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 1000


def _encode_token(obj: dict) -> str:
    return base64.urlsafe_b64encode(_dumps(obj)).decode().rstrip("=")


def _decode_token(token: str) -> dict:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("not a token")
    return obj


def _parse_date(text: str, *, end: bool) -> float | None:
    """json2video date parameters: a date (whole day) or an ISO-8601 datetime."""
    text = text.strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            if end:
                return (day + timedelta(days=1)).timestamp() - 0.001
            return day.timestamp()
        return iso_epoch(text)
    except ValueError:
        return None


class Json2VideoEndpoints(Endpoints):
    """GET /v2/movies: one project (?project=) or the list (dates, next_token)."""

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        router.add_get("/v2/movies", wrap(self._json2video))

    async def _json2video(self, request: web.Request, main: bool) -> web.StreamResponse:
        fault = self._random_fault(main)
        q = request.query
        key: str | None = None
        if main:
            key = request.headers.get("x-api-key", "").strip()
            if not key:
                return await self._answer(request, "json2video", 401,
                                          P.j2v_error(P.J2V_MISSING_KEY), fault=fault)
            if key.startswith("bad"):
                return await self._answer(request, "json2video",
                                          self.settings["json2video_bad_key_status"],
                                          P.j2v_error(P.J2V_BAD_KEY), fault=fault)
            if key.startswith("quota"):
                return await self._answer(request, "json2video", 401,
                                          P.j2v_error(P.J2V_QUOTA_EXCEEDED), fault=fault)
        project = q.get("project", q.get("id"))
        if project is None:
            return await self._answer(request, "json2video", *self._j2v_list(q, key), fault=fault)
        if not J2V_ID.fullmatch(project):
            return await self._answer(request, "json2video", 400, P.j2v_bad_id(project),
                                      fault=fault, job_id=project)
        job = self._lookup("json2video", project, key)
        if job is None:
            if self.settings["json2video_unknown_project"] == 400:
                return await self._answer(request, "json2video", 400, P.j2v_unknown_400(project),
                                          fault=fault, job_id=project)
            return await self._answer(request, "json2video", 200, P.j2v_unknown(project),
                                      fault=fault, job_id=project)
        return await self._status_answer(request, job, main, fault, P.j2v_single)

    def _j2v_list(self, q: Any, key: str | None) -> tuple[int, Any]:
        token = q.get("next_token") or None
        after: tuple[float, str] | None = None
        if token:
            try:
                state = _decode_token(token)
                start, end = float(state["f"]), float(state["t"])
                after = (float(state["c"]), str(state["i"]))
            except Exception:
                return 400, P.j2v_error("Invalid next_token")
        else:
            now = time.time()
            today = datetime.fromtimestamp(now, timezone.utc).replace(
                hour=0, minute=0, second=0, microsecond=0)
            raw_start = q.get("date_start", q.get("from"))
            raw_end = q.get("date_end", q.get("to"))
            start = (_parse_date(raw_start, end=False) if raw_start is not None
                     else today.replace(day=1).timestamp())
            if start is None:
                return 400, P.j2v_error("Invalid start date")
            end = (_parse_date(raw_end, end=True) if raw_end is not None
                   else (today + timedelta(days=1)).timestamp() - 0.001)
            if end is None:
                return 400, P.j2v_error("Invalid end date")
            if end - start > MAX_J2V_RANGE:
                return 400, P.j2v_error("Maximum date range is 3 months.")
        try:
            limit = min(100, max(1, int(q.get("limit", "100"))))
        except ValueError:
            limit = 100
        page: list[SimJob] = []
        with self.lock:
            order, jobs = self.table.order["json2video"], self.table.jobs["json2video"]
            lo = bisect.bisect_left(order, (round(start, 3), ""))
            hi = bisect.bisect_right(order, (round(end, 3), "\U0010ffff"))
            if after is not None:
                hi = min(hi, bisect.bisect_left(order, after))
            i = hi - 1
            while i >= lo and len(page) <= limit:
                job = jobs[order[i][1]]
                if key is None or job.visible_to(key):
                    page.append(job)
                i -= 1
        has_next = len(page) > limit
        page = page[:limit]
        next_token = None
        if has_next:
            last = page[-1]
            next_token = _encode_token({"f": start, "t": end, "c": last.created, "i": last.id})
        movies = [P.j2v_movie(job, *job.phase()) for job in page]
        return 200, {
            "success": True,
            "from": iso_ms(start),
            "to": iso_ms(end),
            "count": len(movies),
            "limit": limit,
            "has_next": has_next,
            "has_prev": after is not None,
            "next_token": next_token,
            "movies": movies,
            "remaining_quota": dict(P.J2V_LIST_QUOTA),
        }

class PictoryEndpoints(Endpoints):
    """GET /pictoryapis/v1/jobs/{id}, behind Cloudflare's bot protection."""

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        router.add_get("/pictoryapis/v1/jobs/{job_id}", wrap(self._pictory))

    async def _pictory(self, request: web.Request, main: bool) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        key: str | None = None
        if main:
            if self.settings["pictory_bot_protection"] and \
                    P.is_generic_agent(request.headers.get("User-Agent")):
                ray = "%016x-FRA" % random.getrandbits(64)
                return web.Response(text=P.CLOUDFLARE_PAGE % ray, status=403,
                                    content_type="text/html",
                                    headers={"Server": "cloudflare", "CF-RAY": ray})
        fault = self._random_fault(main)
        if main:
            key = request.headers.get("Authorization", "").strip()
            bare = key[7:].strip() if key.lower().startswith("bearer ") else key
            if not bare or bare.startswith("bad"):
                return await self._answer(request, "pictory", 401, dict(P.PICTORY_UNAUTHORIZED),
                                          fault=fault)
        job = self._lookup("pictory", job_id, key)
        if job is None:
            return await self._answer(request, "pictory", 404, P.pictory_not_found(job_id),
                                      fault=fault, job_id=job_id)
        return await self._status_answer(request, job, main, fault, P.pictory_payload)

class MuviEndpoints(Endpoints):
    """GET /v1/jobs/{id} and the job list GET /v1/jobs (cursor, status, modelId)."""

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        router.add_get("/v1/jobs", wrap(self._muvi_list))
        router.add_get("/v1/jobs/{job_id}", wrap(self._muvi))

    def _muvi_auth(self, request: web.Request) -> tuple[str | None, tuple[int, Any] | None]:
        """(key, None) or (None, (status, error body))."""
        header = request.headers.get("Authorization", "")
        m = re.fullmatch(r"\s*[Bb]earer\s+(\S+)\s*", header)
        if not m:
            status, message = P.MUVI_AUTH["UNAUTHORIZED"]
            return None, (status, P.muvi_error("UNAUTHORIZED", message))
        key = m.group(1)
        problem = P.muvi_key_problem(key)
        if problem:
            status, message = P.MUVI_AUTH[problem]
            details = None
            if problem == "IP_NOT_WHITELISTED":
                details = {"ip": request.remote}
            elif problem == "OPERATION_NOT_ALLOWED":
                details = {"requiredScope": "check_status"}
            return None, (status, P.muvi_error(problem, message, details))
        return key, None

    async def _muvi(self, request: web.Request, main: bool) -> web.StreamResponse:
        fault = self._random_fault(main)
        job_id = request.match_info["job_id"]
        key: str | None = None
        if main:
            key, refusal = self._muvi_auth(request)
            if refusal is not None:
                return await self._answer(request, "muvi", *refusal, fault=fault)
        job = self._lookup("muvi", job_id, key)
        if job is None:
            st, body = P.not_found("muvi", job_id)
            return await self._answer(request, "muvi", st, body, fault=fault, job_id=job_id)
        wrapped = job.variant.get("wrapped") or self.settings["muvi_wrapped"]
        return await self._status_answer(request, job, main, fault,
                                         P.muvi_wrapped_job if wrapped else P.muvi_job)

    async def _muvi_list(self, request: web.Request, main: bool) -> web.StreamResponse:
        fault = self._random_fault(main)
        key: str | None = None
        if main:
            key, refusal = self._muvi_auth(request)
            if refusal is not None:
                return await self._answer(request, "muvi", *refusal, fault=fault)
        status, payload = self._muvi_list_page(request.query, key)
        return await self._answer(request, "muvi", status, payload, fault=fault)

    def _muvi_list_page(self, q: Any, key: str | None) -> tuple[int, Any]:
        raw_limit = q.get("limit", "20")
        try:
            limit = int(raw_limit)
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            return 400, P.muvi_error("VALIDATION_ERROR", "limit must be an integer from 1 to 100",
                                     {"field": "limit", "value": raw_limit})
        want_status = q.get("status")
        if want_status is not None and want_status not in P.MUVI_STATUSES:
            return 400, P.muvi_error(
                "VALIDATION_ERROR",
                "status must be one of pending, processing, completed, failed, cancelled",
                {"field": "status", "value": want_status})
        model = q.get("modelId")
        after: tuple[float, str] | None = None
        cursor = q.get("cursor")
        if cursor:
            try:
                state = _decode_token(cursor)
                after = (float(state["ts"]), str(state["jobId"]))
            except Exception:
                return 400, P.muvi_error("VALIDATION_ERROR", "Invalid cursor",
                                         {"field": "cursor"})
        rows: list[tuple[SimJob, str, float]] = []
        mono = self.clock.monotonic()
        with self.lock:
            order, jobs = self.table.order["muvi"], self.table.jobs["muvi"]
            i = (bisect.bisect_left(order, after) if after is not None else len(order)) - 1
            while i >= 0 and len(rows) <= limit:
                job = jobs[order[i][1]]
                i -= 1
                if key is not None and not job.visible_to(key):
                    continue
                if model is not None and job.variant.get("model", P.MUVI_MODEL) != model:
                    continue
                phase, frac = job.phase(mono)
                if want_status is not None and P.MUVI_STATUS[phase] != want_status:
                    continue
                rows.append((job, phase, frac))
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if has_more:
            last = rows[-1][0]
            next_cursor = _encode_token({"createdAt": P.iso_s(last.created),
                                         "ts": last.created, "jobId": last.id})
        body: Any = {"jobs": [P.muvi_list_item(j, ph, fr) for j, ph, fr in rows],
                     "nextCursor": next_cursor, "hasMore": has_more}
        if self.settings["muvi_wrapped"]:
            body = P.muvi_wrap(body)
        return 200, body

class ReelbotEndpoints(Endpoints):
    """Status and download-link endpoints, each with its own rate window per key,
    and the pre-signed links on the main origin when the file origin is off."""

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._signatures = 0  # makes every pre-signed link differ

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        router.add_get("/api/v1/video/status/{job_id}", wrap(self._reelbot_status))
        router.add_get("/api/v1/video/download/{job_id}", wrap(self._reelbot_download))
        router.add_get("/_files/{name}", wrap(self._files))

    def _reelbot_gate(self, request: web.Request, main: bool, bucket: str
                      ) -> tuple[str | None, dict | None, tuple[int, Any] | None]:
        """(key, rate-limit headers, refusal as (status, body) or None) for a Reelbot request."""
        if not main:
            return None, None, None
        key = request.headers.get("X-API-Key", "").strip()
        if not key or key.startswith("bad"):
            return None, None, (401, dict(P.REELBOT_UNAUTHORIZED))
        ok, remaining, reset, retry = self.limits.take(bucket, key)
        headers = {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": iso_ms(reset)}
        if not ok:
            headers["Retry-After"] = str(retry)
            return key, headers, (429, P.reelbot_rate_limited(reset))
        return key, headers, None

    async def _reelbot_status(self, request: web.Request, main: bool) -> web.StreamResponse:
        fault = self._random_fault(main)
        job_id = request.match_info["job_id"]
        key, headers, refusal = self._reelbot_gate(request, main, "status")
        if refusal is not None:
            return await self._answer(request, "reelbot", *refusal, headers, fault=fault)
        if not GENERIC_ID.fullmatch(job_id) or ".." in job_id:
            return await self._answer(request, "reelbot", 400, {
                "success": False, "message": "Invalid project ID", "code": "INVALID_PROJECT_ID"},
                headers, fault=fault)
        job = self._lookup("reelbot", job_id, key)
        if job is None:
            return await self._answer(request, "reelbot", 404, dict(P.REELBOT_NOT_FOUND), headers,
                                      fault=fault, job_id=job_id)
        return await self._status_answer(request, job, main, fault, P.reelbot_payload, headers)

    async def _reelbot_download(self, request: web.Request, main: bool) -> web.StreamResponse:
        fault = self._random_fault(main)
        job_id = request.match_info["job_id"]
        key, headers, refusal = self._reelbot_gate(request, main, "download")
        if refusal is not None:
            return await self._answer(request, "reelbot", *refusal, headers, fault=fault)
        job = self._lookup("reelbot", job_id, key)
        if job is None:
            return await self._answer(request, "reelbot", 404, dict(P.REELBOT_NOT_FOUND), headers,
                                      fault=fault, job_id=job_id)
        if main:
            fault = self.faults.job_fault(job, "download", request) or fault
        phase, _ = job.phase()
        if phase == DONE:
            now = time.time()
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            with self.lock:
                self._signatures += 1
                n = self._signatures
            sig = hashlib.sha256(f"{job.id}|{now}|{n}".encode()).hexdigest()
            query = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256"
                     f"&X-Amz-Credential=ASIASIMULATOR%2F{amz_date[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
                     f"&X-Amz-Date={amz_date}&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
                     f"&X-Amz-Signature={sig}")
            if self.settings["file_origin"] and self.files.base_url:  # S3: another origin
                url = self.files.presigned_url(job.id, query)
            else:
                url = f"{request.scheme}://{request.host}/_files/{job.id}.mp4?{query}"
            body = {"success": True, "downloadUrl": url, "expiresAt": iso_ms(now + 3600)}
            return await self._answer(request, "reelbot", 200, body, headers, fault=fault,
                                      job_id=job_id)
        if phase == FAILED:
            body = {"success": False, "code": "OUTPUT_NOT_FOUND",
                    "message": "No output found for this project"}
            return await self._answer(request, "reelbot", 404, body, headers, fault=fault,
                                      job_id=job_id)
        body = {"success": False, "code": "VIDEO_NOT_READY",
                "message": f"Video is not ready yet (status: {P.REELBOT_STATUS[phase]})"}
        return await self._answer(request, "reelbot", 400, body, headers, fault=fault,
                                  job_id=job_id)

    async def _files(self, request: web.Request, main: bool) -> web.StreamResponse:
        """The 'pre-signed' download URLs Reelbot hands out (S3-like answers)."""
        name = request.match_info["name"]
        job_id = name[:-4] if name.endswith(".mp4") else name
        q = request.query
        if job_id not in self.table.jobs["reelbot"]:
            return web.Response(status=404, content_type="application/xml", text=(
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                "<Message>The specified key does not exist.</Message></Error>"))
        if presigned_expired(q):
            return web.Response(status=403, content_type="application/xml", text=(
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                "<Message>Request has expired</Message></Error>"))
        return web.Response(body=_FAKE_MP4, content_type="video/mp4")
