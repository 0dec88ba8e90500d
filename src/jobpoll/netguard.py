"""Two things httpx does not do on its own, fitted in at its documented seams.

1. One total deadline per request for the blocking client. httpx's timeouts are
   per operation (each read may take up to `read` seconds), so a proxy or server
   that drips a byte at a time holds a request for ever. The network backend
   below resolves the host name and hands httpcore sockets whose every connect,
   read, write and TLS handshake is given at most what is left of the current
   request's deadline (set per thread by `deadline()`), so the name lookup, the
   CONNECT to a proxy, the handshake and the body all share one budget. (The
   async client needs none of this: asyncio.timeout cancels the whole request.)

2. A kept-alive HTTP/1.1 connection whose answer was followed by bytes nobody
   asked for is closed instead of reused: h11 keeps such bytes and would read them
   as the answer to the next request (an answer smuggled in after a
   Content-Length body). Both httpcore connection classes get the same check.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

_local = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything this thread sends and reads inside the block shares `seconds`."""
    previous = getattr(_local, "at", None)
    _local.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.at = previous


def expired() -> bool:
    at = getattr(_local, "at", None)
    return at is not None and time.monotonic() >= at


def _clamp(timeout: float | None) -> float | None:
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    # Never 0: that would make the socket non-blocking rather than time out.
    left = max(at - time.monotonic(), 0.001)
    return left if timeout is None else min(timeout, left)


class DeadlineBackend:
    """httpcore's synchronous network backend, bounded by the thread's deadline."""

    def __init__(self) -> None:
        from httpcore._backends.sync import SyncBackend

        self._inner = SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> "DeadlineStream":
        if getattr(_local, "at", None) is None or _is_address(host):
            return DeadlineStream(self._inner.connect_tcp(host, port, _clamp(timeout), local_address,
                                                          socket_options))
        # The name is resolved within the deadline (a resolver that does not answer,
        # with its retries and search domains, can take minutes), then each address
        # is tried in turn as the socket module would.
        import httpcore

        last: Exception | None = None
        for address in _resolve(host, port, _clamp(timeout)):
            try:
                return DeadlineStream(self._inner.connect_tcp(address, port, _clamp(timeout), local_address,
                                                              socket_options))
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None  # getaddrinfo gives at least one address or raises
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return DeadlineStream(self._inner.connect_unix_socket(path, _clamp(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of `host`, in the resolver's order, or httpcore's ConnectTimeout
    when it has not answered within `timeout` and ConnectError (from the resolver's
    error, so it reads as "could not resolve") when it says no. The lookup runs on
    a daemon thread, left to finish alone if it overstays: a pool's thread would
    hold the process at exit."""
    import socket

    import httpcore

    box: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            box["found"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name="jobpoll-resolve", daemon=True).start()
    # Raised while the cause is being handled, as httpcore's own errors are: its
    # pool re-raises them `from None`, and the context is what still names the
    # cause (network_errors tells "could not resolve" and "timed out" by it).
    try:
        if not done.wait(timeout):
            raise TimeoutError(f"resolving {host} took longer than the request's deadline")
        if "error" in box:
            raise box["error"]
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    return list(dict.fromkeys(info[4][0] for info in box["found"]))


class DeadlineStream:
    def __init__(self, inner: Any):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> "DeadlineStream":
        timeout = _clamp(timeout)
        # The socket timeout bounds each step of the handshake, not the whole of it:
        # a watchdog shuts the socket when the deadline passes mid-handshake.
        watchdog = None
        sock = self._inner.get_extra_info("socket")
        if getattr(_local, "at", None) is not None and sock is not None:
            watchdog = threading.Timer(timeout or 0.001, _shut, (sock,))
            watchdog.daemon = True
            watchdog.start()
        try:
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))
        finally:
            if watchdog is not None:
                watchdog.cancel()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _shut(sock: Any) -> None:
    import socket

    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def use_deadlines(transport: Any) -> Any:
    """Give an httpx.HTTPTransport (direct or through a proxy) the deadline backend.
    httpx builds its httpcore pool without a way to pass one in, so it is set on
    the pool it built; tests/test_network.py's drip tests fail if that ever stops
    working."""
    transport._pool._network_backend = DeadlineBackend()
    return transport


def _close_on_trailing_bytes() -> None:
    from httpcore._async.http11 import AsyncHTTP11Connection
    from httpcore._sync.http11 import HTTP11Connection

    if getattr(HTTP11Connection, "_jobpoll_guarded", False):
        return
    sync_closed = HTTP11Connection._response_closed
    async_closed = AsyncHTTP11Connection._response_closed

    def response_closed(self: Any) -> None:
        if self._h11_state.trailing_data[0]:
            self.close()
        else:
            sync_closed(self)

    async def aresponse_closed(self: Any) -> None:
        if self._h11_state.trailing_data[0]:
            await self.aclose()
        else:
            await async_closed(self)

    HTTP11Connection._response_closed = response_closed
    AsyncHTTP11Connection._response_closed = aresponse_closed
    HTTP11Connection._jobpoll_guarded = True


_close_on_trailing_bytes()
