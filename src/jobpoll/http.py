"""The one place that talks HTTP.

Both clients send one GET described by a provider's `Request` and hand back an
`Answer`; they never interpret it (providers do) and never retry (the engine,
engine/lookup.py, owns the policy). What they guarantee for everyone:
- timeouts on connect and read, a cap on the body size, `User-Agent: jobpoll/VERSION`;
- the key goes only to the configured origin: redirects are followed by hand, a
  same-origin one (or an http->https upgrade of the same host) with the key, one to
  any other origin not at all (httpx would strip only `Authorization`, not
  `x-api-key`/`X-API-Key`);
- `-v` logs requests and answers on stderr with every key redacted;
- an answer that echoes the key back (in an error, a message, any field) has it
  replaced by `***` before anyone reads it, so no output, error line, history
  row or `--raw` payload can carry it.

The synchronous client (a small HTTP/1.1 connection on the standard library's
socket, wire.py) serves `status` and `list`, where start-up time matters more
than throughput; the asynchronous one serves `watch`: httpx over the aiohttp
transport, which does about four times the requests per CPU second of httpx's
native pool (shared/FINDINGS.md).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlencode, urljoin, urlsplit

from jobpoll import __version__
from jobpoll.errors import UnavailableError
from jobpoll.providers.base import Answer, Request

if TYPE_CHECKING:
    from jobpoll.config import Endpoint

USER_AGENT = f"jobpoll/{__version__}"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a status answer is a few KB; anything near this is broken
MAX_REDIRECTS = 5
TIMEOUT_CONNECT = 10.0  # seconds
TIMEOUT_READ = 30.0
TIMEOUT_TOTAL = 60.0  # a whole request, however slowly its bytes arrive
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


def _spellings(key: str) -> list[str]:
    """The key as it may appear in an answer: verbatim, JSON-escaped, and with "/"
    escaped as PHP's json_encode writes it."""
    import json

    forms = {key, json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1],
             key.replace("/", "\\/")}
    return sorted(forms, key=len, reverse=True)


# Shorter "keys" (a placeholder such as "test") would also match inside IDs and
# URLs; real keys are far longer, and the -v log still hides the header itself.
MIN_SCRUBBED_KEY = 8


def redact(text: str, key: str | None, *, min_length: int = MIN_SCRUBBED_KEY) -> str:
    """`text` with every spelling of the key replaced by ***."""
    if key and len(key) >= min_length:
        for form in _spellings(key):
            text = text.replace(form, "***")
    return text


def without_key(answer: Answer, key: str | None) -> Answer:
    """The answer with every echo of the key replaced by ***: a provider that quotes
    the key back (e.g. "Invalid API key sk-...") must not make jobpoll print it,
    record it in the history or show it in --raw."""
    if not key or len(key) < MIN_SCRUBBED_KEY:
        return answer
    body = answer.body
    for form in _spellings(key):
        needle = form.encode("utf-8")
        if needle in body:
            body = body.replace(needle, b"***")
    headers = answer.headers
    if any(key in value for value in headers.values()):
        headers = {name: redact(value, key) for name, value in headers.items()}
    if body is answer.body and headers is answer.headers and key not in answer.url:
        return answer
    return Answer(answer.status_code, headers, body, redact(answer.url, key))


class _Logger:
    """`-v` output: requests and answers on stderr, keys redacted."""

    def __init__(self, enabled: bool, stream: TextIO | None = None):
        self.enabled = enabled
        self.stream = stream

    def _redact(self, text: str, secret: str | None) -> str:
        # Any key, however short: a mangled ID in a debug log is better than a key.
        return redact(text, secret, min_length=1)

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


def _headers_for(endpoint: "Endpoint") -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if endpoint.key:
        headers.update(endpoint.provider.auth_headers(endpoint.key))
    return headers


def _next_hop(location: str | None, url: str, endpoint: "Endpoint") -> str:
    """The URL to follow a redirect to, or UnavailableError when it leaves the origin."""
    if not location:
        raise UnavailableError(f"{endpoint.provider.name} sent a redirect without a Location")
    target = urljoin(url, location)
    if not may_carry_key(target, endpoint.base_url):
        origin = "{0}://{1}".format(*_origin(target)[:2])
        raise UnavailableError(
            f"{endpoint.provider.name} redirected to another origin ({origin}); "
            "jobpoll does not follow it, so your key stays with the provider",
            hint=f"check the base URL ({endpoint.provider.env_prefix}BASE_URL or the config)",
        )
    return target


def _network_error(exc: BaseException, endpoint: "Endpoint") -> UnavailableError:
    name = endpoint.provider.name
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return UnavailableError(f"{name} did not answer in time ({type(exc).__name__})")
    # Some transports quote the request in their errors ("Invalid header value %r").
    reason = redact(str(exc), endpoint.key) or type(exc).__name__
    return UnavailableError(f"cannot reach {name} at {endpoint.base_url}: {reason}")


def _too_big(endpoint: "Endpoint") -> UnavailableError:
    return UnavailableError(
        f"{endpoint.provider.name} sent an answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"
    )


def _with_query(url: str, params: dict[str, str] | None) -> str:
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


