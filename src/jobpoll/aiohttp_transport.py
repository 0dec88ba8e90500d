"""httpx's transport interface over aiohttp's connection pool: what a watch of many
jobs sends through (http.py picks it from AIOHTTP_FROM_JOBS jobs on).

aiohttp does the HTTP: framing, TLS with jobpoll's SSL context, connection reuse,
http(s) proxies (CONNECT, credentials), socks ones through aiohttp-socks' connector.
httpx keeps the interface every other jobpoll request has: its client picks the
mount for a URL, its Response decodes gzip and deflate (an answer with nothing to
decode, as every status answer is, comes back read whole and bare instead:
`plain_or_streamed`). This module only translates between the two, and keeps that
cheap: a watch sends the same few thousand URLs with the same few header sets
again and again, so what they become on aiohttp's side is made once (the URL, the
headers, the timeouts, the proxy's credentials).

It replaces httpx-aiohttp's adapter, which rebuilt all of that on every request
(0.20 -> 0.16 ms of CPU a request in a tight loop), reported every connection
error as ConnectTimeout, and passed the proxy's credentials through aiohttp's
deprecated `proxy_auth`.
"""

from __future__ import annotations

import functools
from typing import Any, AsyncIterator, Callable

import aiohttp
import httpx
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

CHUNK = 64 * 1024  # bytes read from aiohttp at a time


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp ClientSession (made at the first request, inside the event loop)
    with `ssl_context` and `limits`; `proxy` (http or https) goes with every
    request; `session` makes the session instead (a socks proxy's connector)."""

    def __init__(self, *, ssl_context: Any, limits: httpx.Limits, proxy: httpx.Proxy | None = None,
                 session: Callable[[], aiohttp.ClientSession] | None = None):
        self._ssl_context = ssl_context
        self._limits = limits
        self._make_session = session or self._default_session
        self._session: aiohttp.ClientSession | None = None
        self._proxy: dict[str, Any] = {}
        if proxy is not None:
            headers = dict(proxy.headers)
            if proxy.auth is not None:  # as curl and httpx send them: Basic, UTF-8
                headers["Proxy-Authorization"] = _basic_auth(*proxy.auth)
            self._proxy = {"proxy": URL(str(proxy.url)), "proxy_headers": headers or None}

    def _default_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self._ssl_context, limit=self._limits.max_connections or 0,
                                         keepalive_timeout=self._limits.keepalive_expiry)
        return aiohttp.ClientSession(connector=connector)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _streamed(await self._response(request), request)

    async def plain_or_streamed(self, request: httpx.Request) -> "tuple[int, Any, bytes] | httpx.Response":
        """What a watch sends through: an answer that needs nothing of httpx's
        Response (no Content-Encoding to decode, a stated length within CHUNK, not
        a redirect or a 407, whose bodies jobpoll does not read) comes back read
        whole and bare, as (status, raw headers, body); any other as
        handle_async_request returns it. A status answer sent uncompressed (the
        simulator's; a provider's too small to be worth compressing) is the first
        kind: the Response's stream, decoder and chunker machinery was a sixth of a
        watched request's CPU."""
        response = await self._response(request)
        length = response.content_length
        if (length is None or length > CHUNK or response.status in _NOT_READ
                or "Content-Encoding" in response.headers):
            return _streamed(response, request)
        with _translated_errors:
            try:
                body = await response.read()
            finally:
                response.release()  # the connection goes back (closed if the body fell short)
        return response.status, response.raw_headers, body

    async def _response(self, request: httpx.Request) -> aiohttp.ClientResponse:
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        timeout = request.extensions.get("timeout") or {}
        raw = request.headers.raw
        try:
            data: Any = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp reads it, and frames it itself
            data = request.stream
            raw = [(name, value) for name, value in raw if name.lower() != b"transfer-encoding"]
        with _translated_errors:
            response = await session.request(
                request.method,
                _url(str(request.url)),
                headers=_headers(tuple(raw)),
                data=data,
                allow_redirects=False,
                auto_decompress=False,  # httpx's Response decodes, under jobpoll's size cap
                compress=None,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                server_hostname=request.extensions.get("sni_hostname"),
                **self._proxy,
            )
        return response

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# Redirects and a proxy's 407: their bodies are not read (http.py follows or refuses them).
_NOT_READ = frozenset({301, 302, 303, 307, 308, 407})


def _streamed(response: aiohttp.ClientResponse, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        status_code=response.status,
        headers=response.raw_headers,
        stream=_Body(response),
        request=request,
        extensions={"http_version": b"HTTP/1.1"},
    )


class _Body(httpx.AsyncByteStream):
    """An answer's body as aiohttp reads it; closing it gives the connection back."""

    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse):
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        with _translated_errors:
            length = response.content_length
            if length is not None and length <= CHUNK:
                # A small answer of known length (a compressed status answer; plain
                # ones skip this stream: plain_or_streamed): one read, cheaper than a
                # chunk iterator (0.02 ms of a request's 0.17).
                body = await response.read()
                if body:
                    yield body
                return
            async for chunk in response.content.iter_chunked(CHUNK):
                yield chunk

    async def aclose(self) -> None:
        with _translated_errors:
            await self._response.__aexit__(None, None, None)


def _basic_auth(login: str, password: str) -> str:
    encode = getattr(aiohttp, "encode_basic_auth", None)  # 3.13 on; BasicAuth is deprecated there
    if encode is not None:
        return encode(login, password, "utf-8")
    return aiohttp.BasicAuth(login, password, "utf-8").encode()


@functools.lru_cache(maxsize=16384)  # as http.REUSED_REQUESTS: a watch's URLs, not every list page's
def _url(text: str) -> URL:
    # httpx has already checked and percent-encoded it: aiohttp must not again.
    return URL(text, encoded=True)


@functools.lru_cache(maxsize=256)
def _headers(raw: tuple[tuple[bytes, bytes], ...]) -> CIMultiDictProxy[str]:
    # Read-only: aiohttp copies them into each request's own.
    return CIMultiDictProxy(CIMultiDict((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw))


@functools.lru_cache(maxsize=16)
def _timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


# aiohttp's errors as httpx's, most specific first; the original stays as the cause,
# where network_errors.py finds the certificate, resolver or refusal behind it.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.TimeoutException),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx.NetworkError),
    (aiohttp.ClientError, httpx.TransportError),
)


class _TranslatedErrors:
    """`with _translated_errors:` raises an aiohttp error from inside as httpx's.
    A class rather than a @contextmanager generator: it wraps two steps of every
    request, and a generator's setup and two resumptions cost ~3 us each time."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> bool:
        if isinstance(exc, aiohttp.ClientError):
            for theirs, ours in _ERRORS:
                if isinstance(exc, theirs):
                    raise ours(str(exc) or type(exc).__name__) from exc
        return False  # anything else goes on as it was


_translated_errors = _TranslatedErrors()  # stateless: one for every request
