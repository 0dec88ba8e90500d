"""A provider a user defines as data: a made-up render API ("clipforge", served by a
tiny local server here) polled through a definition file in the test's config
directory, with no code change: status, watch, list, keys, `providers`,
`providers check`, name clashes, JOBPOLL_PROVIDERS_PATH, and a Python plugin."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import FAST, TEST_KEY, assert_clean, clean_env, run_cli

CLIP_A, CLIP_B, CLIP_C = "a1b2c3d4e5f6", "bbbbbbbbbbbb", "cccccccccccc"

DEFINITION = """\
# A made-up API: Basic auth, the ID in a query parameter, a follow-up request for
# the download, an acceptor for its 200-with-an-error "not found", cursor paging.
base_url = "{base}"
auth = {{ basic = true, format = "api:{{key}}" }}
headers = {{ "X-Clip-Client" = "jobpoll-tests" }}
id = {{ pattern = "[a-z0-9]{{12}}", shape = "clip ID (12 lower-case letters and digits)" }}
interval = "2s"
rate_limit = {{ requests = 30, per = "10s" }}

[status]
path = "/v3/clips"
params = {{ clip = "{{id}}" }}
state = "clip.phase"
progress = {{ expr = "clip.pct", scale = 100 }}
message = "clip.note"
url = "clip.files[?kind=='mp4'].href | [0]"
outputs = [{{ type = "subtitles", expr = "clip.files[?kind=='srt'].href" }}]
error = {{ code = "clip.failure.code", message = "clip.failure.reason" }}
created_at = "clip.created"
ended_at = "clip.finished"
answer_error = "problem"

[[status.acceptors]]
path = "error.code"
expected = "NO_SUCH_CLIP"
state = "not_found"

[status.states]
queued = ["waiting"]
running = ["encoding", "uploading"]
done = ["ready"]
failed = ["broken"]
cancelled = ["aborted"]

[result]
path = "/v3/clips/{{id}}/download"
url = "download.href"

