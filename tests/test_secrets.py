"""Keys stay secret (issue 6; SPEC "Safety"): never in stdout, stderr, `-v`, `--raw`,
error messages, the history file or a JOBPOLL_DEBUG traceback, even when a
provider echoes the key back; never sent to another origin on a redirect, for
each of the four auth header styles, by `status` and by `watch`; the config file
and its directory private from the moment they exist.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import FAST, PYTHON_PROVIDERS, TEST_KEY, run_cli

PROVIDERS = PYTHON_PROVIDERS  # the five defined as data: tests/test_cli_defined.py
# How each provider's key travels (the simulator logs headers verbatim).
AUTH_HEADER = {"json2video": "x-api-key", "pictory": "authorization",
               "muvi": "authorization", "reelbot": "x-api-key"}


def leaks(text: str | bytes, key: str = TEST_KEY) -> bool:
    if isinstance(text, bytes):
        return key.encode() in text
    return key in text


def history_bytes(env) -> bytes:
    path = Path(env["JOBPOLL_HISTORY"])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def echoing_jobs(sim) -> list[str]:
    """Jobs whose answers carry the key back, as a careless API might: in a
    message, an error, a payload field."""
    said = f"request from key {TEST_KEY} accepted"
    refs = [f"json2video:{sim.add_job('json2video', queued=0, running=600, message=said, client_data={'token': TEST_KEY})}"]
    for provider in PROVIDERS:
        job_id = sim.add_job(provider, queued=0, running=0, outcome="failed",
                             error_message=f"the key {TEST_KEY} may not render this")
        refs.append(f"{provider}:{job_id}")
    return refs


# Error answers (200 with an error body) that quote the key: they become error lines.
ECHOING_ERRORS = {
    "json2video": {"success": False, "message": f"Invalid API key {TEST_KEY}"},
    "pictory": {"success": False, "data": None, "message": f"Key {TEST_KEY} is not allowed"},
    "muvi": {"success": False, "error": {"code": "WEIRD", "message": f"key {TEST_KEY} refused"}},
    "reelbot": {"success": False, "code": "WEIRD", "message": f"key {TEST_KEY} refused"},
}


def echoing_error_jobs(sim) -> list[str]:
    refs = []
    for provider, body in ECHOING_ERRORS.items():
        job_id = sim.add_job(provider, queued=0, running=0, faults=[
            {"kind": "invalid_json", "body": json.dumps(body), "times": -1}])
        refs.append(f"{provider}:{job_id}")
    return refs


# ---- output, errors, -v, --raw, history ---------------------------------------------------


@pytest.mark.parametrize("args", [
    (), ("--json",), ("--raw",), ("--field", "message"), ("--field", "error"), ("-v",),
], ids=lambda a: " ".join(a) or "plain")
def test_status_never_shows_a_key_a_provider_echoes(sim, env, args):
    refs = echoing_jobs(sim)
    pre = ("-v", "status") if args == ("-v",) else ("status", *args)
    result = run_cli(*pre, *refs, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not leaks(result.stdout) and not leaks(result.stderr)
    assert result.stdout.count("***") >= (1 if "--field" in args else len(refs))  # said, redacted
    assert not leaks(history_bytes(env))


def test_error_lines_never_show_a_key_a_provider_echoes(sim, env):
    refs = echoing_error_jobs(sim)
    for pre in (("status",), ("-v", "status")):
        result = run_cli(*pre, *refs, env=env)
        # json2video's "Invalid API key ..." is an auth error (3), before the others' 6.
        assert result.returncode == 3, result.stderr
        errors = [l for l in result.stderr.splitlines() if l.startswith("jobpoll: error:")]
        assert len(errors) == len(refs) and all("***" in l for l in errors), result.stderr
        assert not leaks(result.stdout + result.stderr)
    result = run_cli("watch", "--json", *FAST, "--retries", "1", *refs, env=env)
    assert result.returncode == 3, result.stderr
    assert not leaks(result.stdout + result.stderr) and "***" in result.stderr


def test_watch_and_list_never_show_a_key_a_provider_echoes(sim, env):
    refs = echoing_jobs(sim)
    refs[0] = f"json2video:{sim.add_job('json2video', queued=0.2, running=0.5, message=f'key {TEST_KEY}')}"
    for args in (("--json",), ()):
        result = run_cli("-v", "watch", *args, *FAST, *refs, env=env)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert not leaks(result.stdout + result.stderr)
    for provider in PROVIDERS:
        listed = run_cli("list", "--json", "-p", provider, env=env)
        assert listed.returncode == 0, listed.stderr
        assert not leaks(listed.stdout + listed.stderr)
    assert not leaks(history_bytes(env))


# ---- tracebacks and unexpected errors ------------------------------------------------------


def run_patched(patch: str, args: list[str], env: dict, debug: bool) -> subprocess.CompletedProcess:
    """jobpoll in a subprocess with `patch` applied first (monkeypatching cannot reach
    a subprocess), so an unexpected error path can be forced."""
    script = textwrap.dedent(patch) + "\nfrom jobpoll.cli import main\nmain(sys.argv[1:])\n"
    env = dict(env)
    env.pop("JOBPOLL_DEBUG", None)
    if debug:
        env["JOBPOLL_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-c", "import sys\n" + script, *args], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


PARSER_FALLS_OVER = """
    from jobpoll.providers.pictory import Pictory
    def parse_status(self, job_id, answer, now):
        raise RuntimeError(f"the parser fell over on {answer.body[:400]!r}")
    Pictory.parse_status = parse_status
