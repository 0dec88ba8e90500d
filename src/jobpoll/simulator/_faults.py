"""Faults: what a fault spec makes of a provider's normal answer (see the package docstring)."""

from __future__ import annotations

import asyncio
import collections
import json
import math
import socket
import struct
import time
from typing import Any

from aiohttp import web

from . import _providers as P
from ._jobs import http_date, iso_epoch, iso_ms

JSON = "application/json"
REDIRECT_MARKER = "_sim_redirected"

_SERVER_ERROR_TITLES = {500: "500 Internal Server Error", 502: "502 Bad Gateway",
                        503: "503 Service Temporarily Unavailable"}

_HTML_LOGIN = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><div id="root"><h1>Welcome back</h1><p>Please sign in to continue.</p>
<form method="post" action="/login"><input name="email"><input name="password" type="password">
<button>Sign in</button></form></div></body></html>
"""


def _html_error(code: int) -> str:
    title = _SERVER_ERROR_TITLES.get(code, f"{code} Error")
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _parse_when(value: Any, now: float) -> float:
    """A fault's reset_at: seconds from now (number) or an ISO-8601 string."""
    if isinstance(value, (int, float)):
        return now + float(value)
    return iso_epoch(str(value))


def _status_dict(obj: Any) -> dict | None:
    """The dict carrying the provider's status word (breadth first)."""
    queue = collections.deque([obj])
    while queue:
        item = queue.popleft()
        if isinstance(item, dict):
            if "status" in item:
                return item
            queue.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            queue.extend(item)
    return None


def _numbers_as_strings(obj: Any) -> Any:
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (int, float)):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _numbers_as_strings(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_numbers_as_strings(v) for v in obj]
    return obj


_REQUIRED = frozenset({"status", "project", "job_id", "jobId"})


def _drop_required(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_required(v) for k, v in obj.items() if k not in _REQUIRED}
    if isinstance(obj, list):
        return [_drop_required(v) for v in obj]
    return obj


