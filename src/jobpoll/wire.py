"""A minimal HTTP/1.1 client connection for one-shot GETs (`status`, `list`).

Why not http.client: it imports the email package and ssl up front (~16 ms), a
quarter of a Typer hello-world, on every `jobpoll status` that a shell loop runs
thousands of times. What a status lookup needs is small: one GET, keep-alive,
Content-Length or chunked bodies with a size cap, TLS only for https, and an HTTP
proxy from the environment (absolute-form for http, CONNECT for https).
"""

from __future__ import annotations

import socket
from typing import Any, Callable

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200


class ProtocolError(OSError):
    """The peer's bytes are not an HTTP/1.x answer."""


class BodyTooLarge(Exception):
    pass


class Connection:
    """One keep-alive connection to an origin (possibly through a proxy)."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float = 60.0,
        tls: Callable[[], Any],
        proxy: tuple[str, int] | None = None,
    ):
        self.scheme, self.host, self.port = scheme, host, port
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.total_timeout = total_timeout
        self._tls, self._proxy = tls, proxy
        self._sock: Any = None
        self._file: Any = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def _open(self) -> None:
        address = self._proxy or (self.host, self.port)
        sock = socket.create_connection(address, timeout=self.connect_timeout)
        try:
            if self._proxy and self.scheme == "https":
                self._tunnel(sock)
            if self.scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        self._sock, self._file = sock, sock.makefile("rb")

    def _tunnel(self, sock: Any) -> None:
        target = f"{self.host}:{self.port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
        reader = sock.makefile("rb")
        try:
            status, _, _ = _read_head(reader)
        finally:
            reader.close()
        if status != 200:
            raise ProtocolError(f"the proxy refused to connect to {target} (HTTP {status})")

    def get(self, target: str, headers: dict[str, str], max_body: int) -> tuple[int, dict[str, str], bytes]:
        """Send a GET for `target` (path and query) and read the whole answer, within
        the total timeout however slowly the bytes come (a watchdog shuts the socket)."""
        import threading

        expired = threading.Event()

        def abort() -> None:
            expired.set()
            sock = self._sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(self.total_timeout, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._get(target, headers, max_body)
        except OSError:
            if expired.is_set():
                self.close()
                raise TimeoutError(f"no complete answer within {self.total_timeout:g} s") from None
            raise
        finally:
            watchdog.cancel()

    def _get(self, target: str, headers: dict[str, str], max_body: int) -> tuple[int, dict[str, str], bytes]:
        if self._sock is None:
            self._open()
        default_port = 443 if self.scheme == "https" else 80
        host = self.host if self.port == default_port else f"{self.host}:{self.port}"
        if self._proxy and self.scheme == "http":
            target = f"http://{host}{target}"  # absolute-form for a plain proxy
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

        status, version, response_headers = _read_head(self._file)
        while 100 <= status < 200:  # interim answers (100 Continue): the real one follows
            status, version, response_headers = _read_head(self._file)
        body, until_close = self._read_body(status, response_headers, max_body)
        connection = response_headers.get("connection", "").lower()
        if until_close or connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self.close()
        return status, response_headers, body

    def _read_body(self, status: int, headers: dict[str, str], max_body: int) -> tuple[bytes, bool]:
        if status in (204, 304):
            return b"", False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return _read_chunked(self._file, max_body), False
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
            if size > max_body:
                raise BodyTooLarge()
            body = self._file.read(size)
            if len(body) != size:
                raise ProtocolError(f"the answer ended after {len(body)} of {size} bytes")
            return body, False
        body = self._file.read(max_body + 1)  # no length: the body runs to the close
        if len(body) > max_body:
            raise BodyTooLarge()
        return body, True


def _read_line(reader: Any, budget: list[int]) -> bytes:
    line = reader.readline(budget[0] + 1)
    budget[0] -= len(line)
    if budget[0] < 0:
        raise ProtocolError("the answer's header is too large")
    if not line:
        raise ProtocolError("the connection closed before an answer")
    return line


def _read_head(reader: Any) -> tuple[int, str, dict[str, str]]:
    """Status line and headers (names lower-cased)."""
    budget = [MAX_HEADER_BYTES]
    status_line = _read_line(reader, budget).decode("latin-1").rstrip("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP answer: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _read_line(reader, budget).decode("latin-1").rstrip("\r\n")
        if not line:
            return int(parts[1]), parts[0], headers
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raise ProtocolError("too many header lines")


def _read_chunked(reader: Any, max_body: int) -> bytes:
    body = bytearray()
    budget = [MAX_HEADER_BYTES]
    while True:
        size_line = _read_line(reader, budget).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            while _read_line(reader, budget) not in (b"\r\n", b"\n"):  # trailers
                pass
            return bytes(body)
        if len(body) + size > max_body:
            raise BodyTooLarge()
        chunk = reader.read(size)
        if len(chunk) != size:
            raise ProtocolError("the answer ended inside a chunk")
        body += chunk
        reader.readline(3)  # the CRLF after the chunk
