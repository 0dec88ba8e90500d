"""The one place that talks HTTP: httpx, blocking for `status` and `list`, async
for `watch` (and the downloads that follow, through `client_settings`).

Both clients send one GET described by a provider's `Request` and hand back an
`Answer`; they never interpret it (providers do) and never retry (the engine,
engine/lookup.py, owns the policy). What they guarantee for everyone:
- the network the user's other tools see: HTTP(S)_PROXY, ALL_PROXY, NO_PROXY (either
  case, credentials in the proxy URL, socks5://), SSL_CERT_FILE, SSL_CERT_DIR, and a
  provider's `ca_bundle`; certificates are always checked (there is no switch);
- one total deadline per request (connect, proxy CONNECT, TLS, body), a cap on the
  body size after decoding gzip/deflate, `User-Agent: jobpoll/VERSION`;
- the key goes only to the configured origin: redirects are followed by hand, a
  same-origin one (or an http->https upgrade of the same host) with the key, one to
  any other origin not at all (httpx would strip only `Authorization`, not
  `x-api-key`/`X-API-Key`);
- `-v` logs requests and answers on stderr, keys redacted, provider text inert;
- an answer that echoes the key back (in an error, a message, any field) has it
  replaced by `***` before anyone reads it, so no output, error line, history
  row or `--raw` payload can carry it;
- network failures become one of four lines: certificate, connection refused,
  could not resolve, timed out (network_errors.py).

Transports: httpx.Client for `status`, `list` and a watch of few jobs (on daemon
threads, blocking.py: nothing more to import, so `watch` starts like `status`). A
watch of many jobs runs httpx.AsyncClient over jobpoll's aiohttp transport
(aiohttp_transport.py), which does about four times the requests per CPU second of
httpx's own async pool (shared/FINDINGS.md, bench/transports) but costs 0.2 s to
import; it hands each GET straight to the transport the client picks (`_send`),
which halves httpx's cost per request. `client_settings` gives every client the
same trust, proxies, limits and timeouts.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Sequence, TextIO
from urllib.parse import urlencode, urljoin, urlsplit

from jobpoll import __version__
from jobpoll.errors import UnavailableError, UsageError
from jobpoll.providers.base import Answer, Request

if TYPE_CHECKING:
    import ssl

    from jobpoll.config import Endpoint

USER_AGENT = f"jobpoll/{__version__}"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a status answer is a few KB; anything near this is broken
MAX_REDIRECTS = 5
TIMEOUT_CONNECT = 10.0  # seconds
TIMEOUT_READ = 30.0
TIMEOUT_TOTAL = 60.0  # a whole request: connect, proxy, TLS and body, however slow
# Idle connections are kept this long (httpx's default is 5 s): a watch looks at a
# job every few seconds to a minute, and reconnecting between looks costs CPU at
# both ends. A server that closes one first costs nothing: both pools retry a GET
# on a kept-alive connection that turns out closed.
KEEPALIVE = 30.0
# From this many jobs on, watch uses the aiohttp transport (throughput over start-up).
AIOHTTP_FROM_JOBS = 50
REUSED_REQUESTS = 16384  # GET requests kept for reuse: the status URLs of a 10,000-job watch
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_LOGGED_BODY_CHARS = 2000
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


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


# ---- keys in answers ------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _spellings(key: str) -> tuple[bytes, ...]:
    """The key as it may appear in an answer, UTF-8: verbatim, JSON-escaped, and
    with "/" escaped as PHP's json_encode writes it; longest first. Made once per
    key (every answer is searched for them)."""
    import json

    forms = {key, json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1],
             key.replace("/", "\\/")}
    return tuple(form.encode("utf-8") for form in sorted(forms, key=len, reverse=True))


def redact(text: str, key: str | None) -> str:
    """`text` with every spelling of the key replaced by ***. Any key, however
    short: a mangled word in an answer is better than a key in the history."""
    if key:
        for form in _spellings(key):
            text = text.replace(form.decode("utf-8"), "***")
    return text


def without_key(answer: Answer, key: str | None) -> Answer:
    """The answer with every echo of the key replaced by ***: a provider that quotes
    the key back (e.g. "Invalid API key sk-...") must not make jobpoll print it,
    record it in the history or show it in --raw."""
    if not key:
        return answer
    body = answer.body
    for needle in _spellings(key):
        if needle in body:
            body = body.replace(needle, b"***")
    headers = answer.headers
    if any(key in value for value in headers.values()):
        headers = {name: redact(value, key) for name, value in headers.items()}
    if body is answer.body and headers is answer.headers and key not in answer.url:
        return answer
    return Answer(answer.status_code, headers, body, redact(answer.url, key))


# ---- the network the user configured ---------------------------------------------

_contexts: dict[tuple[str | None, str | None, str | None], Any] = {}
_contexts_lock = threading.Lock()


def _system_ca_dir() -> str | None:
    """OpenSSL's hashed certificate directory when the system has one (Linux, BSD):
    read lazily, one file per CA actually met, where loading a whole bundle costs
    50-70 ms at every start."""
    import ssl

    path = ssl.get_default_verify_paths().openssl_capath
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                name = entry.name
                if len(name) >= 10 and name[8] == "." and name[9:].isdigit():
                    return path
    except OSError:
        pass
    return None


def ssl_context(ca_bundle: str | None = None) -> "ssl.SSLContext":
    """The certificates jobpoll trusts, as OpenSSL's tools do: SSL_CERT_FILE
    replaces the default bundle and SSL_CERT_DIR the default directory; the
    default is the system's hashed directory, else certifi's bundle (the system
    store on Windows). A provider's `ca_bundle` is trusted on top, for that
    provider only. Verification and host names are always checked."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    key = (ca_bundle, cafile, capath)
    with _contexts_lock:
        cached = _contexts.get(key)
        if cached is not None:
            return cached
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
        if capath is None and cafile is None:
            capath = _system_ca_dir()
            if capath is None:
                if sys.platform == "win32":
                    context.load_default_certs()
                else:
                    import certifi

                    cafile = certifi.where()
        for what, file, folder in (("SSL_CERT_FILE", cafile, None), ("SSL_CERT_DIR", None, capath),
                                   ("ca_bundle", ca_bundle, None)):
            if file is None and folder is None:
                continue
            try:
                context.load_verify_locations(cafile=file, capath=folder)
            except (OSError, ssl.SSLError) as exc:
                where = what if what != "ca_bundle" else "the provider's ca_bundle"
                reason = getattr(exc, "strerror", None) or str(exc)
                raise UsageError(f"{where} ({file or folder}) cannot be used: {reason}",
                                 hint="point it at a PEM file of CA certificates") from None
        _contexts[key] = context
        return context


