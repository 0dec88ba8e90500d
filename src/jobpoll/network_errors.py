"""A failed request as one line a user can act on.

Four failures are told apart, whatever the transport (httpx's own, aiohttp's,
through a proxy or not), by looking through the chain of exceptions to the cause
the operating system or the TLS library gave:
- `certificate`: not trusted, expired, or not valid for the host (named);
- `connection refused`: nothing listens there;
- `could not resolve`: the host name is not known;
- `timed out`: only this one speaks of time.
Anything else is "cannot reach NAME at URL: reason" with the key redacted.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlsplit

from jobpoll.errors import UnavailableError

if TYPE_CHECKING:
    from jobpoll.config import Endpoint


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # aiohttp keeps the operating system's error beside its own.
        for attr in ("certificate_error", "os_error", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return True
    name = type(exc).__name__
    # Not ConnectTimeout by its name alone: some adapters raise it for any failed
    # connection (refused, reset); a real one has a TimeoutError under it.
    return "Timeout" in name and name != "ConnectTimeout"


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, detail): kind is certificate, refused, resolve, timeout or other."""
    causes = list(_chain(exc))
    for cause in causes:
        # httpx: ProxyError("407 Proxy Authentication Required"); aiohttp: .status 407
        if "Proxy" in type(cause).__name__ and (getattr(cause, "status", None) == 407
                                               or str(cause).startswith("407")):
            return "proxy_auth", ""
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "certificate", getattr(cause, "verify_message", None) or str(cause)
    for cause in causes:
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "ClientConnectorDNSError":
            return "resolve", ""
        if isinstance(cause, ConnectionRefusedError):
            return "refused", ""
    for cause in causes:
        if _is_timeout(cause):
            return "timeout", ""
    return "other", str(exc) or type(exc).__name__


def network_error(exc: BaseException, endpoint: "Endpoint", url: str, elapsed: float,
                  *, deadline_passed: bool = False) -> UnavailableError:
    """The error for a request to `url` that failed with `exc` after `elapsed` s."""
    from jobpoll.http import proxy_for, redact, shown_proxy

    name = endpoint.provider.name
    kind, detail = ("timeout", "") if deadline_passed else classify(exc)
    host = urlsplit(url).hostname or ""
    try:
        proxy = proxy_for(url)
    except Exception:  # noqa: BLE001 - only for the wording
        proxy = None
    via = f" through the proxy {shown_proxy(proxy)}" if proxy else ""
    base = endpoint.base_url
    if kind == "certificate":
        if "mismatch" in detail.lower() or "not valid for" in detail.lower():
            error = UnavailableError(
                f"cannot reach {name} at {base}{via}: the certificate is not valid for the host {host!r}",
                hint="check the host name in the base URL",
            )
        else:
            error = UnavailableError(
                f"cannot reach {name} at {base}{via}: certificate not trusted ({detail.rstrip('.')})",
                hint="behind a company proxy or a private CA? point SSL_CERT_FILE or SSL_CERT_DIR, "
                     f"or providers.{name}.ca_bundle, at its CA certificate",
            )
        error.retryable = False  # asking again will meet the same certificate
        return error
    if kind == "proxy_auth":
        return proxy_wants_credentials(name, proxy)
    if kind == "refused":
        target = f"the proxy {shown_proxy(proxy)}" if proxy else f"{host}"
        return UnavailableError(
            f"cannot reach {name} at {base}: connection refused by {target}",
            hint="check the host and port in the base URL" + (" and the proxy settings" if proxy else
                                                               ", and that the service is running"),
        )
    if kind == "resolve":
        what = proxy and urlsplit(proxy).hostname or host
        return UnavailableError(
            f"cannot reach {name} at {base}: could not resolve the host name {what!r}",
            hint="check the host name" + (" in the proxy URL" if proxy else " in the base URL") +
                 " and your network connection",
        )
    if kind == "timeout":
        return UnavailableError(
            f"{name} at {base}{via} timed out (no complete answer after {_seconds(elapsed)} s)",
            hint="check your network and proxy; the provider may be overloaded",
        )
    # Some transports quote the request in their errors ("Invalid header value %r").
    return UnavailableError(f"cannot reach {name} at {base}{via}: {redact(detail, endpoint.key)}")


def _seconds(elapsed: float) -> str:
    return f"{elapsed:.1f}" if elapsed < 10 else f"{elapsed:.0f}"


def proxy_wants_credentials(name: str, proxy: str | None) -> UnavailableError:
    from jobpoll.http import shown_proxy

    error = UnavailableError(
        f"the proxy{' ' + shown_proxy(proxy) if proxy else ''} asked for credentials (HTTP 407) "
        f"on the way to {name}",
        hint="put them in the proxy URL: http://USER:PASSWORD@HOST:PORT",
    )
    error.retryable = False
    return error
