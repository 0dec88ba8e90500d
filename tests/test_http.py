"""The HTTP layer itself, for each of its three clients (the blocking one of
`status`/`list`, and `watch`'s on httpx's transport and on aiohttp's), against
local servers that send exactly the bytes a test gives them: hostile framing,
compression, a smuggled answer, total deadlines, the four network errors, and
the -v log of what a provider sent."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import re
import time

import pytest

from conftest import TEST_KEY, assert_clean, clean_env, run_cli
from nettools import (Proxy, ScriptedServer, drip_server, http_reply, refused_port,
                      silent_server)

MUVI_JOB = {"id": "job_abc123def456", "status": "completed", "progress": 100,
            "output": "https://cdn.example/v.mp4", "createdAt": "2026-05-12T07:00:00Z"}
JOB_BODY = json.dumps(MUVI_JOB).encode()
CLIENTS = ("sync", "threads", "aiohttp")  # status/list, a small watch, a large watch


def endpoint_for(base_url: str, key: str = TEST_KEY):
    from jobpoll.config import Endpoint
    from jobpoll.providers import get_provider

    return Endpoint(get_provider("muvi"), base_url.rstrip("/"), key, "env", None, "env")


def fetch(kind: str, base_url: str, *, key: str = TEST_KEY, times: int = 1, log=None, verbose=False):
    """`times` GETs of a Muvi job through client `kind`; the answers (or the error)."""
    from jobpoll import http

    endpoint = endpoint_for(base_url, key)
    request = endpoint.provider.status_request("job_abc123def456")
    if kind == "sync":
        with http.SyncHttp(verbose=verbose, log=log) as client:
            return [client.get(endpoint, request) for _ in range(times)]

    async def go():
        client = http.AsyncHttp(aiohttp=kind == "aiohttp", verbose=verbose, log=log)
        try:
            return [await client.get(endpoint, request) for _ in range(times)]
        finally:
            await client.aclose()

    return asyncio.run(go())


def fails(kind: str, base_url: str, **kw) -> str:
    from jobpoll.errors import UnavailableError

    with pytest.raises(UnavailableError) as caught:
        fetch(kind, base_url, **kw)
    return caught.value.line()


# ---- compression ------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_server_that_always_answers_gzip_is_decoded(kind):
    server = ScriptedServer([http_reply(200, gzip.compress(JOB_BODY), {"Content-Encoding": "gzip"})])
    [answer] = fetch(kind, server.url)
    assert json.loads(answer.body)["status"] == "completed"
    assert b"gzip" in server.requests[0].lower()  # it was offered (Accept-Encoding)
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_gzip_bomb_is_capped_after_decoding(kind):
    from jobpoll import http

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as out:
        for _ in range(20):
            out.write(bytes(1024 * 1024))  # 20 MiB of zeros, about 20 KB on the wire
    bomb = buffer.getvalue()
    assert len(bomb) < http.MAX_BODY_BYTES // 100
    server = ScriptedServer([http_reply(200, bomb, {"Content-Encoding": "gzip"})])
    assert "larger than 8 MiB (after decoding)" in fails(kind, server.url)
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("size", [300, 70 * 1024])
def test_an_answer_is_read_whole_whether_small_or_past_a_read_chunk(kind, size):
    # The aiohttp transport reads an answer of known length up to 64 KiB at once,
    # a longer one in chunks: both must come whole.
    padded = json.dumps({**json.loads(JOB_BODY), "note": "x" * size}).encode()
    server = ScriptedServer([http_reply(200, padded)])
    [answer] = fetch(kind, server.url)
    assert answer.body == padded
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("sent, read", [(b"caf\xc3\xa9", "caf\u00e9"), (b"caf\xe9", "caf\u00e9"), (b"cafe", "cafe")])
def test_every_client_reads_an_answers_headers_alike(kind, sent, read):
    # The aiohttp transport hands a small plain answer over without httpx's
    # Response: its headers must still read as httpx reads them (UTF-8, else
    # Latin-1; names in lower case; a repeated header joined).
    reply = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Note: %s\r\nX-Twice: a\r\nx-twice: b\r\n\r\n"
             % (len(JOB_BODY), sent)) + JOB_BODY
    server = ScriptedServer([reply])
    [answer] = fetch(kind, server.url)
    assert answer.body == JOB_BODY and answer.status_code == 200
    assert answer.headers["x-note"] == read and answer.headers["x-twice"] == "a, b"
    assert answer.url == server.url.rstrip("/") + "/v1/jobs/job_abc123def456"
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_an_answer_larger_than_the_cap_is_refused_without_compression_too(kind):
    from jobpoll import http

    server = ScriptedServer([http_reply(200, b" " * (http.MAX_BODY_BYTES + 1))])
    assert "larger than 8 MiB" in fails(kind, server.url)
    server.close()


# ---- hostile framing ----------------------------------------------------------------

BAD_FRAMING = {
    "negative Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n" + b"x" * 5000,
    "negative chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n" + b"x" * 5000,
    "two different lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg",
    "body shorter than its length": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
}


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("case", BAD_FRAMING)
def test_hostile_framing_is_an_error_not_a_read_to_the_end(kind, case):
    server = ScriptedServer([BAD_FRAMING[case]], close_after_each=True)
    started = time.monotonic()
    line = fails(kind, server.url)
    assert time.monotonic() - started < 5
    assert "cannot reach muvi" in line and TEST_KEY not in line
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_bytes_after_a_content_length_body_are_not_the_next_answer(kind):
    """A server that appends a second answer after the first one's body: the next
    request must not take it for its own (the connection is dropped, not reused)."""
    smuggled = json.dumps({**MUVI_JOB, "id": "job_smuggled0000", "status": "failed"}).encode()
    first = http_reply(200, JOB_BODY) + http_reply(200, smuggled)
    server = ScriptedServer([first, http_reply(200, JOB_BODY)])
    answers = fetch(kind, server.url, times=2)
    assert [json.loads(a.body)["id"] for a in answers] == ["job_abc123def456"] * 2
    assert len(server.requests) == 2
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_each_request_carries_its_own_endpoints_key_on_a_shared_url(kind):
    """Two keys for one provider and one URL, interleaved: the large watch reuses
    what it built for a URL, and must never send one key's request with the other."""
    from jobpoll import http

    server = ScriptedServer([http_reply(200, JOB_BODY)])
    keys = ["sk-first-0000", "sk-second-1111"] * 3
    endpoints = {key: endpoint_for(server.url, key) for key in keys}
    request = endpoints[keys[0]].provider.status_request("job_abc123def456")

    async def go():
        client = http.AsyncHttp(aiohttp=kind == "aiohttp")
        try:
            for key in keys:
                await client.get(endpoints[key], request)
        finally:
            await client.aclose()

    if kind == "sync":
        with http.SyncHttp() as client:
            for key in keys:
                client.get(endpoints[key], request)
    else:
        asyncio.run(go())
    sent = [re.search(rb"(?i)authorization: bearer (\S+)", r).group(1).decode() for r in server.requests]
    assert sent == keys
    server.close()


