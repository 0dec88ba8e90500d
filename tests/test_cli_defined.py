"""The five providers built in as data (Shotstack, Creatomate, Replicate, Runway,
Luma), end to end: the real CLI over HTTP against the simulator, whose imitation
of them is written from their documentation, not from the definition files."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from conftest import DEFINED_PROVIDERS, FAST, TEST_KEY, assert_clean, run_cli

RUNNING = {"queued": 0, "running": 1000}  # with age = fraction * 1000: that far into running


def at(fraction: float, **variant):
    return dict(RUNNING, age=fraction * 1000, **variant)


QUEUED = {"queued": 600, "running": 10}
ENDED = {"queued": 0, "running": 0}

# (provider, simulator job, jobpoll state, the provider's word): every documented word.
WORDS = [
    ("shotstack", QUEUED, "queued", "queued"),
    ("shotstack", at(0.1), "running", "fetching"),
    ("shotstack", at(0.3), "running", "preprocessing"),
    ("shotstack", at(0.5), "running", "rendering"),
    ("shotstack", at(0.9), "running", "saving"),
    ("shotstack", ENDED, "done", "done"),
    ("shotstack", dict(ENDED, outcome="failed"), "failed", "failed"),
    ("creatomate", QUEUED, "queued", "planned"),
    ("creatomate", dict(QUEUED, waiting=True), "queued", "waiting"),
    ("creatomate", at(0.1, transcribe=True), "running", "transcribing"),
    ("creatomate", at(0.5), "running", "rendering"),
    ("creatomate", ENDED, "done", "succeeded"),
    ("creatomate", dict(ENDED, outcome="failed"), "failed", "failed"),
    ("replicate", QUEUED, "queued", "starting"),
    ("replicate", at(0.5), "running", "processing"),
    ("replicate", ENDED, "done", "succeeded"),
    ("replicate", dict(ENDED, outcome="failed"), "failed", "failed"),
    ("replicate", dict(ENDED, outcome="cancelled"), "cancelled", "canceled"),
    ("replicate", dict(ENDED, outcome="aborted"), "cancelled", "aborted"),
    ("runway", QUEUED, "queued", "PENDING"),
    ("runway", dict(QUEUED, throttled=True), "queued", "THROTTLED"),
    ("runway", at(0.5), "running", "RUNNING"),
    ("runway", ENDED, "done", "SUCCEEDED"),
    ("runway", dict(ENDED, outcome="failed"), "failed", "FAILED"),
    ("runway", dict(ENDED, outcome="cancelled"), "cancelled", "CANCELLED"),
    ("luma", QUEUED, "queued", "queued"),
    ("luma", at(0.5), "running", "dreaming"),
    ("luma", ENDED, "done", "completed"),
    ("luma", dict(ENDED, outcome="failed"), "failed", "failed"),
]


def jobs_of(result) -> dict[str, dict]:
    assert_clean(result)
    return {f"{j['provider']}:{j['id']}": j for j in map(json.loads, result.stdout.splitlines())}


def test_every_documented_status_word_maps_to_its_state(sim, env):
    refs = [f"{p}:{sim.add_job(p, **spec)}" for p, spec, _, _ in WORDS]
    result = run_cli("status", "--json", *refs, env=env)
    assert result.returncode == 0, result.stderr
    jobs = jobs_of(result)
    seen = [(ref.split(":")[0], jobs[ref]["state"], jobs[ref]["status"]) for ref in refs]
    assert seen == [(p, state, word) for p, _, state, word in WORDS]
    assert "unknown" not in result.stderr


def test_runway_progress_is_a_percentage_and_others_report_none(sim, env):
    runway = sim.add_job("runway", **at(0.42))
    luma = sim.add_job("luma", **at(0.42))
    jobs = jobs_of(run_cli("status", "--json", f"runway:{runway}", f"luma:{luma}", env=env))
    assert 41 <= jobs[f"runway:{runway}"]["progress"] <= 50  # Runway says 0.42.., jobpoll 42..
    assert jobs[f"luma:{luma}"]["progress"] is None


@pytest.mark.parametrize("provider, variant, types", [
    ("shotstack", {}, ["video", "image", "thumbnail"]),
    ("creatomate", {}, ["video", "thumbnail"]),
    ("replicate", {"output": "list"}, ["image", "image"]),
    ("replicate", {"output": "object"}, ["video", "audio"]),
    ("runway", {}, ["video"]),
    ("luma", {}, ["video"]),
    ("luma", {"image": True}, ["image"]),
])
def test_finished_jobs_carry_their_outputs(sim, env, provider, variant, types):
    ref = f"{provider}:{sim.add_job(provider, **ENDED, **variant)}"
    job = jobs_of(run_cli("status", "--json", ref, env=env))[ref]
    assert job["state"] == "done" and job["progress"] == 100
    assert [o["type"] for o in job["outputs"]] == types
    # The simulator serves outputs on its file origin (another port: another host).
    assert job["url"] == job["outputs"][0]["url"] and job["url"].startswith(sim.files_url)


@pytest.mark.parametrize("provider", ["shotstack", "replicate", "runway"])
def test_download_saves_a_finished_jobs_video_without_the_key(sim, env, tmp_path, provider):
    ref = f"{provider}:{sim.add_job(provider, **ENDED)}"
    result = run_cli("download", "-o", str(tmp_path / "out"), ref, env=env)
    assert result.returncode == 0, result.stderr
    (saved,) = result.stdout.splitlines()
    job = jobs_of(run_cli("status", "--json", ref, env=env))[ref]
    assert Path(saved).read_bytes() == sim.file_bytes(job["url"])
    fetched = [r for r in sim.requests(origin="files") if r["path"] in job["url"]]
    assert fetched and all(TEST_KEY not in json.dumps(r["headers"]) for r in fetched)


def test_replicate_output_removed_after_an_hour_is_said(sim, env):
    ref = f"replicate:{sim.add_job('replicate', **ENDED, data_removed=True)}"
    job = jobs_of(run_cli("status", "--json", ref, env=env))[ref]
    assert (job["state"], job["url"], job["outputs"]) == ("done", None, [])
    assert "removed the output" in job["message"]


@pytest.mark.parametrize("provider, code", [
    ("shotstack", None), ("creatomate", None), ("replicate", None),
    ("runway", "SAFETY.OUTPUT.VIDEO"), ("luma", None),
])
def test_failures_exit_1_with_the_providers_reason(sim, env, provider, code):
    reason = f"{provider} could not render scene {uuid.uuid4().hex[:6]}"
    ref = f"{provider}:{sim.add_job(provider, **ENDED, outcome='failed', error_message=reason)}"
    result = run_cli("status", "--json", "--exit-status", ref, env=env)
    assert result.returncode == 1
    assert jobs_of(result)[ref]["error"] == {"code": code, "message": reason}


@pytest.mark.parametrize("provider", DEFINED_PROVIDERS)
def test_unknown_job_exits_4(sim, env, provider):
    job_id = sim.add_job(provider, **ENDED)
    sim.remove_job(provider, job_id)
    result = run_cli("status", f"{provider}:{job_id}", env=env)
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith(f"jobpoll: error: {provider}:{job_id}: {provider} does not know this job")
    assert result.stdout == ""


@pytest.mark.parametrize("provider", DEFINED_PROVIDERS)
def test_rejected_key_exits_3_naming_the_fix(sim, env, provider):
    ref = f"{provider}:{sim.add_job(provider, **ENDED)}"
    env[f"JOBPOLL_{provider.upper()}_API_KEY"] = "bad-key-0123456789"
    result = run_cli("status", ref, env=env)
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and f"{provider} rejected the API key" in lines[0]
    assert f"jobpoll config set-key {provider}" in lines[0]
    assert "bad-key-0123456789" not in result.stderr


@pytest.mark.parametrize("provider", DEFINED_PROVIDERS)
def test_a_missing_key_says_how_to_add_one(sim, env, provider):
    del env[f"JOBPOLL_{provider.upper()}_API_KEY"]
    ref = f"{provider}:{sim.add_job(provider, **ENDED)}"
    result = run_cli("status", ref, env=env)
    assert result.returncode == 3
    assert f"'jobpoll config set-key {provider}' or set JOBPOLL_{provider.upper()}_API_KEY" in result.stderr


def test_ids_of_the_wrong_shape_are_refused_before_any_request(sim, env):
    before = len(sim.requests())
    result = run_cli("status", "runway:not-a-uuid", env=env)
    assert result.returncode == 2 and "Runway task ID (a UUID)" in result.stderr
    assert len(sim.requests()) == before


def test_watch_follows_all_five_to_their_endings(sim, env):
    specs = [("shotstack", {}), ("creatomate", {}), ("replicate", {}), ("runway", {"throttled": True}),
             ("luma", {}), ("replicate", {"outcome": "aborted"})]
    refs = [f"{p}:{sim.add_job(p, queued=0.5, running=2.5, **v)}" for p, v in specs]
    result = run_cli("watch", "--json", *FAST, "-t", "60", *refs, env=env)
    assert result.returncode == 1, result.stderr  # the aborted prediction
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    last = {f"{j['provider']}:{j['id']}": j for j in lines}
    assert [last[r]["state"] for r in refs] == ["done"] * 5 + ["cancelled"]
    # Seen on the way: Runway's progress while running (a line per change).
    progress = [j["progress"] for j in lines if j["provider"] == "runway" and j["state"] == "running"]
    assert progress and all(0 <= p < 100 for p in progress)


def test_runway_requests_carry_the_api_version_and_the_key_only_in_authorization(sim, env):
    job_id = sim.add_job("runway", **ENDED)
    assert run_cli("status", f"runway:{job_id}", env=env).returncode == 0
    (request,) = sim.requests(path=f"/v1/tasks/{job_id}")
    assert request["headers"]["x-runway-version"] == "2024-11-06"
    assert request["headers"]["authorization"] == f"Bearer {TEST_KEY}"


def test_a_key_the_provider_quotes_back_is_never_shown(sim, env):
    ref = f"luma:{sim.add_job('luma', **ENDED, outcome='failed', error_message=f'key {TEST_KEY} refused')}"
    result = run_cli("status", "--json", "--raw", ref, env=env)
    assert_clean(result)
    assert "refused" in result.stdout


# ---- listing (Replicate: next-URL cursor; Luma: limit/offset) ----------------------


@pytest.fixture(scope="module")
def lsim():
    """A simulator of this module's own: a list shows every job a key can see."""
    from jobpoll.simulator import Simulator

    with Simulator(seed=12) as simulator:
        yield simulator


