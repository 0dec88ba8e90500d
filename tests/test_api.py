"""The Python API as a user calls it (`import jobpoll`), against the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jobpoll
from conftest import PROVIDER_NAMES, TEST_KEY, clean_env

README = Path(__file__).resolve().parent.parent / "README.md"
QUICK = dict(interval=0.2, max_interval=1.0)  # watch intervals for tests, as conftest.FAST


def test_status_gives_one_job_per_reference_in_order(sim, api_env):
    done = sim.add_job("muvi", queued=0, running=0, outcome="done")
    failed = sim.add_job("json2video", queued=0, running=0, outcome="failed")
    jobs = jobpoll.status([f"muvi:{done}", f"json2video:{failed}", f"muvi:{done}"])
    assert [j.ref for j in jobs] == [f"muvi:{done}", f"json2video:{failed}", f"muvi:{done}"]
    assert isinstance(jobs[0], jobpoll.Job)
    assert jobs[0].state is jobpoll.State.DONE and jobs[0].url
    assert jobs[1].state is jobpoll.State.FAILED and jobs[1].error.message
    assert jobpoll.status(f"muvi:{done}")[0].state == "done"  # one reference alone, as a string


def test_a_job_that_cannot_be_looked_up_raises_its_error(sim, api_env):
    done = sim.add_job("muvi", queued=0, running=0, outcome="done")
    with pytest.raises(jobpoll.NotFoundError) as raised:
        jobpoll.status([f"muvi:{done}", "muvi:job_000000000000"])
    assert raised.value.exit_code == 4 and raised.value.job == "muvi:job_000000000000"
    assert isinstance(raised.value, jobpoll.JobpollError)


def test_return_exceptions_puts_each_error_in_its_jobs_place(sim, api_env, monkeypatch):
    done = sim.add_job("muvi", queued=0, running=0, outcome="done")
    monkeypatch.delenv("JOBPOLL_PICTORY_API_KEY")
    results = jobpoll.status([f"muvi:{done}", "muvi:job_000000000000", "pictory:265a7c1a-4985-4058-9208-68114f131a2b"],
                             return_exceptions=True)
    job, missing, no_key = results
    assert job.state is jobpoll.State.DONE
    assert isinstance(missing, jobpoll.NotFoundError) and missing.exit_code == 4
    assert isinstance(no_key, jobpoll.AuthError) and no_key.exit_code == 3
    assert "JOBPOLL_PICTORY_API_KEY" in str(no_key)


def test_a_bad_reference_raises_before_any_request(sim, api_env):
    done = sim.add_job("muvi", queued=0, running=0, outcome="done")
    since = time.time()
    with pytest.raises(jobpoll.UsageError) as raised:
        jobpoll.status([f"muvi:{done}", "nosuch:job"])
    assert raised.value.exit_code == 2 and "unknown provider" in str(raised.value)
    assert not sim.requests(since=since)


def test_a_forgotten_job_shows_the_historys_ending_with_a_warning(sim, api_env):
    job_id = sim.add_job("pictory", queued=0, running=0, outcome="cleaned", retention=30)
    first = jobpoll.status(f"pictory:{job_id}")[0]
    assert first.state is jobpoll.State.DONE
    sim.advance(31)  # Pictory cleans it up
    warnings: list[str] = []
    later = jobpoll.status(f"pictory:{job_id}", on_warning=warnings.append)[0]
    assert (later.state, later.url) == (jobpoll.State.DONE, first.url)
    assert warnings and "removed this job's data" in warnings[0]
    # Without the history there is nothing to show but what the provider says now.
    assert jobpoll.status(f"pictory:{job_id}", history=False)[0].state is jobpoll.State.EXPIRED


def test_watch_yields_changes_and_ends_each_job_final(sim, api_env):
    ids = [sim.add_job("muvi", queued=0.2, running=0.6), sim.add_job("json2video", queued=0.2, running=0.6)]
    refs = [f"muvi:{ids[0]}", f"json2video:{ids[1]}"]
    seen: dict[str, list] = {ref: [] for ref in refs}
    for job in jobpoll.watch(refs, **QUICK):
        assert isinstance(job, jobpoll.Job)
        seen[job.ref].append(job.state)
    for ref in refs:
        assert seen[ref][-1] is jobpoll.State.DONE
        assert sum(1 for state in seen[ref] if state.value == "done") == 1  # final once, last


def test_awatch_is_the_async_twin(sim, api_env):
    job_id = sim.add_job("pictory", queued=0.1, running=0.4, outcome="failed")

    async def main():
        return [job async for job in jobpoll.awatch(f"pictory:{job_id}", **QUICK)]

    jobs = asyncio.run(main())
    assert jobs[-1].state is jobpoll.State.FAILED and jobs[-1].terminal


def test_watch_timeout_raises_unfinished_or_yields_it(sim, api_env):
    job_id = sim.add_job("muvi", queued=0, running=60)
    with pytest.raises(jobpoll.UnfinishedError) as raised:
        for _ in jobpoll.watch(f"muvi:{job_id}", timeout=0.6, **QUICK):
            pass
    assert raised.value.exit_code == 5 and isinstance(raised.value, TimeoutError)
    items = list(jobpoll.watch(f"muvi:{job_id}", timeout=0.6, return_exceptions=True, **QUICK))
    assert isinstance(items[0], jobpoll.Job) and isinstance(items[-1], jobpoll.UnfinishedError)


def test_watch_checks_its_references_when_called(sim, api_env):
    with pytest.raises(jobpoll.UsageError):
        jobpoll.watch(["muvi:bad/id"])  # no iteration needed: the call itself checks
    with pytest.raises(jobpoll.UsageError):
        jobpoll.watch(["muvi:job_1"], interval=0)


def test_watch_of_an_unknown_job_raises_or_yields_its_error(sim, api_env):
    done = sim.add_job("muvi", queued=0, running=0)
    with pytest.raises(jobpoll.NotFoundError):
        list(jobpoll.watch(["muvi:job_000000000000"], **QUICK))
    items = list(jobpoll.watch([f"muvi:{done}", "muvi:job_000000000000"], return_exceptions=True, **QUICK))
    assert {type(i).__name__ for i in items} == {"Job", "NotFoundError"}


def test_list_jobs_newest_first_from_the_api(sim, api_env):
    older = sim.add_job("muvi", queued=0, running=0, age=120)
    newer = sim.add_job("muvi", queued=0, running=0, age=10)
    jobs = jobpoll.list_jobs(provider="muvi", since="1h")
    ids = [j.id for j in jobs]
    assert ids.index(newer) < ids.index(older)
    assert all(j.provider == "muvi" for j in jobs)
    running = jobpoll.list_jobs(provider="muvi", state="running", since="1h")
    assert all(j.state is jobpoll.State.RUNNING for j in running)
    assert not {older, newer} & {j.id for j in running}  # both are done


def test_importing_jobpoll_loads_nothing_else():
    """`import jobpoll` stays as cheap as a version string: not even typing."""
    code = ("import sys; before = set(sys.modules); import jobpoll; print(sorted(set(sys.modules) - before)); "
            "print(jobpoll.State.DONE.value, jobpoll.ExitCode.UNFINISHED.value)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['jobpoll']", "done 5"]
    with pytest.raises(AttributeError):
        jobpoll.no_such_name  # noqa: B018


def readme_example() -> str:
    """The Python block of the README's "Use from Python" section."""
    text = README.read_text()
    section = text.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(sim, tmp_path):
    code = readme_example()
    for ref in re.findall(r'"(\w+:\w+)"', code):  # the jobs it names, made to exist
        provider, job_id = ref.split(":")
        sim.add_job(provider, job_id, queued=0.2, running=0.5)
    env = clean_env(tmp_path)
    for name in PROVIDER_NAMES:
        env[f"JOBPOLL_{name.upper()}_BASE_URL"] = sim.base_url
        env[f"JOBPOLL_{name.upper()}_API_KEY"] = TEST_KEY
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout and TEST_KEY not in done.stdout + done.stderr
    assert os.path.exists(env["JOBPOLL_HISTORY"])


def test_watch_works_inside_a_running_event_loop(sim, api_env):
    """As in a notebook cell: plain `watch()` called from code an event loop runs."""
    job_id = sim.add_job("muvi", queued=0, running=0.3)

    async def cell():
        return [job.state for job in jobpoll.watch(f"muvi:{job_id}", **QUICK)]

    assert asyncio.run(cell())[-1] is jobpoll.State.DONE


def test_every_public_name_is_there():
    for name in jobpoll.__all__:
        assert getattr(jobpoll, name) is not None, name
    assert issubclass(jobpoll.UnfinishedError, jobpoll.JobpollError)