"""
VIEW_FALLS_OVER = """
    import jobpoll.watch_render as view
    def update(self, update):
        if update.job is not None and update.job.error is not None:
            raise RuntimeError(f"cannot show {update.job.error.message!r}")
    view._Sink.update = update
"""


@pytest.mark.parametrize("debug", [True, False], ids=["JOBPOLL_DEBUG=1", "no-debug"])
def test_an_unexpected_error_quoting_an_echoed_answer_shows_no_key(sim, env, debug):
    failed = sim.add_job("pictory", queued=0, running=0, outcome="failed",
                         error_message=f"the key {TEST_KEY} may not render this")
    result = run_patched(PARSER_FALLS_OVER, ["status", f"pictory:{failed}"], env, debug)
    assert result.returncode == 1
    assert ("Traceback" in result.stderr) is debug, result.stderr
    assert "the parser fell over" in result.stderr and "***" in result.stderr
    assert not leaks(result.stdout + result.stderr)

    result = run_patched(VIEW_FALLS_OVER, ["watch", "--json", *FAST, f"pictory:{failed}"], env, debug)
    assert result.returncode == 1
    assert ("Traceback" in result.stderr) is debug, result.stderr
    assert "cannot show" in result.stderr
    assert not leaks(result.stdout + result.stderr)


# A transport that quotes the request in its exception, as http.client ("Invalid
# header value %r") and h11 ("Illegal header value") do.
SYNC_TRANSPORT_QUOTES = """
    import httpx
    def stream(self, method, url, *, headers=None, **kw):
        raise ValueError("Invalid header value %r" % (headers,))
    httpx.Client.stream = stream
"""
ASYNC_TRANSPORT_QUOTES = """
    import jobpoll.aiohttp_transport
    import jobpoll.http
    async def response(self, request):  # where both of its ways to answer ask aiohttp
        raise ValueError(f"Illegal header value {dict(request.headers)!r}")
    jobpoll.aiohttp_transport.AiohttpTransport._response = response