[list]
path = "/v3/clips/all"
params = {{ per_page = "{{limit}}" }}
items = "clips"
id = "clip.id"
cursor = {{ next = "page.next", param = "after" }}
"""


class ClipForge:
    """The made-up API's state: each clip steps through its snapshots, one per lookup."""

    def __init__(self) -> None:
        self.clips: dict[str, list[dict]] = {}
        self.seen: dict[str, int] = {}
        self.requests: list[tuple[str, dict, dict]] = []  # (path, query, headers)
        self.lock = threading.Lock()

    def add(self, clip_id: str, *snapshots: dict) -> None:
        self.clips[clip_id] = [dict(id=clip_id, created="2026-11-30T10:00:00Z", **s) for s in snapshots]
        self.seen[clip_id] = 0

    def answer(self, path: str, query: dict, headers: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append((path, query, headers))
            expected = "Basic " + base64.b64encode(f"api:{TEST_KEY}".encode()).decode()
            if headers.get("authorization") != expected:
                return 401, {"problem": "bad credentials"}
            if path == "/v3/clips":
                steps = self.clips.get(query.get("clip", ""))
                if steps is None:
                    return 200, {"error": {"code": "NO_SUCH_CLIP"}}
                n = self.seen[query["clip"]]
                self.seen[query["clip"]] = n + 1
                return 200, {"clip": steps[min(n, len(steps) - 1)]}
            if path.startswith("/v3/clips/") and path.endswith("/download"):
                clip_id = path.split("/")[3]
                return 200, {"download": {"href": f"https://files.clipforge.example/{clip_id}/final.mp4?sig=1"}}
            if path == "/v3/clips/all":
                ids = sorted(self.clips)
                start = ids.index(query["after"]) + 1 if query.get("after") else 0
                page = ids[start:start + 2]  # two a page, whatever per_page says
                more = start + 2 < len(ids)
                return 200, {"clips": [{"clip": self.clips[i][-1]} for i in page],
                             "page": {"next": page[-1] if more else None}}
            return 404, {"problem": "no such endpoint"}


@pytest.fixture(scope="module")
def server():
    forge = ClipForge()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server spelling
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, body = forge.answer(url.path, query, {k.lower(): v for k, v in self.headers.items()})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    forge.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield forge
    httpd.shutdown()


@pytest.fixture
def forge(server):
    server.clips.clear()
    server.seen.clear()
    server.requests.clear()
    return server


@pytest.fixture
def uenv(tmp_path, forge):
    """A config directory holding providers/clipforge.toml; the key set in the environment."""
    env = clean_env(tmp_path)
    folder = Path(env["JOBPOLL_CONFIG"]).parent / "providers"
    folder.mkdir(parents=True)
    (folder / "clipforge.toml").write_text(DEFINITION.format(base=forge.base))
    env["JOBPOLL_CLIPFORGE_API_KEY"] = TEST_KEY
    return env


def definition_path(env) -> Path:
    return Path(env["JOBPOLL_CONFIG"]).parent / "providers" / "clipforge.toml"


def encoding(pct, note="encoding"):
    return {"phase": "encoding", "pct": pct, "note": note, "files": []}


READY = {"phase": "ready", "pct": 1, "finished": "2026-11-30T10:05:00Z",
         "files": [{"kind": "mp4", "href": "https://files.clipforge.example/preview.mp4"},
                   {"kind": "srt", "href": "https://files.clipforge.example/subs.srt"}]}


def test_status_reads_the_answer_through_the_definition(forge, uenv):
    forge.add(CLIP_A, encoding(0.5, "encoding scene 3 of 6"))
    result = run_cli("status", "--json", f"clipforge:{CLIP_A}", env=uenv)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    job = json.loads(result.stdout)
    assert (job["provider"], job["id"], job["state"], job["status"]) == ("clipforge", CLIP_A, "running", "encoding")
    assert (job["progress"], job["message"], job["created_at"]) == (50.0, "encoding scene 3 of 6",
                                                                    "2026-11-30T10:00:00.000Z")
    ((path, query, headers),) = forge.requests
    assert (path, query) == ("/v3/clips", {"clip": CLIP_A})  # the ID as a query parameter
    assert headers["x-clip-client"] == "jobpoll-tests"


def test_a_finished_job_gets_its_download_from_the_follow_up_request(forge, uenv):
    forge.add(CLIP_A, READY)
    job = json.loads(run_cli("status", "--json", f"clipforge:{CLIP_A}", env=uenv).stdout)
    assert job["state"] == "done" and job["progress"] == 100
    assert job["url"] == f"https://files.clipforge.example/{CLIP_A}/final.mp4?sig=1"
    assert {"type": "subtitles", "url": "https://files.clipforge.example/subs.srt"} in job["outputs"]
    assert job["ended_at"] == "2026-11-30T10:05:00.000Z"
    assert [r[0] for r in forge.requests] == ["/v3/clips", f"/v3/clips/{CLIP_A}/download"]


def test_watch_follows_the_job_to_the_end(forge, uenv):
    forge.add(CLIP_A, {"phase": "waiting"}, encoding(0.2), encoding(0.7), {"phase": "uploading"}, READY)
    result = run_cli("watch", "--json", *FAST, "-t", "60", f"clipforge:{CLIP_A}", env=uenv)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [j["status"] for j in lines] == ["waiting", "encoding", "encoding", "uploading", "ready"]
    assert [j["progress"] for j in lines][1:3] == [20.0, 70.0]
    assert lines[-1]["url"].endswith("/final.mp4?sig=1")


def test_failures_unmapped_words_and_the_acceptor_for_not_found(forge, uenv):
    forge.add(CLIP_A, {"phase": "broken", "failure": {"code": "E42", "reason": "codec missing"}})
    forge.add(CLIP_B, {"phase": "defrosting"})
    failed = run_cli("status", "--json", "--exit-status", f"clipforge:{CLIP_A}", f"clipforge:{CLIP_B}", env=uenv)
    assert failed.returncode == 1
    a, b = map(json.loads, failed.stdout.splitlines())
    assert a["error"] == {"code": "E42", "message": "codec missing"}
    assert (b["state"], b["status"]) == ("unknown", "defrosting")
    missing = run_cli("status", f"clipforge:{CLIP_C}", env=uenv)  # 200 {"error": {"code": "NO_SUCH_CLIP"}}
    assert missing.returncode == 4 and "clipforge does not know this job" in missing.stderr


def test_bad_key_and_bad_id(forge, uenv):
    uenv["JOBPOLL_CLIPFORGE_API_KEY"] = "wrong-key-123456"
    result = run_cli("status", f"clipforge:{CLIP_A}", env=uenv)
    assert result.returncode == 3
    assert "clipforge rejected the API key: bad credentials" in result.stderr
    assert "jobpoll config set-key clipforge" in result.stderr
    bad_id = run_cli("status", "clipforge:NOT-A-CLIP", env=uenv)
    assert bad_id.returncode == 2 and "clip ID (12 lower-case letters and digits)" in bad_id.stderr


def test_list_follows_the_cursor(forge, uenv):
    for clip in (CLIP_A, CLIP_B, CLIP_C):
        forge.add(clip, READY)
    result = run_cli("list", "-p", "clipforge", "--json", env=uenv)
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads(line)["id"] for line in result.stdout.splitlines()) == [CLIP_A, CLIP_B, CLIP_C]
    pages = [q for p, q, _ in forge.requests if p == "/v3/clips/all"]
    assert pages == [{"per_page": "100"}, {"per_page": "100", "after": CLIP_B}]


