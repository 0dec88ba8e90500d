"""The file origin: where the simulated jobs' outputs can actually be fetched.

Real providers hand out output URLs on another host (a CDN, an S3 bucket), which
must never receive the provider's key. The simulator stands that host in with a
third listener on its own port (``Simulator.files_url``): while the setting
``file_origin`` is on (the default), every ``https://`` URL in a provider answer
is rewritten to ``<files_url>/<host><path>`` (Reelbot's pre-signed links become
``<files_url>/_files/<id>.mp4?X-Amz-...``), and this origin serves those paths:

- the bytes are a pure function of the path (so a test can check a download
  against ``Simulator.file_bytes(url)``), their length is the provider's own
  ``size`` where the answer gives one next to the URL (json2video), unless the
  job's ``file_size`` variant sizes its main output (the first URL of the job,
  its video) otherwise; else a stable size from the path (20-400 KB);
- ``Range: bytes=N-`` / ``bytes=N-M`` answers 206 with ``Content-Range``; past
  the end 416; ``Accept-Ranges``, ``ETag`` and ``Content-Type`` as a CDN sends;
- the request log records every request with its headers (origin "files"), so
  tests can prove no credential arrives here;
- faults per job, the ``file_faults`` variant (same spec form as ``faults``:
  ``kind``, ``times`` (-1 forever), ``after`` (requests to this job's files to let
  through first)):

    "drop"          the connection dropped after param ``at`` bytes of the body
                    (an int, or a fraction below 1 of the body; default 0.5)
    "wrong_length"  the file served is param ``delta`` bytes longer or shorter
                    (default -1000) than it should be, consistently announced:
                    the server disagrees with the provider's own size
    "slow"          the body trickles at param ``rate`` bytes a second (65536)
    "no_range"      Range ignored: 200 with the whole file
    "status"        an error answer, param ``code`` (503; 403 is S3's AccessDenied)
    "reset"         the connection dropped before any answer

The setting ``file_rate`` (bytes a second, 0 = unlimited) slows every file.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

BLOCK = 64 * 1024
FILE_FAULT_KINDS = frozenset({"drop", "wrong_length", "slow", "no_range", "status", "reset"})
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")

_S3_EXPIRED = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
               "<Message>Request has expired</Message></Error>")
_S3_NO_KEY = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
              "<Message>The specified key does not exist.</Message></Error>")


def presigned_expired(query: Any) -> bool:
    """Whether an S3-style pre-signed query (X-Amz-Date + X-Amz-Expires) is past its life."""
    try:
        signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc).timestamp()
        query["X-Amz-Signature"]
        return time.time() > signed + int(query["X-Amz-Expires"])
    except (KeyError, ValueError):
        return True


def normalize_file_faults(faults: Any) -> list[dict]:
    out = []
    for spec in faults or ():
        if isinstance(spec, str):
            spec = {"kind": spec}
        if not isinstance(spec, dict) or spec.get("kind") not in FILE_FAULT_KINDS:
            raise ValueError(f"a file fault is a dict with a 'kind' among "
                             f"{', '.join(sorted(FILE_FAULT_KINDS))}: {spec!r}")
        f = dict(spec)
        f["times"] = int(f.get("times", 1))
        f["left"] = f["times"]
        f["after"] = int(f.get("after", 0))
        out.append(f)
    return out


def file_block(path: str, index: int) -> bytes:
    """Block `index` of the file at `path`: pseudo-random, so a byte saved at the
    wrong offset changes the checksum."""
    seed = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
    return random.Random(seed * 1_000_003 + index).randbytes(BLOCK)


def file_content(path: str, start: int, end: int):
    """The bytes [start, end) of the file at `path`, block by block."""
    while start < end:
        index, offset = divmod(start, BLOCK)
        piece = file_block(path, index)[offset:offset + (end - start)]
        yield piece
        start += len(piece)


def default_size(path: str) -> int:
    return 20_000 + int(hashlib.sha1(path.encode()).hexdigest()[:8], 16) % 380_000


@dataclass
class Published:
    provider: str
    job_id: str | None
    size: int | None = None  # the provider's own figure, where its answer gives one
    main: bool = False  # the job's first URL (its video): the one `file_size` sizes


@dataclass
class FileOrigin:
    """The files listener's state: which paths exist, and serving them."""

    sim: Any  # the Simulator: its job table, settings and lock
    base_url: str = ""
    paths: dict[str, Published] = field(default_factory=dict)
    mains: set[tuple[str, str]] = field(default_factory=set)
    requests_per_job: dict[tuple[str, str], int] = field(default_factory=dict)

    # ------------------------------------------------------------ publishing

    def publish(self, provider: str, job_id: str | None, payload: Any) -> Any:
        """The payload with every https URL moved onto this origin (and remembered)."""
        if not self.base_url or not self.sim._settings.get("file_origin", True):
            return payload
        return self._rewrite(provider, job_id, payload)

    def _rewrite(self, provider: str, job_id: str | None, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("https://"):
            parts = urlsplit(value)
            path = f"/{parts.hostname}{parts.path}"
            self._register(path, provider, job_id)
            return self.base_url + path + (f"?{parts.query}" if parts.query else "")
        if isinstance(value, list):
            return [self._rewrite(provider, job_id, v) for v in value]
        if isinstance(value, dict):
            # A job object (json2video's movie) names its own ID and its file's size.
            own_id = value.get("project") if isinstance(value.get("project"), str) else job_id
            out = {k: self._rewrite(provider, own_id, v) for k, v in value.items()}
            size = value.get("size")
            if isinstance(out.get("url"), str) and isinstance(size, int) and size >= 0:
                entry = self.paths.get(urlsplit(out["url"]).path)
                if entry is not None:
                    entry.size = size
            return out
        return value

    def _register(self, path: str, provider: str, job_id: str | None) -> None:
        if path in self.paths:
            return
        main = job_id is not None and (provider, job_id) not in self.mains
        if main:
            self.mains.add((provider, job_id))  # type: ignore[arg-type]
        self.paths[path] = Published(provider, job_id, main=main)

    def presigned_url(self, job_id: str, query: str) -> str:
        path = f"/_files/{job_id}.mp4"
        self._register(path, "reelbot", job_id)
        return f"{self.base_url}{path}?{query}"

    def file_bytes(self, url: str) -> bytes:
        """The whole file a URL of this origin serves (for tests)."""
        path = urlsplit(url).path
        return b"".join(file_content(path, 0, self._size(path, self.paths[path])))

    # ------------------------------------------------------------ serving

    def _size(self, path: str, entry: Published) -> int:
        job = self._job(entry)
        variant = job.variant if job is not None else {}
        if "file_size" in variant and entry.main:
            return int(variant["file_size"])
        if entry.size is not None:
            return entry.size
        return default_size(path)

    def _job(self, entry: Published) -> Any:
        if entry.job_id is None:
            return None
        return self.sim._table.get(entry.provider, entry.job_id)

    def _fault(self, entry: Published) -> dict | None:
        job = self._job(entry)
        if job is None:
            return None
        with self.sim._lock:
            faults = job.variant.get("file_faults") or []
            key = (entry.provider, entry.job_id)
            n = self.requests_per_job.get(key, 0)
            self.requests_per_job[key] = n + 1
            for f in faults:
                if f["left"] != 0 and n >= f["after"]:
                    if f["left"] > 0:
                        f["left"] -= 1
                    return f
        return None

    async def serve(self, request: web.Request, main: bool = False) -> web.StreamResponse:
        path = request.path
        entry = self.paths.get(path)
        if entry is None:
            return web.Response(status=404, content_type="application/xml", text=_S3_NO_KEY)
        if path.startswith("/_files/") and presigned_expired(request.query):
            return web.Response(status=403, content_type="application/xml", text=_S3_EXPIRED)
        fault = self._fault(entry) or {}
        kind = fault.get("kind")
        if kind == "reset":
            from ._faults import _abort

            _abort(request)
            raise asyncio.CancelledError()
        if kind == "status":
            code = int(fault.get("code", 503))
            text = _S3_EXPIRED if code == 403 else f"{code} error"
            return web.Response(status=code, text=text)
        size = self._size(path, entry)
        if kind == "wrong_length":
            size = max(0, size + int(fault.get("delta", -1000)))
        start, end, status = 0, size, 200
        wanted = _RANGE.match(request.headers.get("Range", "").strip())
        if wanted and kind != "no_range":
            start = int(wanted.group(1))
            end = min(size, int(wanted.group(2)) + 1) if wanted.group(2) else size
            if start >= size or start >= end:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        return await self._send(request, path, size, start, end, status, fault)

    async def _send(self, request: web.Request, path: str, size: int, start: int, end: int,
                    status: int, fault: dict) -> web.StreamResponse:
        # A path without an extension is a page (Pictory's share and embed links).
        ctype = mimetypes.guess_type(path)[0] or (
            "text/html; charset=utf-8" if "." not in path.rsplit("/", 1)[-1] else "application/octet-stream")
        resp = web.StreamResponse(status=status, headers={
            "Accept-Ranges": "bytes",
            "ETag": '"%s"' % hashlib.md5(f"{path}:{size}".encode()).hexdigest(),
            "Content-Type": ctype,
        })
        if status == 206:
            resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        resp.content_length = end - start
        await resp.prepare(request)
        if request.method == "HEAD":
            return resp
        drop_at = None
        if fault.get("kind") == "drop":
            at = float(fault.get("at", 0.5))
            drop_at = int((end - start) * at) if at < 1 else int(at)
        rate = float(fault.get("rate", 65536)) if fault.get("kind") == "slow" else 0.0
        rate = rate or float(self.sim._settings.get("file_rate") or 0)
        sent = 0
        try:
            for piece in file_content(path, start, end):
                if drop_at is not None and sent + len(piece) >= drop_at:
                    await resp.write(piece[:max(0, drop_at - sent)])
                    await asyncio.sleep(0.02)
                    from ._faults import _abort

                    _abort(request, rst=False)
                    raise asyncio.CancelledError()
                await resp.write(piece)
                sent += len(piece)
                if rate:
                    await asyncio.sleep(len(piece) / rate)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return resp