class SyncHttp:
    """Blocking client for `status` and `list` (see wire.py for why not httpx or
    http.client: start-up). The guarantees (timeouts, size cap, same-origin key,
    -v) are AsyncHttp's. One connection per thread and origin, so paging a list
    reuses it."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None):
        import threading

        self._log = _Logger(verbose, log)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        self._tls_context: Any = None

    def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()

    def __enter__(self) -> "SyncHttp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        from jobpoll.wire import BodyTooLarge

        url = _with_query(build_url(endpoint.base_url, request), request.params)
        headers = _headers_for(endpoint)  # every hop stays on the key's origin (_next_hop)
        for _ in range(MAX_REDIRECTS + 1):
            self._log.request("GET", url, headers, endpoint)
            started = time.monotonic()
            try:
                status, response_headers, body = self._send(url, headers)
            except BodyTooLarge:
                raise _too_big(endpoint) from None
            except (OSError, ValueError) as exc:  # ValueError: e.g. an unencodable host name
                raise _network_error(exc, endpoint) from None
            if status in _REDIRECT_CODES:
                url = _next_hop(response_headers.get("location"), url, endpoint)
                self._log.note(f"redirected to {url}")
                continue
            answer = without_key(Answer(status, response_headers, body, url), endpoint.key)
            self._log.answer(answer, time.monotonic() - started, endpoint)
            return answer
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")

    def _send(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {parts.scheme!r} (use http or https)")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        while True:
            conn = self._connection(parts)
            reused = conn.is_open
            try:
                return conn.get(target, headers, MAX_BODY_BYTES)
            except Exception as exc:
                conn.close()
                # A kept-alive connection the server closed meanwhile: once more, anew.
                if not reused or isinstance(exc, TimeoutError) or not isinstance(exc, OSError):
                    raise

    def _connection(self, parts: Any) -> Any:
        from jobpoll.wire import Connection

        pool = self._local.__dict__.setdefault("pool", {})
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname, port)
        if key not in pool:
            pool[key] = Connection(
                parts.scheme, parts.hostname or "", port,
                connect_timeout=TIMEOUT_CONNECT, read_timeout=TIMEOUT_READ, total_timeout=TIMEOUT_TOTAL,
                tls=self._tls, proxy=_proxy_for(parts),
            )
            with self._lock:
                self._all.append(pool[key])
        return pool[key]

    def _tls(self) -> Any:
        # Loading CA certificates costs ~20-35 ms: only an https URL pays for it.
        with self._lock:
            if self._tls_context is None:
                import ssl

                try:
                    import certifi  # the bundle httpx trusts, so both clients agree

                    self._tls_context = ssl.create_default_context(cafile=certifi.where())
                except ImportError:
                    self._tls_context = ssl.create_default_context()
            return self._tls_context


def _proxy_for(parts: Any) -> tuple[str, int] | None:
    """The proxy the environment names for this URL (HTTP(S)_PROXY, NO_PROXY), if
    any; urllib.request is imported only when a proxy variable is set at all."""
    import os

    if not any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ):
        return None
    from urllib.request import getproxies_environment, proxy_bypass_environment

    proxies = getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    proxy_parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    return proxy_parts.hostname or "", proxy_parts.port or 8080


class AsyncHttp:
    """The watch engine's client: one shared httpx.AsyncClient over aiohttp."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None, max_connections: int = 100):
        import asyncio

        import aiohttp
        import httpx
        from httpx_aiohttp import AiohttpTransport

        self._httpx = httpx
        self._asyncio = asyncio

        # Errors the transport does not translate into httpx's own (ValueError: e.g.
        # a header value it refuses, as in SyncHttp).
        self._stray_errors = (OSError, asyncio.TimeoutError, aiohttp.ClientError, ValueError)

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        timeout = httpx.Timeout(connect=TIMEOUT_CONNECT, read=TIMEOUT_READ, write=10.0, pool=60.0)
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=AiohttpTransport(limits=limits)
        )
        self._log = _Logger(verbose, log)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        url = _with_query(build_url(endpoint.base_url, request), request.params)
        headers = _headers_for(endpoint)  # every hop stays on the key's origin (_next_hop)
        for _ in range(MAX_REDIRECTS + 1):
            self._log.request("GET", url, headers, endpoint)
            started = time.monotonic()
            try:
                async with self._asyncio.timeout(TIMEOUT_TOTAL):  # a drip-fed answer ends too
                    async with self._client.stream("GET", url, headers=headers) as response:
                        if response.status_code in _REDIRECT_CODES:
                            url = _next_hop(response.headers.get("location"), url, endpoint)
                            self._log.note(f"redirected to {url}")
                            continue
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > MAX_BODY_BYTES:
                                raise _too_big(endpoint)
            except (self._httpx.HTTPError, *self._stray_errors) as exc:
                raise _network_error(exc, endpoint) from None
            answer = without_key(_answer(response, bytes(body)), endpoint.key)
            self._log.answer(answer, time.monotonic() - started, endpoint)
            return answer
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")


def _answer(response: Any, body: bytes) -> Answer:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Answer(response.status_code, headers, body, str(response.url))

