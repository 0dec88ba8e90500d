"""Soak: `watch` of 500 jobs while one lookup in ten meets a fault (issue 6).

A simulator of its own (fault_rate is global) with a seed, so the run is the same
kind of run every time: ~10% of provider requests (single lookups, list pages,
downloads alike) answer 500/503, a truncated or invalid body, a dropped
connection, a one-second stall or a 429. Every job must end in the state its
provider holds, none reported done (or failed, or cancelled) that was not, none
lost from the output or the history.

The faults injected are counted from the simulator's request log: the random
faults are drawn, in the order requests arrive, from random.Random(seed) (see the
simulator's docstring), so replaying the draws over the log names the fault each
request met; the ones with a status of their own (500, 503, 429, a reset's none)
are checked against the log to prove the replay right.

Runs in the normal suite (about 15 s here); `pytest -s -m soak` shows the figures.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid

import pytest

from conftest import TEST_KEY, clean_env

SEED = 20260512
FAULT_RATE = 0.1
PROVIDER_PATHS = ("/v2/movies", "/pictoryapis/", "/v1/jobs", "/api/v1/video/")
TRUE_STATE = {"done": "done", "failed": "failed", "cancelled": "cancelled"}
# Faults whose answer has its own status in the log (a reset has none).
STATUS_OF = {"500": 500, "503": 503, "429": 429, "reset": None}


def _specs(rng: random.Random) -> list[dict]:
    specs = []
    outcomes = {
        "json2video": ("done", "done", "failed"),
        "pictory": ("done", "done", "failed"),
        "muvi": ("done", "failed", "cancelled"),
    }
    for i in range(500):
        provider = ("json2video", "pictory", "muvi")[i % 3]
        specs.append({
            "provider": provider,
            "queued": rng.uniform(0.2, 2.5),
            "running": rng.uniform(0.5, 5.0),
            "outcome": rng.choice(outcomes[provider]),
        })
    # Reelbot's budget (60 lookups a minute per key) allows only a few at this pace.
    for _ in range(6):
        specs.append({"provider": "reelbot", "queued": rng.uniform(0.2, 1.0),
                      "running": rng.uniform(0.5, 2.0), "outcome": rng.choice(("done", "failed"))})
    return specs


def _replay_faults(log: list[dict]) -> list[str | None]:
    """The random fault each logged provider request met (None: none), by replaying
    the simulator's draws in arrival order."""
    from jobpoll.simulator import TRANSIENT_KINDS

    rng = random.Random(SEED)
    kinds = []
    for entry in log:
        kind = None
        if rng.random() < FAULT_RATE:
            kind = rng.choice(TRANSIENT_KINDS)
        kinds.append(kind)
    return kinds


@pytest.mark.soak
@pytest.mark.slow("500 jobs whose renders take up to 7.5 s, watched to their ends through random faults")
def test_watch_of_500_jobs_with_one_lookup_in_ten_faulty_ends_true(tmp_path):
    from jobpoll.history import open_history
    from jobpoll.simulator import Simulator

    with Simulator(seed=SEED, fault_rate=FAULT_RATE) as sim:
        env = clean_env(tmp_path)
        for name in ("json2video", "pictory", "muvi", "reelbot"):
            env[f"JOBPOLL_{name.upper()}_BASE_URL"] = sim.base_url
            env[f"JOBPOLL_{name.upper()}_API_KEY"] = TEST_KEY
        env["JOBPOLL_REELBOT_API_KEY"] = f"sk-reelbot-{uuid.uuid4().hex[:12]}"
        specs = _specs(random.Random(SEED))
        ids = sim.add_jobs(specs)
        refs = [f"{s['provider']}:{i}" for s, i in zip(specs, ids)]

        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "jobpoll", "watch", "--json", "-i", "0.5", "--max-interval", "2",
             "-t", "90", "-"],
            input="\n".join(refs) + "\n", env=env, capture_output=True, text=True, timeout=150,
        )
        wall = time.monotonic() - started
        truth = {ref: sim.phase(*ref.split(":", 1)) for ref in refs}
        log = [r for r in sim.requests(origin="main") if r["path"].startswith(PROVIDER_PATHS)]

    assert "Traceback" not in result.stderr and TEST_KEY not in result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    final: dict[str, dict] = {}
    wrong_claims = []
    for line in lines:
        ref = f"{line['provider']}:{line['id']}"
        final[ref] = line
        if line["state"] in TRUE_STATE and line["state"] != TRUE_STATE.get(truth[ref]):
            wrong_claims.append((ref, line["state"], truth[ref]))
    lost = [ref for ref in refs if ref not in final]
    wrong_final = [(ref, final[ref]["state"], truth[ref]) for ref in refs
                   if ref in final and final[ref]["state"] != TRUE_STATE.get(truth[ref])]

    kinds = _replay_faults(log)
    mismatched = [(e["path"], k, e["status"]) for e, k in zip(log, kinds)
                  if k in STATUS_OF and e["status"] != STATUS_OF[k]]
    injected = sum(1 for k in kinds if k is not None)
    by_kind: dict[str, int] = {}
    for k in kinds:
        if k is not None:
            by_kind[k] = by_kind.get(k, 0) + 1
    lists = sum(1 for e in log if e["path"] == "/v1/jobs" or
                (e["path"] == "/v2/movies" and "project" not in e["query"]))

    history = open_history(lambda message: None, tmp_path / "state" / "history.sqlite3")
    assert history is not None
    stored = history.get_many([tuple(ref.split(":", 1)) for ref in refs])
    history.close()
    not_recorded = [ref for ref in refs if tuple(ref.split(":", 1)) not in stored]
    wrong_recorded = [ref for ref in refs if tuple(ref.split(":", 1)) in stored
                      and stored[tuple(ref.split(":", 1))].state.value != TRUE_STATE.get(truth[ref])]

    print(f"\nsoak: {len(refs)} jobs ({sum(1 for r in refs if r.startswith('reelbot:'))} reelbot), "
          f"{len(log)} requests ({lists} list pages), {injected} faults injected "
          f"({injected / max(1, len(log)):.1%}: {dict(sorted(by_kind.items()))}), "
          f"{len(wrong_final)} wrong final states, {len(wrong_claims)} wrong endings claimed, "
          f"{len(lost)} lost, {len(not_recorded)} not in the history, exit {result.returncode}, "
          f"{wall:.1f} s")

    assert not mismatched, f"the fault replay disagrees with the log: {mismatched[:5]}"
    assert injected >= 0.05 * len(log) and injected >= 50, (injected, len(log))
    assert {"500", "503", "truncated", "invalid_json", "reset", "slow", "429"} <= set(by_kind)
    assert not lost, lost[:5]
    assert not wrong_claims, wrong_claims[:5]
    assert not wrong_final, wrong_final[:5]
    assert not not_recorded and not wrong_recorded, (not_recorded[:5], wrong_recorded[:5])
    # Failed and cancelled jobs among them: exit 1, and nothing was abandoned (exit 6).
    assert result.returncode == 1, result.stderr[-2000:]
    assert "gave up" not in result.stderr
    assert wall < 60, wall
