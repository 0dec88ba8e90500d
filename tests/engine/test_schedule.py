"""The scheduling policy with plain numbers on a fake clock (engine/schedule.py)."""

from __future__ import annotations

import random

import pytest

from jobpoll.config import Endpoint
from jobpoll.engine.schedule import (
    Cadence,
    Traits,
    eta_delay,
    eta_schedule,
    first_interval,
    grow,
    land_after,
    next_batch_delay,
    next_delay,
    retry_delay,
    track_progress,
)
from jobpoll.model import Job, State
from jobpoll.providers import get_provider


def test_interval_grows_by_half_with_jitter_up_to_the_ceiling():
    rng = random.Random(7)
    interval, seen = 1.0, []
    for _ in range(20):
        new = grow(interval, 60.0, rng)
        if interval < 60 / 1.65:
            assert 1.35 * interval <= new <= 1.65 * interval
        seen.append(new)
        interval = new
    assert max(seen) == 60.0 and seen[-1] == 60.0


def test_first_interval_option_then_config_then_provider():
    muvi, pictory = get_provider("muvi"), get_provider("pictory")
    configured = Endpoint(muvi, "http://x", "k", "env", 7.0, "env")
    plain = Endpoint(pictory, "http://x", "k", "env", None, "env")
    assert first_interval(0.2, configured) == 0.2  # never raised
    assert first_interval(None, configured) == 7.0
    assert first_interval(None, plain) == 10.0


def test_eta_from_the_progress_rate():
    assert eta_delay((10.0, 20.0), now=12.0, progress=40.0) == pytest.approx(6.0)  # 10 %/s
    assert eta_delay((10.0, 20.0), now=12.0, progress=20.0) is None  # not moving
    assert eta_delay((10.0, 20.0), now=10.1, progress=25.0) is None  # too short to tell
    assert 6.0 < land_after(6.0) < 7.0


def test_eta_schedule_stays_in_bounds_and_splits_long_waits_evenly():
    assert eta_schedule(0.1, floor=2.0, ceiling=10.0) == 2.0  # never sooner than -i
    assert eta_schedule(6.0, floor=2.0, ceiling=10.0) == pytest.approx(land_after(6.0))
    # 10.3 s away with a 10 s ceiling: two hops of ~5.4 s, not 10 s and then 2 s more.
    first = eta_schedule(10.3, floor=2.0, ceiling=10.0)
    assert first == pytest.approx(land_after(10.3) / 2)
    assert 9.0 < eta_schedule(100.0, floor=2.0, ceiling=10.0) <= 10.0


# ---- a job's cadence over a run of answers, on a fake clock ------------------------------


def running(progress=None, message=None) -> Job:
    return Job("muvi", "job_1", State.RUNNING, "processing", progress=progress, message=message)


def answers(cadence: Cadence, jobs, *, max_interval=10.0, rng=None):
    """Feed answers one after the other, each at the time the policy asked for;
    return the delays it chose."""
    now, previous, delays = cadence.started, None, []
    for job in jobs:
        changed = previous is None or (job.progress, job.message) != (previous.progress, previous.message)
        moved = track_progress(cadence, previous, job, now)
        delay = next_delay(cadence, job, changed=changed, moved=moved, now=now,
                           max_interval=max_interval, rng=rng or random.Random(1))
        delays.append(delay)
        previous, now = job, now + delay
    return delays


def test_an_unchanged_job_is_looked_at_less_and_less_up_to_the_ceiling():
    cadence = Cadence.start(Traits(interval=1.0), now=100.0)
    delays = answers(cadence, [running()] * 12)
    assert delays[0] == 1.0  # first sight is a change: the first interval
    for before, after in zip(delays[1:], delays[2:]):
        assert after >= before or after == 10.0
    assert delays[-1] == 10.0 and max(delays) == 10.0


def test_a_change_brings_the_first_interval_back():
    cadence = Cadence.start(Traits(interval=1.0), now=0.0)
    delays = answers(cadence, [running(message="a")] * 5 + [running(message="b")])
    assert delays[4] > 3.0 and delays[5] == 1.0


def test_moving_progress_aims_the_next_look_at_the_estimated_finish():
    cadence = Cadence.start(Traits(interval=1.0), now=0.0)
    # 10 % a second, seen at t=0 (20 %), then one second later (30 %): 7 s to go.
    delays = answers(cadence, [running(20.0), running(30.0)], max_interval=60.0)
    assert delays[1] == pytest.approx(land_after(7.0))


def test_a_first_interval_over_the_ceiling_stands():
    cadence = Cadence.start(Traits(interval=30.0), now=0.0)
    assert answers(cadence, [running()] * 4, max_interval=10.0) == [30.0] * 4


def test_a_batch_steps_its_interval_like_a_job():
    cadence = Cadence.start(Traits(interval=2.0, batched=True), now=0.0)
    grown = next_batch_delay(cadence, changed=False, now=1.0, max_interval=60.0, rng=random.Random(3))
    assert 2.0 * 1.35 <= grown <= 2.0 * 1.65
    assert next_batch_delay(cadence, changed=True, now=2.0, max_interval=60.0) == 2.0


def test_failures_back_off_within_the_ceiling():
    assert all(retry_delay(n, max_interval=2.0) <= 2.0 for n in range(1, 10))
    assert retry_delay(10, max_interval=600.0) <= 30.0