def _abort(request: web.Request, *, rst: bool = True) -> None:
    """Drop the connection: an RST where the OS allows (else a plain close)."""
    transport = request.transport
    if transport is None:
        return
    if not rst:
        transport.close()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class FaultAnswers:
    """Base of the endpoint classes (_endpoints.py): answering, with or without a fault."""

    foreign_url: str

    @staticmethod
    def _json(status: int, payload: Any, headers: dict | None = None) -> web.Response:
        return web.Response(body=_dumps(payload), status=status, content_type=JSON,
                            headers=headers)

    async def _answer(self, request: web.Request, provider: str, status: int, payload: Any,
                      headers: dict | None = None, fault: dict | None = None,
                      job_id: str = "") -> web.StreamResponse:
        """The normal answer, or what the fault makes of it."""
        payload = self.files.publish(provider, job_id or None, payload)  # type: ignore[attr-defined]
        if fault is None:
            return self._json(status, payload, headers)
        kind = fault["kind"]
        if kind == "slow":
            await asyncio.sleep(float(fault.get("delay", 5.0)))
            return self._json(status, payload, headers)
        if kind == "reset":
            _abort(request)
            raise asyncio.CancelledError()
        if kind in ("500", "502", "503"):
            code = int(kind)
            extra = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
            return web.Response(text=_html_error(code), status=code, content_type="text/html",
                                headers=extra)
        if kind == "429":
            return self._rate_limited_fault(provider, fault, headers)
        if kind == "401":
            st, body = P.unauthorized(provider)
            return self._json(st, body)
        if kind == "404":
            st, body = P.not_found(provider, job_id)
            return self._json(st, body, headers)
        if kind == "redirect":
            code = int(fault.get("status", 302))
            return web.Response(status=code, headers={"Location": self.foreign_url + request.path_qs})
        if kind == "redirect_same":
            target = request.url.update_query({REDIRECT_MARKER: "1"})
            return web.Response(status=int(fault.get("status", 302)),
                                headers={"Location": str(target)})
        if kind == "unknown_status":
            payload = json.loads(_dumps(payload))
            holder = _status_dict(payload)
            if holder is not None:
                holder["status"] = fault.get("status", "rendering-v2")
            return self._json(status, payload, headers)
        if kind == "wrong_shape":
            shape = fault.get("shape", "array")
            if shape == "html":
                return web.Response(text=_HTML_LOGIN, status=200, content_type="text/html",
                                    headers=headers)
            shaped = {"array": lambda p: [p], "null": lambda p: None, "number": lambda p: 42,
                      "strings": _numbers_as_strings, "missing": _drop_required}[shape](payload)
            return self._json(status, shaped, headers)
        body = _dumps(payload)
        if kind == "invalid_json":
            if "body" in fault:
                broken = str(fault["body"]).encode()
            elif body.endswith(b"}"):
                broken = body[:-1] + b",}"
            else:
                broken = b"{" + body
            return web.Response(body=broken, status=status, content_type=JSON, headers=headers)
        if kind == "truncated":
            half = body[: len(body) // 2]
            if not fault.get("close"):
                return web.Response(body=half, status=status, content_type=JSON, headers=headers)
            resp = web.StreamResponse(status=status, headers=headers)
            resp.content_type = JSON
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(half)
            await asyncio.sleep(0.05)
            _abort(request, rst=False)
            raise asyncio.CancelledError()
        if kind == "drip":
            chunk = max(1, int(fault.get("chunk", 16)))
            pause = float(fault.get("pause", 0.05))
            resp = web.StreamResponse(status=status, headers=headers)
            resp.content_type = JSON
            resp.content_length = len(body)
            await resp.prepare(request)
            try:
                for i in range(0, len(body), chunk):
                    await resp.write(body[i:i + chunk])
                    await asyncio.sleep(pause)
                await resp.write_eof()
            except (ConnectionError, RuntimeError):
                pass
            return resp
        if kind == "huge":
            return await self._huge(request, status, payload, headers, fault)
        raise AssertionError(f"unhandled fault kind {kind!r}")

    def _rate_limited_fault(self, provider: str, fault: dict,
                            headers: dict | None) -> web.Response:
        now = time.time()
        seconds = fault.get("seconds")
        reset_value = fault.get("reset_at", fault.get("resetAt"))
        if reset_value is not None:
            reset = _parse_when(reset_value, now)
            if seconds is None:
                seconds = max(0.0, reset - now)
        else:
            seconds = 2 if seconds is None else seconds
            reset = now + float(seconds)
        retry = max(0, math.ceil(float(seconds)))
        hdrs: dict[str, str] = {}
        if fault.get("retry_after", True):
            hdrs["Retry-After"] = http_date(now + retry) if fault.get("http_date") else str(retry)
        if provider == "reelbot":
            hdrs["X-RateLimit-Remaining"] = "0"
            hdrs["X-RateLimit-Reset"] = iso_ms(reset)
        body = P.rate_limited(provider, reset, retry)
        if isinstance(reset_value, str) and provider == "reelbot":
            body["details"]["resetAt"] = reset_value
            hdrs["X-RateLimit-Reset"] = reset_value
        return self._json(429, body, hdrs)

    async def _huge(self, request: web.Request, status: int, payload: Any,
                    headers: dict | None, fault: dict) -> web.StreamResponse:
        size = int(fault.get("size", 20 * 1024 * 1024))
        body = _dumps(payload if isinstance(payload, dict) else {"data": payload})
        prefix = body[:-1] + (b',"padding":"' if len(body) > 2 else b'"padding":"')
        suffix = b'"}'
        fill = max(0, size - len(prefix) - len(suffix))
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_type = JSON
        if fault.get("content_length"):
            resp.content_length = len(prefix) + fill + len(suffix)
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        block = b"x" * 65536
        try:
            await resp.write(prefix)
            while fill > 0:
                n = min(fill, len(block))
                await resp.write(block[:n])
                fill -= n
            await resp.write(suffix)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return resp
