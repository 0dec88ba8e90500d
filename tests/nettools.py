"""Small local servers for the network tests: a scripted HTTP server that sends
exactly the bytes a test gives it, forward/CONNECT and SOCKS5 proxies that record
what they saw, and a throwaway certificate authority (trustme) with its
certificate as a file and as an OpenSSL hashed directory."""

from __future__ import annotations

import base64
import select
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

Reply = bytes | Callable[[bytes], bytes]


def http_reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               reason: str = "X") -> bytes:
    head = [f"HTTP/1.1 {status} {reason}"]
    fields = {"Content-Length": str(len(body)), "Content-Type": "application/json", **(headers or {})}
    head += [f"{k}: {v}" for k, v in fields.items() if v is not None]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


class ScriptedServer:
    """Answers request n with replies[n] (the last one again once they run out), on
    kept-alive connections unless `close_after_each`; `tls` is a server SSLContext."""

    def __init__(self, replies: list[Reply], *, close_after_each: bool = False,
                 tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.times: list[float] = []  # monotonic, one per request
        self.connections = 0
        self.close_after_each = close_after_each
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family)
        self.port = self.sock.getsockname()[1]
        self.tls = tls
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{shown}:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while True:
                head = _read_head(conn)
                if not head:
                    break
                self.requests.append(head)
                self.times.append(time.monotonic())
                reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
                conn.sendall(reply(head) if callable(reply) else reply)
                if self.close_after_each:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _pipe(a: socket.socket, b: socket.socket, record: bytearray) -> None:
    """Copy both ways until either side closes; what `a` sent goes into `record`."""
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 30)
            if not ready:
                return
            for src in ready:
                data = src.recv(65536)
                if not data:
                    return
                if src is a:
                    record += data
                (b if src is a else a).sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


class Proxy:
    """An HTTP proxy (CONNECT for https, absolute-form for http) that may require
    credentials, and records each request head and every byte clients sent."""

    def __init__(self, user: str | None = None, password: str | None = None, *,
                 drip: bool = False):
        self.expected = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.expected = f"Basic {token}"
        self.drip = drip
        self.heads: list[bytes] = []
        self.raw = bytearray()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials}{'@' if credentials else ''}127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            head = _read_head(conn)
            if not head:
                conn.close()
                return
            self.heads.append(head)
            self.raw += head
            lines = head.split(b"\r\n")
            method, target, _ = lines[0].decode().split(" ", 2)
            fields = {}
            for line in lines[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                fields[name.strip().lower()] = value.strip()
            if self.drip:
                for byte in b"HTTP/1.1 200 Connection established\r\n" + b"X-Pad: 1\r\n" * 200:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.05)
                conn.close()
                return
            if self.expected and fields.get("proxy-authorization") != self.expected:
                conn.sendall(http_reply(407, b"", {"Proxy-Authenticate": 'Basic realm="p"',
                                                    "Content-Type": None}, "Proxy Authentication Required"))
                conn.close()
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port)))
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                from urllib.parse import urlsplit

                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                upstream.sendall(head)
            _pipe(conn, upstream, self.raw)
        except OSError:
            conn.close()

    def close(self) -> None:
        self.sock.close()


class Socks5Proxy:
    """A SOCKS5 proxy without authentication that records the targets asked for."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        self.raw = bytearray()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def _exactly(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _handle(self, conn: socket.socket) -> None:
        try:
            _, count = self._exactly(conn, 2)
            self._exactly(conn, count)
            conn.sendall(b"\x05\x00")
            _, command, _, kind = self._exactly(conn, 4)
            if kind == 1:
                host = socket.inet_ntoa(self._exactly(conn, 4))
            elif kind == 3:
                host = self._exactly(conn, self._exactly(conn, 1)[0]).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, self._exactly(conn, 16))
            port = int.from_bytes(self._exactly(conn, 2), "big")
            self.targets.append((host, port))
            upstream = socket.create_connection((host, port))
            conn.sendall(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))
            _pipe(conn, upstream, self.raw)
        except OSError:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def drip_server(head: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") -> socket.socket:
    """Answers each request with `head` and then a byte every 0.1 s: each read is
    quick, the whole answer takes 100 s."""
    sock = socket.create_server(("127.0.0.1", 0))

    def drip(conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(head)
            for _ in range(1000):
                conn.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass
        conn.close()

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return sock


def silent_server() -> socket.socket:
    """Accepts connections and never says a word."""
    sock = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return sock


def refused_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def hashed_dir(ca_pem: Path, folder: Path) -> Path:
    """`folder` holding the CA as OpenSSL looks it up: <subject hash>.0."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(ca_pem)],
                            capture_output=True, text=True, check=True).stdout.strip()
    (folder / f"{digest}.0").write_bytes(ca_pem.read_bytes())
    return folder


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False