def test_keys_base_url_and_interval_work_as_for_built_ins(forge, uenv):
    del uenv["JOBPOLL_CLIPFORGE_API_KEY"]
    forge.add(CLIP_A, encoding(0.1))
    assert run_cli("config", "set-key", "clipforge", input=f"{TEST_KEY}\n", env=uenv).returncode == 0
    assert run_cli("config", "set", "clipforge.interval", "3s", env=uenv).returncode == 0
    assert run_cli("status", f"clipforge:{CLIP_A}", env=uenv).returncode == 0
    rows = [json.loads(line) for line in run_cli("providers", "--json", env=uenv).stdout.splitlines()]
    row = next(r for r in rows if r["name"] == "clipforge")
    assert row == {"name": "clipforge", "base_url": forge.base, "base_url_source": "default",
                   "key_set": True, "key_source": "file", "interval": 3.0,
                   "source": "file", "path": str(definition_path(uenv))}
    uenv["JOBPOLL_CLIPFORGE_BASE_URL"] = "http://127.0.0.1:9"
    unreachable = run_cli("status", f"clipforge:{CLIP_A}", env=uenv)
    assert unreachable.returncode == 6


def test_providers_table_names_the_file(forge, uenv):
    result = run_cli("providers", env=uenv)
    line = next(line for line in result.stdout.splitlines() if line.startswith("clipforge"))
    assert line.split("\t")[-2:] == ["file", str(definition_path(uenv))]


def test_definitions_path_from_the_environment(forge, tmp_path):
    env = clean_env(tmp_path)
    repo = tmp_path / "repo" / "jobpoll-providers"
    repo.mkdir(parents=True)
    (repo / "clipforge.toml").write_text(DEFINITION.format(base=forge.base))
    env.update(JOBPOLL_PROVIDERS_PATH=f"{tmp_path / 'nowhere'}:{repo}", JOBPOLL_CLIPFORGE_API_KEY=TEST_KEY)
    forge.add(CLIP_A, READY)
    assert run_cli("status", f"clipforge:{CLIP_A}", env=env).returncode == 0


@pytest.mark.parametrize("args", [("status", "json2video:JkGxEoPRF9EgRb32"), ("providers",), ("list",),
                                  ("config", "show")])
def test_a_definition_named_like_a_built_in_is_refused(uenv, args):
    clash = definition_path(uenv).with_name("muvi.toml")
    clash.write_text(definition_path(uenv).read_text())
    result = run_cli(*args, env=uenv)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"jobpoll: error: provider definition {clash} takes the name of the built-in provider 'muvi'; "
        "rename the file (its name is the provider's name)"]


def test_a_broken_definition_is_an_error_that_points_to_check(uenv):
    path = definition_path(uenv)
    path.write_text(path.read_text().replace('state = "clip.phase"', 'state = "clip..phase"'))
    result = run_cli("status", f"clipforge:{CLIP_A}", env=uenv)
    assert result.returncode == 2
    assert f"provider definition {path} is not valid: status.state: not a JMESPath expression" in result.stderr
    assert f"jobpoll providers check {path}" in result.stderr
    # `providers` still lists the others, and says what is wrong with this one.
    listing = run_cli("providers", "--json", env=uenv)
    assert listing.returncode == 2
    names = [json.loads(line)["name"] for line in listing.stdout.splitlines()]
    assert names[:2] == ["json2video", "pictory"] and "clipforge" in names