def test_the_aiohttp_transport_sends_a_streamed_body_framed_once():
    """jobpoll's aiohttp transport is a whole httpx transport: a body httpx streams
    (jobpoll sends none today) goes out chunked by aiohttp, with one
    Transfer-Encoding, and arrives whole."""
    import httpx
    from aiohttp import web

    from jobpoll.http import client_settings

    async def echo(request):
        body = await request.read()
        return web.json_response({"length": len(body), "framing": request.headers.getall("Transfer-Encoding", [])})

    async def parts():
        for part in (b"one,", b"two,", b"three"):
            yield part

    async def go():
        app = web.Application()
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient(**client_settings(asynchronous=True, aiohttp=True)) as client:
                response = await client.post(f"http://127.0.0.1:{port}/echo", content=parts())
                return response.status_code, response.json()
        finally:
            await runner.cleanup()

    assert asyncio.run(go()) == (200, {"length": 13, "framing": ["chunked"]})


# ---- deadlines ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_drip_fed_body_ends_at_the_total_deadline(kind, monkeypatch):
    from jobpoll import http

    monkeypatch.setattr(http, "TIMEOUT_TOTAL", 0.8)
    sock = drip_server()
    started = time.monotonic()
    line = fails(kind, f"http://127.0.0.1:{sock.getsockname()[1]}")
    assert time.monotonic() - started < 3
    assert re.search(r"timed out \(no complete answer after [0-2]\.\d s\)", line), line
    sock.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_drip_fed_proxy_connect_ends_at_the_total_deadline(kind, monkeypatch):
    """The proxy's CONNECT answer trickles in a byte at a time: the deadline covers
    it (and the TLS that would follow), not only the provider's answer."""
    from jobpoll import http

    monkeypatch.setattr(http, "TIMEOUT_TOTAL", 0.8)
    proxy = Proxy(drip=True)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    started = time.monotonic()
    line = fails(kind, "https://api.muvi.example")
    assert time.monotonic() - started < 3
    assert "timed out" in line and "through the proxy" in line
    proxy.close()