@pytest.fixture
def lenv(env, lsim):
    lsim.reset()
    for name in ("replicate", "luma"):
        env[f"JOBPOLL_{name.upper()}_BASE_URL"] = lsim.url_for(name)
    return env


@pytest.mark.parametrize("provider", ["replicate", "luma"])
def test_list_pages_through_every_job(lsim, lenv, provider):
    made = [lsim.add_job(provider, **ENDED) for _ in range(5)]
    made.append(lsim.add_job(provider, **at(0.5)))
    lsim.configure(replicate_page_size=2)  # Replicate pages 100 jobs; three pages here
    result = run_cli("list", "-p", provider, "--json", env=lenv)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(made)
    assert all(r["source"] == "api" for r in rows)
    assert sorted(r["state"] for r in rows) == ["done"] * 5 + ["running"]
    pages = lsim.requests(path="/v1/predictions" if provider == "replicate" else "/dream-machine/v1/generations")
    if provider == "replicate":  # later pages: the cursor of `next`, asked of the configured host
        assert [bool(p["query"].get("cursor")) for p in pages] == [False, True, True]
    else:
        assert [p["query"] for p in pages] == [{"limit": "100"}]


def test_list_state_filter_applies_to_defined_providers(lsim, lenv):
    done = lsim.add_job("luma", **ENDED)
    lsim.add_job("luma", **at(0.5))
    result = run_cli("list", "-p", "luma", "--state", "done", "--field", "id", env=lenv)
    assert result.returncode == 0 and result.stdout.split() == [done]