"""


def test_a_transport_error_quoting_the_request_shows_no_key(sim, env):
    """Every auth header style, every client (status and a small watch: httpx.Client;
    a large watch: httpx.AsyncClient's aiohttp transport), under JOBPOLL_DEBUG=1: a network error (exit
    6, one line), no traceback, no key."""
    refs = [f"{p}:{sim.add_job(p, queued=0, running=0)}" for p in PROVIDERS]
    for patch, args in ((SYNC_TRANSPORT_QUOTES, ["status", *refs]),
                        (SYNC_TRANSPORT_QUOTES, ["watch", *FAST, "--retries", "0", *refs]),
                        (ASYNC_TRANSPORT_QUOTES + "    jobpoll.http.AIOHTTP_FROM_JOBS = 1\n",
                         ["watch", *FAST, "--retries", "0", *refs])):
        result = run_patched(patch, args, env, debug=True)
        assert result.returncode == 6, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == len(refs), result.stderr
        assert all("Invalid header value" in l or "Illegal header value" in l for l in lines)
        assert "Traceback" not in result.stderr  # a network error, not a crash
        assert not leaks(result.stdout + result.stderr), result.stderr


@pytest.mark.parametrize("bad", ["sk-one\nX-Injected: 1", "sk-two\rthree", "sk-pasted\u2026abc",
                                 "sk-esc\x1b[2Jx"], ids=["LF", "CR", "non-ASCII", "ESC"])
def test_a_key_that_cannot_go_in_a_header_is_refused_before_any_request(sim, env, bad):
    """A key holding a line break would split the request's header (a header
    injection); one holding non-ASCII (a pasted "…") cannot be sent at all. Either
    is refused by name, before anything is sent, without printing the key."""
    ref = f"muvi:{sim.add_job('muvi', queued=0, running=0)}"
    env["JOBPOLL_MUVI_API_KEY"] = bad
    before = len(sim.requests(path="/v1/jobs"))
    for args in (("status", ref), ("watch", *FAST, ref)):
        result = run_cli(*args, env=env)
        assert result.returncode == 2, result.stderr
        assert "JOBPOLL_MUVI_API_KEY" in result.stderr and "Traceback" not in result.stderr
        assert bad.split("\n")[0].split("\r")[0] not in result.stderr
    assert len(sim.requests(path="/v1/jobs")) == before

    del env["JOBPOLL_MUVI_API_KEY"]
    config = Path(env["JOBPOLL_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[providers.muvi]\napi_key = {json.dumps(bad)}\n")
    config.chmod(0o600)
    result = run_cli("status", ref, env=env)
    assert result.returncode == 2 and str(config) in result.stderr, result.stderr
    assert "providers.muvi.api_key" in result.stderr
    assert len(sim.requests(path="/v1/jobs")) == before
    refused = run_cli("config", "set-key", "muvi", "--value", bad, env=env)
    assert refused.returncode == 2, refused.stderr


# ---- redirects to another origin --------------------------------------------------------------


def _key_went_abroad(sim, since: float) -> list[dict]:
    return [r for r in sim.requests(origin="foreign", since=since)
            if TEST_KEY in json.dumps(r["headers"]) or any(
                name in r["headers"] for name in ("x-api-key", "authorization"))]


def test_a_redirect_abroad_never_takes_the_key_in_status_or_watch(sim, env):
    """Each auth header style (x-api-key, raw Authorization, Bearer, X-API-Key): a
    302 or a 307 to another origin. Once, the lookup is tried again at home; always,
    the job is given up with a line saying why. The foreign origin never sees a key
    (nor any auth header); the home origin always got it. One job per provider in a
    watch, so each is looked up alone (a list page would not meet the fault)."""
    import time

    since = time.time()
    for command in ("status", "watch"):
        once = {p: sim.add_job(p, queued=0, running=0, faults=[{"kind": "redirect", "times": 1}])
                for p in PROVIDERS}
        always = {p: sim.add_job(p, queued=0, running=0,
                                 faults=[{"kind": "redirect", "status": 307, "times": -1}])
                  for p in PROVIDERS}
        extra = (*FAST, "--retries", "1") if command == "watch" else ()
        result = run_cli(command, "--json", *extra, *(f"{p}:{i}" for p, i in once.items()), env=env)
        assert result.returncode == 0, result.stderr
        assert {j["state"] for j in map(json.loads, result.stdout.splitlines())} == {"done"}
        result = run_cli(command, "--json", *extra, *(f"{p}:{i}" for p, i in always.items()), env=env)
        assert result.returncode == 6, result.stderr
        assert result.stdout == ""
        for provider, job_id in always.items():
            assert f"{provider}:{job_id}" in result.stderr
        assert result.stderr.count("another origin") == len(PROVIDERS), result.stderr
        assert not leaks(result.stdout + result.stderr)
        for provider, job_id in {**once}.items():
            home = [r for r in sim.requests(origin="main", since=since) if job_id in json.dumps(r)]
            assert home and all(TEST_KEY in r["headers"].get(AUTH_HEADER[provider], "")
                                for r in home), provider
    assert not _key_went_abroad(sim, since)


# ---- a private config from the first byte ------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_set_key_under_umask_0_creates_a_private_directory_and_file(env, tmp_path):
    # The default config directory (only that one is created when missing).
    config = tmp_path / "fresh" / "jobpoll" / "config.toml"
    del env["JOBPOLL_CONFIG"]
    env["XDG_CONFIG_HOME"] = str(tmp_path / "fresh")
    result = subprocess.run(
        [sys.executable, "-m", "jobpoll", "config", "set-key", "muvi"], env=env,
        input=TEST_KEY + "\n", capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: os.umask(0),
    )
    assert result.returncode == 0, result.stderr
    assert not leaks(result.stdout + result.stderr)
    assert _mode(config.parent) == 0o700
    assert _mode(config) == 0o600
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]
    assert tomllib.loads(config.read_text())["providers"]["muvi"]["api_key"] == TEST_KEY


def test_config_and_history_files_are_created_private_never_widened_later(tmp_path, monkeypatch):
    """Every file and directory jobpoll creates for the config and the history is
    created with owner-only bits (recorded at the os.open/os.mkdir call, umask 0),
    so there is no moment at which another user could open it."""
    from jobpoll import config as cfg
    from jobpoll.history import open_history
    from jobpoll.model import Job, State

    created: list[tuple[str, str, int]] = []
    real_open, real_mkdir = os.open, os.mkdir

    def spy_open(path, flags, mode=0o777, *args, **kwargs):
        fresh = flags & os.O_CREAT and not os.path.exists(path)
        fd = real_open(path, flags, mode, *args, **kwargs)
        if fresh:
            created.append(("file", str(path), mode))
        return fd

    def spy_mkdir(path, mode=0o777, *args, **kwargs):
        real_mkdir(path, mode, *args, **kwargs)
        created.append(("dir", str(path), mode))

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "mkdir", spy_mkdir)
    old = os.umask(0)
    try:
        config = tmp_path / "c" / "jobpoll" / "config.toml"
        monkeypatch.delenv("JOBPOLL_CONFIG", raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))  # the default directory
        cfg.edit_config(None, lambda c: c.set_value("muvi", "api_key", TEST_KEY) or True)
        history = open_history(lambda message: None, tmp_path / "h" / "jobpoll" / "history.sqlite3")
        assert history is not None
        history.record([Job("muvi", "job_000000000001", State.DONE, "completed", checked_at="2026-01-01T00:00:00.000Z")])
        history.close()
    finally:
        os.umask(old)

    mine = [(kind, p, m) for kind, p, m in created if "/jobpoll" in p]
    assert {Path(p).name for _, p, _ in mine} >= {"jobpoll", "history.sqlite3"}
    for kind, path, mode in mine:
        if kind == "dir":
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode & 0o077 == 0, (path, oct(mode))
    # SQLite opens its -wal and -shm files itself, with the database file's mode.
    stored = list((tmp_path / "h" / "jobpoll").glob("history.sqlite3*"))
    for path in (config, config.parent, *stored):
        assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))
    assert _mode(config) == 0o600


def test_a_key_of_any_length_is_scrubbed_from_answers():
    """However short the key (`k3y-abc`, 7 characters), an answer echoing it has it
    replaced everywhere: header, body (verbatim or JSON-escaped) and URL. (Keys
    under 8 characters used to pass through into --raw and the history.)"""
    from jobpoll.http import without_key
    from jobpoll.providers.base import Answer

    for key in ("k3y-abc", TEST_KEY):
        body = b'{"message":"invalid key KEY","url":"https://k.example/k.mp4"}'.replace(b"KEY", key.encode())
        echoed = Answer(401, {"x-echo": key}, body, f"http://h/?k={key}")
        scrubbed = without_key(echoed, key)
        assert key.encode() not in scrubbed.body and scrubbed.headers["x-echo"] == "***"
        assert key not in scrubbed.url
        assert json.loads(scrubbed.body)["url"] == "https://k.example/k.mp4"