def _proxies() -> dict[str, str | None]:
    """URL pattern -> proxy URL (None: no proxy), from HTTP(S)_PROXY, ALL_PROXY and
    NO_PROXY in either case, as httpx reads them."""
    from httpx._utils import get_environment_proxies

    found = get_environment_proxies()
    for proxy in found.values():
        if proxy is not None and urlsplit(proxy).scheme not in _PROXY_SCHEMES:
            raise UsageError(f"the proxy {shown_proxy(proxy)} has an unsupported scheme",
                             hint="use http://, https:// or socks5:// in HTTPS_PROXY/HTTP_PROXY/ALL_PROXY")
    return found


def shown_proxy(proxy: str) -> str:
    """A proxy URL fit to print: credentials never shown."""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    auth = "***@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{auth}{host}{port}"


def proxy_for(url: str) -> str | None:
    """The proxy a request to `url` goes through, or None (for messages and -v)."""
    import httpx
    from httpx._utils import URLPattern

    target = httpx.URL(url)
    # httpx tries its mounts in this order (most specific pattern first).
    for pattern, proxy in sorted(((URLPattern(p), v) for p, v in _proxies().items()), key=lambda i: i[0]):
        if pattern.matches(target):
            return proxy
    return None


def _socks_needs(asynchronous_aiohttp: bool) -> None:
    try:
        if asynchronous_aiohttp:
            import aiohttp_socks  # noqa: F401
        else:
            import socksio  # noqa: F401
    except ImportError:
        extra = "aiohttp-socks" if asynchronous_aiohttp else "httpx[socks]"
        raise UsageError(f"a socks5:// proxy needs the {extra!r} package, which is not installed",
                         hint=f"pip install '{extra}' in jobpoll's environment, or use an http:// proxy") from None