# ---- the four errors, each client ------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_the_four_network_errors_are_told_apart(kind, monkeypatch, tmp_path):
    from jobpoll import http

    refused = fails(kind, f"http://127.0.0.1:{refused_port()}")
    assert "connection refused by 127.0.0.1" in refused and "time" not in refused
    unknown = fails(kind, "http://jobpoll-test.invalid")
    assert "could not resolve the host name 'jobpoll-test.invalid'" in unknown and "time" not in unknown
    import trustme

    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    server = ScriptedServer([http_reply(200, JOB_BODY)], tls=context)
    untrusted = fails(kind, server.url)
    assert "certificate not trusted" in untrusted and "time" not in untrusted.replace("SSL_CERT", "")
    monkeypatch.setattr(http, "TIMEOUT_TOTAL", 0.5)
    silent = silent_server()
    late = fails(kind, f"http://127.0.0.1:{silent.getsockname()[1]}")
    assert "timed out" in late
    assert len({refused, unknown, untrusted, late}) == 4
    server.close()
    silent.close()


# ---- -v: what the provider sent, inert --------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_verbose_log_neutralises_provider_bytes(kind):
    """Body, headers and a redirect's Location pass through safe_text: no ESC, no
    8-bit CSI (U+009B), no carriage return reaches the terminal; keys redacted."""
    hostile = "\x1b]0;owned\x07\u009b2J\r"
    body = json.dumps({**MUVI_JOB, "message": hostile + TEST_KEY}, ensure_ascii=False).encode()
    # A header value may carry obs-text bytes (0x80-0xFF), read as Latin-1: 0x9B is U+009B.
    redirect = http_reply(302, b"", {"Location": "/v1/jobs/job_abc123def456?x=\u009b[2J"})
    server = ScriptedServer([redirect, http_reply(200, body, {"Content-Type": "application/json\u009b[2J",
                                                              "Retry-After": TEST_KEY})])
    log = io.StringIO()
    fetch(kind, server.url, log=log, verbose=True)
    text = log.getvalue()
    assert "< 200" in text and "redirected to" in text
    for bad in ("\x1b", "\u009b", "\x07", "\r", TEST_KEY):
        assert bad not in text, (bad, text)
    server.close()


# ---- through the CLI ---------------------------------------------------------------------

SHORT_DEADLINE = """
    import jobpoll.http
    jobpoll.http.TIMEOUT_TOTAL = 0.8
"""


def _patched(patch: str, args: list[str], env: dict):
    import subprocess
    import sys
    import textwrap

    script = "import sys\n" + textwrap.dedent(patch) + "\nfrom jobpoll.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize("command", ["status", "watch"])