def test_list_of_luma_pages_by_offset_while_has_more(lsim, lenv):
    made = lsim.add_jobs([{"provider": "luma", **ENDED} for _ in range(105)])
    result = run_cli("list", "-p", "luma", "--field", "id", env=lenv)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(made)
    pages = lsim.requests(path="/dream-machine/v1/generations")
    assert [p["query"] for p in pages] == [{"limit": "100"}, {"limit": "100", "offset": "100"}]


def test_creatomate_budget_from_its_definition_paces_watch(sim, env):
    """30 requests per 10 s per account: jobpoll slows its schedule to fit, so the
    simulator (which answers 429 past the budget) never has to refuse it."""
    key = f"sk-pace-{uuid.uuid4().hex[:12]}"  # a budget window of its own
    env["JOBPOLL_CREATOMATE_API_KEY"] = key
    refs = [f"creatomate:{sim.add_job('creatomate', queued=0, running=600)}" for _ in range(4)]
    result = run_cli("watch", "--json", "-i", "0.1", "--max-interval", "0.1", "-t", "6", *refs, env=env)
    assert result.returncode == 5, result.stderr  # still rendering at the deadline
    mine = [r for r in sim.requests(path="/v1/renders/") if r["headers"].get("authorization") == f"Bearer {key}"]
    assert 10 <= len(mine) <= 30  # asked at 4 x 10 a second, it kept inside 30 per 10 s
    assert all(r["status"] == 200 for r in mine)