def client_settings(*, ca_bundle: str | None = None, asynchronous: bool = False,
                    aiohttp: bool = False, max_connections: int = 100,
                    timeout: Any = None) -> dict[str, Any]:
    """Keyword arguments for an httpx.Client (or AsyncClient with `asynchronous`)
    that sees the network as every jobpoll request does: the trust store
    (`ssl_context`), proxies from the environment, connection limits, per-phase
    timeouts, the User-Agent, no redirects followed, nothing else read from the
    environment (no .netrc). It carries no credentials: a plain client made from it
    (e.g. downloads from another origin) sends none.

        with httpx.Client(**client_settings()) as client:
            with client.stream("GET", url) as response: ...

    The blocking transports bound every socket operation by `netguard.deadline`
    when one is set; `aiohttp` (asynchronous only) swaps httpx's pool for
    aiohttp's, with the same settings."""
    import httpx

    context = ssl_context(ca_bundle)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=KEEPALIVE)

    def transport(proxy: str | None) -> Any:
        if proxy is not None and urlsplit(proxy).scheme.startswith("socks"):
            _socks_needs(aiohttp)
        via = None
        if proxy is not None:  # an https:// proxy is checked with the same trust store
            via = httpx.Proxy(proxy, ssl_context=context if proxy.startswith("https:") else None)
        if aiohttp:
            return _aiohttp_transport(context, limits, proxy, via)
        # httpcore's pools, guarded by netguard from its import on (aiohttp's parser
        # needs no such guard, and a watch of many jobs no httpcore: 17 ms less).
        from jobpoll import netguard

        if asynchronous:
            return httpx.AsyncHTTPTransport(verify=context, limits=limits, trust_env=False, proxy=via)
        return netguard.use_deadlines(
            httpx.HTTPTransport(verify=context, limits=limits, trust_env=False, proxy=via))

    mounts = {pattern: None if proxy is None else transport(proxy) for pattern, proxy in _proxies().items()}
    return {
        "transport": transport(None),
        "mounts": mounts,
        "timeout": timeout or httpx.Timeout(connect=TIMEOUT_CONNECT, read=TIMEOUT_READ, write=10.0, pool=60.0),
        "headers": {"User-Agent": USER_AGENT},
        "follow_redirects": False,
        "trust_env": False,
    }


def _aiohttp_transport(context: Any, limits: Any, proxy: str | None, via: Any) -> Any:
    """jobpoll's transport over aiohttp (aiohttp_transport.py) with our SSL context
    and limits; an http(s) proxy goes with each request (aiohttp's own CONNECT,
    credentials as Proxy-Authorization), a socks one through aiohttp-socks'
    connector."""
    AiohttpTransport = _aiohttp_transport_class()

    if proxy is not None and urlsplit(proxy).scheme.startswith("socks"):
        def session() -> Any:
            import aiohttp
            from aiohttp_socks import ProxyConnector

            url = proxy.replace("socks5h://", "socks5://", 1)
            connector = ProxyConnector.from_url(url, ssl=context, limit=limits.max_connections,
                                                keepalive_timeout=limits.keepalive_expiry,
                                                rdns=proxy.startswith("socks5h"))
            return aiohttp.ClientSession(connector=connector)

        return AiohttpTransport(ssl_context=context, limits=limits, session=session)
    return AiohttpTransport(ssl_context=context, limits=limits, proxy=via)


def _aiohttp_transport_class() -> Any:
    """jobpoll's aiohttp transport class. Importing aiohttp builds two default SSL
    contexts, each loading the system's whole CA bundle (~20 ms apiece, at every
    watch of many jobs). jobpoll never uses them: every connector it makes gets
    `ssl_context()`. So they are built without the bundle while aiohttp loads:
    were one ever used, it would trust nothing, rather than something else."""
    if "aiohttp.connector" not in sys.modules:
        import ssl

        ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
        try:
            import aiohttp.connector  # noqa: F401
        finally:
            del ssl.SSLContext.set_default_verify_paths  # the C method again, for everyone else
    from jobpoll.aiohttp_transport import AiohttpTransport

    return AiohttpTransport