def test_status_and_watch_say_timed_out_at_the_deadline(tmp_path, command):
    silent = silent_server()
    drip = drip_server()
    for sock in (silent, drip):
        env = clean_env(tmp_path)
        env.update(JOBPOLL_MUVI_BASE_URL=f"http://127.0.0.1:{sock.getsockname()[1]}",
                   JOBPOLL_MUVI_API_KEY=TEST_KEY)
        args = ["status"] if command == "status" else ["watch", "-i", "0.2", "--retries", "0"]
        started = time.monotonic()
        result = _patched(SHORT_DEADLINE, [*args, "muvi:job_abc123def456"], env)
        assert time.monotonic() - started < 15
        assert result.returncode == 6, result.stderr
        assert re.search(r"timed out \(no complete answer after \d\.\d s\)", result.stderr), result.stderr
        assert_clean(result)
    silent.close()
    drip.close()


SLOW_RESOLVER = SHORT_DEADLINE + """
    import socket, time
    _real = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        if host == "dns-hangs.example":  # a resolver that does not answer
            time.sleep(30)
        if host == "dns-answers.example":  # one that does: two addresses, the first refusing
            return _real("127.0.0.2", *args, **kwargs)[:1] + _real("127.0.0.1", *args, **kwargs)
        return _real(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
"""


@pytest.mark.parametrize("command", ["status", "watch"])
def test_a_resolver_that_does_not_answer_ends_at_the_deadline(tmp_path, command):
    """Name resolution is inside the total deadline too: a broken resolver with its
    retries and search domains can take minutes."""
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_BASE_URL="http://dns-hangs.example:9", JOBPOLL_MUVI_API_KEY=TEST_KEY)
    args = ["status"] if command == "status" else ["watch", "-i", "0.2", "--retries", "0"]
    started = time.monotonic()
    result = _patched(SLOW_RESOLVER, [*args, "muvi:job_abc123def456"], env)
    assert time.monotonic() - started < 15
    assert result.returncode == 6, result.stderr
    assert "timed out" in result.stderr and "dns-hangs.example" in result.stderr, result.stderr
    assert_clean(result)


def test_a_name_with_several_addresses_is_tried_address_by_address(tmp_path):
    """Resolved within the deadline, each address is tried in turn, as before: the
    first refuses, the second answers."""
    server = ScriptedServer([http_reply(200, JOB_BODY)])
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_BASE_URL=f"http://dns-answers.example:{server.port}", JOBPOLL_MUVI_API_KEY=TEST_KEY)
    result = _patched(SLOW_RESOLVER, ["status", "--json", "muvi:job_abc123def456"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "done"
    server.close()


def test_status_ends_at_the_deadline_behind_a_dripping_proxy(tmp_path):
    proxy = Proxy(drip=True)
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_API_KEY=TEST_KEY, HTTPS_PROXY=proxy.url())  # the default https base URL
    started = time.monotonic()
    result = _patched(SHORT_DEADLINE, ["status", "muvi:job_abc123def456"], env)
    assert time.monotonic() - started < 10
    assert result.returncode == 6 and "timed out" in result.stderr, result.stderr
    proxy.close()


@pytest.mark.parametrize("command", ["status", "watch"])
def test_a_short_key_echoed_back_is_never_shown(tmp_path, command):
    """A 7-character key quoted back in the answer: not in --raw, the table, -v or
    the history (keys under 8 characters used to be let through)."""
    key = "k3y-abc"
    body = json.dumps({**MUVI_JOB, "message": f"hello {key}", "echo": {"key": key}}).encode()
    server = ScriptedServer([http_reply(200, body, {"X-Echo": key})])
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_BASE_URL=server.url, JOBPOLL_MUVI_API_KEY=key)
    args = ["status", "--raw"] if command == "status" else ["watch", "--json", "-i", "0.2"]
    result = run_cli("-v", *args, "muvi:job_abc123def456", env=env)
    assert result.returncode == 0, result.stderr
    assert "***" in result.stdout + result.stderr
    assert_clean(result, key)
    from pathlib import Path

    stored = b"".join(p.read_bytes() for p in Path(env["JOBPOLL_HISTORY"]).parent.glob("history*"))
    assert b"job_abc123def456" in stored and key.encode() not in stored
    server.close()