def test_check_reports_every_problem_naming_its_key(tmp_path):
    env = clean_env(tmp_path)
    bad = tmp_path / "render_api.toml"
    bad.write_text(
        'base_url = "ftp://renders.example"\n'
        'auth = { header = "Authorization", format = "Bearer" }\n'
        'interval = "-5s"\n'
        "[status]\n"
        'path = "v1/jobs/{job}"\n'
        'state = "job..state"\n'
        'progress = { expr = "pct", scale = 0 }\n'
        'outputs = [{ type = "movie", expr = "files" }]\n'
        "[status.states]\n"
        'running = ["busy"]\n'
        'finished = ["ok"]\n'
        "[[status.acceptors]]\n"
        'state = "gone"\n'
    )
    result = run_cli("providers", "check", str(bad), env=env)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"jobpoll: error: {bad}: ") for line in lines)
    keys = [line.removeprefix(f"jobpoll: error: {bad}: ").split(":")[0] for line in lines]
    assert keys == ["base_url", "auth.format", "interval", "status.path", "status.path", "status.path",
                    "status.state", "status.states.finished", "status.states.done",
                    "status.progress.scale", "status.outputs[0].type", "status.acceptors[0].state",
                    "status.acceptors[0]"]


def test_check_with_a_sample_prints_the_job_object(uenv, tmp_path):
    sample = tmp_path / "answer.json"
    sample.write_text(json.dumps({"clip": dict(READY, id=CLIP_A)}))
    result = run_cli("providers", "check", str(definition_path(uenv)), "--sample", str(sample),
                     "--id", CLIP_A, env=uenv)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert (job["provider"], job["id"], job["state"], job["url"]) == (
        "clipforge", CLIP_A, "done", "https://files.clipforge.example/preview.mp4")
    sample.write_text(json.dumps({"clip": {"phase": "thawing"}}))
    warned = run_cli("providers", "check", str(definition_path(uenv)), "--sample", str(sample),
                     "--id", CLIP_A, env=uenv)
    assert warned.returncode == 0 and json.loads(warned.stdout)["state"] == "unknown"
    assert "'thawing' is in no list of [status.states]" in warned.stderr


@pytest.mark.parametrize("name", ["shotstack", "creatomate", "replicate", "runway", "luma"])
def test_check_accepts_the_built_in_definitions(tmp_path, name):
    from jobpoll.providers import DEFINITIONS_DIR

    result = run_cli("providers", "check", str(DEFINITIONS_DIR / f"{name}.toml"), env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"a valid definition of the provider '{name}'" in result.stdout


# ---- plugins ---------------------------------------------------------------------


def test_the_built_ins_are_registered_as_entry_points_like_a_plugin():
    from importlib.metadata import entry_points

    from jobpoll.providers import BUILTIN_CODE, GROUP

    registered = {p.name: p.value for p in entry_points(group=GROUP)}
    assert {k: v for k, v in registered.items() if k in BUILTIN_CODE} == BUILTIN_CODE


def test_a_plugin_provider_registers_through_the_entry_point_group(sim, env, tmp_path):
    site = tmp_path / "site"
    (site / "echo_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "echo_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 1.0\n")
    (site / "echo_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[jobpoll.providers]\nechomuvi = echo_plugin:EchoMuvi\n")
    (site / "echo_plugin.py").write_text(
        "from jobpoll.providers.muvi import Muvi\n\n"
        "class EchoMuvi(Muvi):\n    name = 'echomuvi'\n")
    env.update(PYTHONPATH=str(site), JOBPOLL_ECHOMUVI_BASE_URL=sim.base_url, JOBPOLL_ECHOMUVI_API_KEY=TEST_KEY)
    job_id = sim.add_job("muvi", queued=0, running=0)
    result = run_cli("status", "--json", f"echomuvi:{job_id}", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == "echomuvi"
    rows = [json.loads(line) for line in run_cli("providers", "--json", env=env).stdout.splitlines()]
    assert {"name": "echomuvi", "source": "plugin"}.items() <= next(r for r in rows if r["name"] == "echomuvi").items()