# ---- -v --------------------------------------------------------------------------


class _Logger:
    """`-v` output: requests and answers on stderr, keys redacted, and everything
    the provider sent made inert (render.safe_text) like any other provider text."""

    def __init__(self, enabled: bool, stream: TextIO | None = None):
        self.enabled = enabled
        self.stream = stream

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stderr)

    def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], endpoint: "Endpoint") -> None:
        if not self.enabled:
            return
        from jobpoll.render import safe_text

        self._print(f"> {method} {safe_text(redact(url, endpoint.key))}")
        for name, value in headers:
            if name.lower() == endpoint.provider.auth_header.lower():
                value = "***"
            self._print(f"> {name}: {safe_text(redact(value, endpoint.key))}")
        proxy = proxy_for(url)
        if proxy:
            self._print(f"* via proxy {shown_proxy(proxy)}")

    def answer(self, answer: Answer, elapsed: float, endpoint: "Endpoint") -> None:
        if not self.enabled:
            return
        from jobpoll.render import safe_text

        self._print(f"< {answer.status_code} ({len(answer.body)} bytes, {elapsed * 1000:.0f} ms)")
        for name in ("content-type", "content-encoding", "retry-after", "x-ratelimit-remaining",
                     "x-ratelimit-reset", "location"):
            if name in answer.headers:
                self._print(f"< {name}: {safe_text(redact(answer.headers[name], endpoint.key))}")
        text = redact(answer.body[:_LOGGED_BODY_CHARS].decode("utf-8", "replace"), endpoint.key)
        for line in text.splitlines():
            self._print("< " + safe_text(line))

    def note(self, message: str) -> None:
        if self.enabled:
            from jobpoll.render import safe_text

            self._print(f"* {safe_text(message)}")


# ---- one GET, both clients --------------------------------------------------------


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


def _too_big(endpoint: "Endpoint") -> UnavailableError:
    return UnavailableError(
        f"{endpoint.provider.name} sent an answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"
        " (after decoding)"
    )


def _proxy_refused(endpoint: "Endpoint", url: str) -> UnavailableError:
    from jobpoll.network_errors import proxy_wants_credentials

    return proxy_wants_credentials(endpoint.provider.name, proxy_for(url))