# ---- every client sees the same network ---------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An https server with a certificate from a throwaway CA, and that CA's file."""
    import ssl

    import trustme

    ca = trustme.CA()
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ScriptedServer([http_reply(200, JOB_BODY)], tls=context)
    yield server, pem
    server.close()


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("via", ["http proxy with credentials", "socks5"])
def test_every_client_honours_proxies_and_the_trust_store(kind, via, tls_server, monkeypatch):
    from nettools import Socks5Proxy

    server, pem = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    if via == "socks5":
        proxy = Socks5Proxy()
        monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{proxy.port}")
    else:
        proxy = Proxy("u", "p@ss")
        monkeypatch.setenv("HTTPS_PROXY", proxy.url("u:p%40ss"))
    [answer] = fetch(kind, server.url)
    assert json.loads(answer.body)["id"] == "job_abc123def456"
    if via == "socks5":
        assert proxy.targets == [("127.0.0.1", server.port)]
    else:
        assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{server.port} ".encode())
        assert b"Proxy-Authorization: Basic dTpwQHNz" in proxy.heads[0]  # u:p@ss
    assert TEST_KEY.encode() not in proxy.raw
    proxy.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_every_client_goes_through_the_proxy_unless_no_proxy_names_the_host(kind, monkeypatch):
    """HTTP_PROXY takes plain http through the proxy; NO_PROXY (either case) sends
    it straight: the mount each request takes is httpx's choice, for every client."""
    proxy = Proxy()
    server = ScriptedServer([http_reply(200, JOB_BODY)] * 2)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    [answer] = fetch(kind, server.url)
    assert json.loads(answer.body)["id"] == "job_abc123def456"
    assert len(proxy.heads) == 1 and proxy.heads[0].startswith(f"GET {server.url}".encode())
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    [answer] = fetch(kind, server.url)
    assert json.loads(answer.body)["id"] == "job_abc123def456"
    assert len(proxy.heads) == 1  # the second request went straight to the server
    proxy.close()
    server.close()


def test_aiohttp_loads_its_unused_default_contexts_empty_and_leaves_ssl_as_it_was(tls_server, tmp_path):
    """jobpoll skips the CA bundle aiohttp loads at import for default contexts it
    never uses: those trust nothing (never something else), and every other SSL
    context made afterwards, ours included, loads its trust as before."""
    import subprocess
    import sys

    _, pem = tls_server
    probe = (
        "import ssl\n"
        "from jobpoll import http\n"
        "http._aiohttp_transport_class()\n"
        "import aiohttp.connector as c\n"
        "print(c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'],\n"
        "      'set_default_verify_paths' in ssl.SSLContext.__dict__,\n"
        "      ssl.create_default_context().cert_store_stats()['x509_ca'])\n"
    )
    env = clean_env(tmp_path)
    env["SSL_CERT_FILE"] = str(pem)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "False", "1"]  # the throwaway CA, from SSL_CERT_FILE


def test_the_download_client_sees_the_same_network(tls_server, monkeypatch):
    """Downloads (engine/download.open_client) are built from http.client_settings:
    the same proxy (with its credentials) and the same trust store."""
    from jobpoll.engine.download import open_client

    server, pem = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    proxy = Proxy("u", "pw")
    monkeypatch.setenv("HTTPS_PROXY", proxy.url("u:pw"))

    async def go():
        async with open_client() as client:
            response = await client.get(server.url + "/outputs/v.mp4")
            return response.status_code, "authorization" in response.request.headers

    assert asyncio.run(go()) == (200, False)
    assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{server.port} ".encode())
    assert b"Proxy-Authorization: Basic " in proxy.heads[0]
    proxy.close()


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_server_that_hangs_up_is_not_called_a_timeout(kind):
    """A server closing the connection without an answer is not a timeout (the
    aiohttp adapter jobpoll used before called every connection error one)."""
    server = ScriptedServer([b""], close_after_each=True)
    line = fails(kind, server.url)
    assert "cannot reach muvi" in line and "time" not in line.lower(), line
    server.close()
