"""The small HTTP/1.1 client behind `status` and `list`, against raw socket servers
that answer exactly the bytes each test gives them."""

from __future__ import annotations

import socket
import threading

import pytest

from jobpoll.wire import BodyTooLarge, Connection, ProtocolError


class RawServer:
    """Accepts connections and answers each request with the next scripted reply."""

    def __init__(self, replies: list[bytes], *, close_after_each: bool = False):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self.close_after_each = close_after_each
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.replies:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    self.requests.append(data)
                    conn.sendall(self.replies.pop(0))
                    if self.close_after_each:
                        break

    def close(self) -> None:
        self.sock.close()


def connect(port: int, **kw) -> Connection:
    return Connection("http", "127.0.0.1", port, connect_timeout=5, read_timeout=5,
                      tls=lambda: None, **kw)


def test_content_length_and_keep_alive_reuse():
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": true}"
    server = RawServer([reply, reply])
    conn = connect(server.port)
    for _ in range(2):
        status, headers, body = conn.get("/x?y=1", {"User-Agent": "jobpoll/test"}, 1000)
        assert (status, headers["content-type"], body) == (200, "application/json", b'{"a": true}')
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"User-Agent: jobpoll/test\r\n" in server.requests[0]


def test_chunked_body_with_extensions_and_trailers():
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"4;ext=1\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n")
    server = RawServer([reply])
    assert connect(server.port).get("/", {}, 1000)[2] == b'{"a": 1}'


def test_body_without_length_runs_to_close():
    server = RawServer([b"HTTP/1.0 200 OK\r\n\r\nplain body"], close_after_each=True)
    conn = connect(server.port)
    assert conn.get("/", {}, 1000)[2] == b"plain body"
    assert not conn.is_open


def test_interim_100_continue_is_skipped():
    server = RawServer([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"])
    assert connect(server.port).get("/", {}, 1000)[:1] == (204,)


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 5000,
])
def test_body_over_the_cap_is_refused(reply):
    server = RawServer([reply], close_after_each=True)
    with pytest.raises(BodyTooLarge):
        connect(server.port).get("/", {}, 1000)


@pytest.mark.parametrize("reply", [
    b"<html>not http</html>\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n",
])
def test_malformed_answers_are_protocol_errors(reply):
    server = RawServer([reply], close_after_each=True)
    with pytest.raises(ProtocolError):
        connect(server.port).get("/", {}, 100000)


def test_plain_proxy_gets_the_absolute_url():
    server = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    conn = Connection("http", "api.example.test", 80, connect_timeout=5, read_timeout=5,
                      tls=lambda: None, proxy=("127.0.0.1", server.port))
    assert conn.get("/v1/jobs/x", {}, 100)[2] == b"ok"
    assert server.requests[0].startswith(b"GET http://api.example.test/v1/jobs/x HTTP/1.1\r\nHost: api.example.test\r\n")


def test_connect_proxy_refusal_is_an_error():
    server = RawServer([b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"])
    conn = Connection("https", "api.example.test", 443, connect_timeout=5, read_timeout=5,
                      tls=lambda: None, proxy=("127.0.0.1", server.port))
    with pytest.raises(ProtocolError, match="proxy refused"):
        conn.get("/", {}, 100)
    assert server.requests[0].startswith(b"CONNECT api.example.test:443 HTTP/1.1")


def drip_server() -> socket.socket:
    """A server that answers one request a byte every 0.1 s: each read is quick, the
    whole answer takes ten seconds."""
    sock = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        conn, _ = sock.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _ in range(100):
                conn.sendall(b"x")
                threading.Event().wait(0.1)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    return sock


def test_a_drip_fed_answer_ends_at_the_total_timeout():
    sock = drip_server()
    port = sock.getsockname()[1]
    conn = Connection("http", "127.0.0.1", port, connect_timeout=5, read_timeout=5,
                      total_timeout=0.8, tls=lambda: None)
    import time

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.get("/", {}, 100000)
    assert time.monotonic() - started < 3
    sock.close()


def test_watch_client_ends_a_drip_fed_answer_too(monkeypatch):
    """The async client (watch) has the same total deadline as the one-shot one."""
    import asyncio
    import time

    from jobpoll import http
    from jobpoll.config import Endpoint
    from jobpoll.errors import UnavailableError
    from jobpoll.providers import get_provider

    sock = drip_server()
    port = sock.getsockname()[1]
    monkeypatch.setattr(http, "TIMEOUT_TOTAL", 0.8)
    muvi = get_provider("muvi")
    endpoint = Endpoint(muvi, f"http://127.0.0.1:{port}", "k" * 12, "env", None, "env")

    async def go() -> float:
        client = http.AsyncHttp()
        started = time.monotonic()
        try:
            with pytest.raises(UnavailableError, match="in time"):
                await client.get(endpoint, muvi.status_request("job_abc"))
        finally:
            await client.aclose()
        return time.monotonic() - started

    assert asyncio.run(go()) < 3
    sock.close()