def _with_query(url: str, params: dict[str, str] | None) -> str:
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _header_dict(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Raw headers as Answer keeps them: names in lower case, repeats joined with
    ", ", all decoded as httpx decodes them (ASCII, else UTF-8, else Latin-1)."""
    for encoding in ("ascii", "utf-8", "latin-1"):
        headers: dict[str, str] = {}
        try:
            for name, value in raw:
                name, value = name.decode(encoding).lower(), value.decode(encoding)
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        except UnicodeDecodeError:
            continue
        return headers
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


class SyncHttp:
    """Blocking client for `status` and `list`: one httpx.Client per trust store
    (providers with their own `ca_bundle` get theirs), shared by the lookup
    threads, so paging a list or a follow-up request reuses the connection."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None):
        self._log = _Logger(verbose, log)
        self._lock = threading.Lock()
        self._clients: dict[str | None, Any] = {}

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> "SyncHttp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client_for(self, bundle: str | None) -> Any:
        with self._lock:
            client = self._clients.get(bundle)
        if client is None:
            import httpx

            client = httpx.Client(**client_settings(ca_bundle=bundle))
            with self._lock:
                client = self._clients.setdefault(bundle, client)
        return client

    def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        import httpx

        from jobpoll import netguard

        client = self._client_for(getattr(endpoint, "ca_bundle", None))
        url = _with_query(build_url(endpoint.base_url, request), request.params)
        headers = _headers_for(endpoint)  # every hop stays on the key's origin (_next_hop)
        for _ in range(MAX_REDIRECTS + 1):
            self._log.request("GET", url, headers.items(), endpoint)
            started = time.monotonic()
            try:
                with netguard.deadline(TIMEOUT_TOTAL):
                    with client.stream("GET", url, headers=headers) as response:
                        body = bytearray()  # a redirect's or a 407's body is not read
                        if response.status_code not in _REDIRECT_CODES and response.status_code != 407:
                            for chunk in response.iter_bytes():  # decoded: the cap counts what we keep
                                body += chunk
                                if len(body) > MAX_BODY_BYTES:
                                    raise _too_big(endpoint)
                                if netguard.expired():
                                    raise TimeoutError("the total deadline passed")
            except UnavailableError:
                raise
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                from jobpoll.network_errors import network_error

                raise network_error(exc, endpoint, url, time.monotonic() - started,
                                    deadline_passed=_past_deadline(started)) from None
            settled = _settle(response.status_code, response.headers.raw, bytes(body), str(response.url),
                              url, endpoint, self._log, started)
            if isinstance(settled, Answer):
                return settled
            url = settled
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")


def _settle(status: int, raw_headers: Sequence[tuple[bytes, bytes]], body: bytes, answer_url: str,
            url: str, endpoint: "Endpoint", log: "_Logger", started: float) -> "Answer | str":
    """What a response comes to, for both clients: the answer (the key scrubbed,
    logged for -v), or the URL of a same-origin redirect to follow."""
    if status == 407:
        raise _proxy_refused(endpoint, url)
    headers = _header_dict(raw_headers)
    if status in _REDIRECT_CODES:
        url = _next_hop(headers.get("location"), url, endpoint)
        log.note(f"redirected to {url}")
        return url
    answer = without_key(Answer(status, headers, body, answer_url), endpoint.key)
    log.answer(answer, time.monotonic() - started, endpoint)
    return answer


def _past_deadline(started: float) -> bool:
    return time.monotonic() - started >= TIMEOUT_TOTAL - 0.01


class AsyncHttp:
    """The watch engine's client. A watch of few jobs sends with the blocking
    client (SyncHttp, as `status` does) on a few daemon threads: nothing more to
    import (httpx's own async transport needs anyio, ~20 ms a start), the same
    deadline. With `aiohttp` (many jobs): shared httpx.AsyncClients, one per trust
    store, over the aiohttp transport."""

    def __init__(self, *, verbose: bool = False, log: TextIO | None = None, max_connections: int = 100,
                 aiohttp: bool = False):
        self._aiohttp = aiohttp
        self._max_connections = max_connections
        self._clients: dict[str | None, Any] = {}
        self._merged: dict[tuple[int, str, str | None], tuple[tuple[str, str], ...]] = {}
        self._log = _Logger(verbose, log)
        self._blocking: SyncHttp | None = None
        if aiohttp:
            self._client(None)  # settings errors (a bad proxy URL) surface before the first job
        else:
            from jobpoll.blocking import DaemonThreads

            self._blocking = SyncHttp(verbose=verbose, log=log)
            self._blocking._client_for(None)
            self._threads = DaemonThreads(min(max_connections, 16))

    def _client(self, bundle: str | None) -> Any:
        client = self._clients.get(bundle)
        if client is None:
            import httpx

            client = httpx.AsyncClient(**client_settings(
                ca_bundle=bundle, asynchronous=True, aiohttp=self._aiohttp,
                max_connections=self._max_connections))
            self._clients[bundle] = client
        return client

    def _headers(self, client: Any, endpoint: "Endpoint") -> tuple[tuple[str, str], ...]:
        """An endpoint's request headers over the client's defaults (Accept-Encoding
        and the like), as client.stream would merge them; made once per endpoint."""
        key = (id(client), endpoint.provider.name, endpoint.key)
        headers = self._merged.get(key)
        if headers is None:
            mine = _headers_for(endpoint)
            named = {name.lower() for name in mine}
            headers = (*mine.items(), *((name, value) for name, value in client.headers.items() if name not in named))
            self._merged[key] = headers
        return headers

    async def aclose(self) -> None:
        if self._blocking is not None:
            self._threads.close()
            self._blocking.close()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def get(self, endpoint: "Endpoint", request: Request) -> Answer:
        if self._blocking is not None:
            return await self._threads.run(self._blocking.get, endpoint, request)
        import asyncio

        import httpx

        client = self._client(getattr(endpoint, "ca_bundle", None))
        url = _with_query(build_url(endpoint.base_url, request), request.params)
        headers = self._headers(client, endpoint)  # every hop stays on the key's origin (_next_hop)
        for _ in range(MAX_REDIRECTS + 1):
            self._log.request("GET", url, headers, endpoint)
            started = time.monotonic()
            try:
                async with asyncio.timeout(TIMEOUT_TOTAL):  # connect, proxy, TLS and body
                    request, response = await _send(client, url, headers)
                    if isinstance(response, tuple):  # read whole by the transport: see plain_or_streamed
                        status, raw_headers, body = response
                        answer_url = str(request.url)
                    else:
                        body = bytearray()  # a redirect's or a 407's body is not read
                        try:
                            if response.status_code not in _REDIRECT_CODES and response.status_code != 407:
                                async for chunk in response.aiter_bytes():
                                    body += chunk
                                    if len(body) > MAX_BODY_BYTES:
                                        raise _too_big(endpoint)
                        finally:
                            await response.aclose()
                        status, raw_headers, answer_url = response.status_code, response.headers.raw, str(response.url)
            except UnavailableError:
                raise
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, *_aiohttp_errors()) as exc:
                from jobpoll.network_errors import network_error

                raise network_error(exc, endpoint, url, time.monotonic() - started,
                                    deadline_passed=_past_deadline(started)) from None
            settled = _settle(status, raw_headers, bytes(body), answer_url, url, endpoint, self._log, started)
            if isinstance(settled, Answer):
                return settled
            url = settled
        raise UnavailableError(f"{endpoint.provider.name} redirected more than {MAX_REDIRECTS} times")


