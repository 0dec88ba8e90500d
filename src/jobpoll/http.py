"""The one place that talks HTTP.

Both clients send one GET described by a provider's `Request` and hand back an
`Answer`; they never interpret it (providers do) and never retry (lookup.py and
poller.py own the policy). What they guarantee for everyone:
- timeouts on connect and read, a cap on the body size, `User-Agent: jobpoll/VERSION`;
- the key goes only to the configured origin: redirects are followed by hand, a
  same-origin one (or an http->https upgrade of the same host) with the key, one to
  any other origin not at all (httpx would strip only `Authorization`, not
  `x-api-key`/`X-API-Key`);
- `-v` logs requests and answers on stderr with every key redacted.

The synchronous client (httpx's own transport) serves `status` and `list`, where
import time matters more than throughput; the asynchronous one serves `watch`
over the aiohttp transport, which does about four times the requests per CPU
second of httpx's native pool (shared/FINDINGS.md).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

import httpx

from jobpoll import __version__
from jobpoll.errors import UnavailableError
from jobpoll.providers.base import Answer, Request

if TYPE_CHECKING:
    from jobpoll.config import Endpoint

USER_AGENT = f"jobpoll/{__version__}"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a status answer is a few KB; anything near this is broken
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=60.0)
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_LOGGED_BODY_CHARS = 2000


def build_url(base_url: str, request: Request) -> str:
    return base_url.rstrip("/") + request.path


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def may_carry_key(target_url: str, configured_base: str) -> bool:
    """Whether a redirect target is the configured origin (or its https upgrade)."""
    target, home = _origin(target_url), _origin(configured_base)
    if target == home:
        return True
    return home[0] == "http" and target[0] == "https" and target[1] == home[1]


class _Logger:
    """`-v` output: requests and answers on stderr, keys redacted."""

    def __init__(self, enabled: bool, stream: TextIO | None = None):
        self.enabled = enabled
        self.stream = stream

    def _redact(self, text: str, secret: str | None) -> str:
        if secret:
            text = text.replace(secret, "***")
        return text

    def request(self, method: str, url: str, headers: dict[str, str], endpoint: "Endpoint") -> None:
        if not self.enabled:
            return
        out = self.stream or sys.stderr
        print(f"> {method} {self._redact(url, endpoint.key)}", file=out)
        for name, value in headers.items():
            if name.lower() == endpoint.provider.auth_header.lower():
                value = "***"
            print(f"> {name}: {self._redact(value, endpoint.key)}", file=out)

    def answer(self, answer: Answer, elapsed: float, endpoint: "Endpoint") -> None:
        if not self.enabled:
            return
        out = self.stream or sys.stderr
        print(f"< {answer.status_code} ({len(answer.body)} bytes, {elapsed * 1000:.0f} ms)", file=out)
        for name in ("content-type", "retry-after", "x-ratelimit-remaining", "x-ratelimit-reset", "location"):
            if name in answer.headers:
                print(f"< {name}: {self._redact(answer.headers[name], endpoint.key)}", file=out)
        text = answer.body[:_LOGGED_BODY_CHARS].decode("utf-8", "replace")
        if text:
            print("< " + self._redact(text, endpoint.key).replace("\n", "\n< "), file=out)

    def note(self, message: str) -> None:
        if self.enabled:
            print(f"* {message}", file=self.stream or sys.stderr)


def _headers_for(endpoint: "Endpoint", with_key: bool) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if with_key and endpoint.key:
        headers.update(endpoint.provider.auth_headers(endpoint.key))
    return headers


def _next_hop(response: httpx.Response, url: str, endpoint: "Endpoint") -> str:
    """The URL to follow a redirect to, or UnavailableError when it leaves the origin."""
    location = response.headers.get("location")
    if not location:
        raise UnavailableError(f"{endpoint.provider.name} sent a redirect without a Location")
    target = str(httpx.URL(url).join(location))
    if not may_carry_key(target, endpoint.base_url):
        origin = "{0}://{1}".format(*_origin(target)[:2])
        raise UnavailableError(
            f"{endpoint.provider.name} redirected to another origin ({origin}); "
            "jobpoll does not follow it, so your key stays with the provider",
            hint=f"check the base URL ({endpoint.provider.env_prefix}BASE_URL or the config)",
        )
    return target


def _network_error(exc: Exception, endpoint: "Endpoint") -> UnavailableError:
    name = endpoint.provider.name
    if isinstance(exc, httpx.TimeoutException):
        return UnavailableError(f"{name} did not answer in time ({type(exc).__name__})")
    return UnavailableError(f"cannot reach {name} at {endpoint.base_url}: {exc or type(exc).__name__}")


def _too_big(endpoint: "Endpoint") -> UnavailableError:
    return UnavailableError(
        f"{endpoint.provider.name} sent an answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"
    )


class SyncHttp:
    """Blocking client for `status` and `list`; safe to share between threads."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None):
        self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self._log = _Logger(verbose, log)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "SyncHttp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        url, params = build_url(endpoint.base_url, request), request.params
        for _ in range(MAX_REDIRECTS + 1):
            headers = _headers_for(endpoint, with_key=True)
            self._log.request("GET", str(httpx.URL(url, params=params)), headers, endpoint)
            started = time.monotonic()
            try:
                with self._client.stream("GET", url, params=params, headers=headers) as response:
                    if response.status_code in _REDIRECT_CODES:
                        url, params = _next_hop(response, url, endpoint), None
                        self._log.note(f"redirected to {url}")
                        continue
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY_BYTES:
                            raise _too_big(endpoint)
            except httpx.HTTPError as exc:
                raise _network_error(exc, endpoint) from None
            answer = _answer(response, bytes(body))
            self._log.answer(answer, time.monotonic() - started, endpoint)
            return answer
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")


class AsyncHttp:
    """The watch engine's client: one shared httpx.AsyncClient over aiohttp."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None, max_connections: int = 100):
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        # Errors the transport does not translate into httpx's own.
        self._stray_errors = (OSError, asyncio.TimeoutError, aiohttp.ClientError)

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, transport=AiohttpTransport(limits=limits)
        )
        self._log = _Logger(verbose, log)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        url, params = build_url(endpoint.base_url, request), request.params
        for _ in range(MAX_REDIRECTS + 1):
            headers = _headers_for(endpoint, with_key=True)
            self._log.request("GET", str(httpx.URL(url, params=params)), headers, endpoint)
            started = time.monotonic()
            try:
                async with self._client.stream("GET", url, params=params, headers=headers) as response:
                    if response.status_code in _REDIRECT_CODES:
                        url, params = _next_hop(response, url, endpoint), None
                        self._log.note(f"redirected to {url}")
                        continue
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY_BYTES:
                            raise _too_big(endpoint)
            except httpx.HTTPError as exc:
                raise _network_error(exc, endpoint) from None
            except self._stray_errors as exc:
                raise _network_error(exc, endpoint) from None
            answer = _answer(response, bytes(body))
            self._log.answer(answer, time.monotonic() - started, endpoint)
            return answer
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")


def _answer(response: httpx.Response, body: bytes) -> Answer:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Answer(response.status_code, headers, body, str(response.url))