@functools.lru_cache(maxsize=REUSED_REQUESTS)
def _request(url: str, headers: tuple[tuple[str, str], ...], timeout: tuple[tuple[str, Any], ...]) -> Any:
    """The httpx.Request of a GET: a watch asks for the same few thousand URLs with
    the same few header sets again and again, and making one (parsing the URL,
    normalising the headers three times over) costs more than aiohttp's sending it.
    Reused as is: transports only read a request. Keyed by everything in it, so
    one provider's key never goes out with another's URL. A list page's URL is
    new at every cycle (its window ends at "now"): the least recently used go
    first, so the memory stays bounded (~1.5 KB a request) however long a watch."""
    import httpx

    request = httpx.Request("GET", url, headers=dict(headers))
    # Requests with the same headers (Host included) share one copy of them, and
    # of their timeouts: 2.4 KB a request otherwise, 24 MB over 10,000 jobs.
    request.headers = _shared_headers(tuple(request.headers.raw))
    request.extensions = _shared_extensions(timeout)
    return request


@functools.lru_cache(maxsize=256)
def _shared_headers(raw: tuple[tuple[bytes, bytes], ...]) -> Any:
    import httpx

    return httpx.Headers(list(raw))


@functools.lru_cache(maxsize=16)
def _shared_extensions(timeout: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {"timeout": dict(timeout)}


async def _send(client: Any, url: str, headers: tuple[tuple[str, str], ...]) -> tuple[Any, Any]:
    """One GET through the transport the client picks for `url` (its proxy mount or
    its own): what `client.stream` does, less what a watch never uses and pays for
    on every request (re-parsing the URL, merging defaults, auth and redirect
    machinery, the cookie jar; jobpoll sends no cookies and follows redirects by
    hand). Same transports, so the same trust, proxies, limits and timeouts.
    `_transport_for_url` is httpx's own (private) choice of mount, as netguard's
    seams are: the proxy tests of every client fail if it changes. Every one of
    AsyncHttp's transports is jobpoll's aiohttp one (its own and each proxy's), so
    this returns the request and what `plain_or_streamed` gives: httpx's response,
    or (status, raw headers, body) for a plain answer read whole."""
    request = _request(url, headers, tuple(client.timeout.as_dict().items()))
    transport = client._transport_for_url(request.url)
    return request, await transport.plain_or_streamed(request)


def _aiohttp_errors() -> tuple[type[BaseException], ...]:
    """aiohttp's own errors, when it is loaded (the transport leaves some untranslated)."""
    module = sys.modules.get("aiohttp")
    return (module.ClientError,) if module is not None else ()
