"""The scheduling policy with plain numbers on a fake clock (engine/schedule.py)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from jobpoll.config import Endpoint
from jobpoll.engine.schedule import (
    BATCH_QUIET,
    COALESCE,
    COALESCE_AIMED,
    COALESCE_SHARE,
    RATE_SPAN,
    Cadence,
    Traits,
    aim_alone,
    eta_delay,
    eta_schedule,
    first_interval,
    grow,
    land_after,
    latest_finish,
    next_batch_delay,
    next_delay,
    note_created,
    retry_delay,
    send_at,
    track_progress,
    traits_of,
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


def running(progress=None, message=None, created_at=None) -> Job:
    return Job("pictory", "job_1", State.RUNNING, "in-progress", progress=progress, message=message,
               created_at=created_at)


def pictory(option=None) -> Traits:
    """Pictory's traits on its defaults (advice: 10 s), or with -i `option`."""
    return traits_of(Endpoint(get_provider("pictory"), "http://x", "k", "env", None, "env"), option)


def answers(cadence: Cadence, jobs, *, max_interval=60.0, rng=None, wall=None):
    """Feed answers one after the other, each at the time the policy asked for;
    return the delays it chose."""
    now, previous, delays = cadence.started, None, []
    for job in jobs:
        note_created(cadence, job, now, wall if wall is not None else now)
        moved = track_progress(cadence, previous, job, now)
        delay = next_delay(cadence, job, moved=moved, now=now,
                           max_interval=max_interval, rng=rng or random.Random(1))
        delays.append(delay)
        previous, now = job, now + delay
    return delays


def test_without_progress_a_job_is_looked_at_as_often_as_its_age_warrants():
    # The defaults: a fifth of the job's age, from a fifth of Pictory's 10 s.
    cadence = Cadence.start(pictory(), now=0.0)
    delays = answers(cadence, [running()] * 40)
    assert 2.0 <= delays[0] <= 2.2  # a job just started: every 2 s, not Pictory's 10 s
    ages = [sum(delays[:i]) for i in range(len(delays))]
    for age, delay in zip(ages, delays):
        assert min(60.0, max(2.0, age / 5)) <= delay <= min(60.0, 1.1 * max(2.0, age / 5))
    assert delays[-1] == 60.0  # old by now: --max-interval


def test_a_job_that_has_run_20_minutes_is_looked_at_less_than_one_of_10_seconds():
    young, old = Cadence.start(pictory(), now=0.0), Cadence.start(pictory(), now=0.0)
    made = datetime(2026, 12, 6, 9, 0, 0, tzinfo=timezone.utc).timestamp()
    young_delay = answers(young, [running(created_at="2026-12-06T09:00:00Z")], wall=made + 10)[0]
    old_delay = answers(old, [running(created_at="2026-12-06T09:00:00Z")], wall=made + 1200)[0]
    assert 2.0 <= young_delay <= 2.2
    assert old_delay == 60.0  # its age comes from its creation, not from when the watch began


def test_moving_progress_aims_the_next_look_at_the_estimated_finish():
    cadence = Cadence.start(pictory(), now=0.0)
    # 10 % a second, seen at t=0 (20 %), then two seconds later (40 %): 6 s to go.
    track_progress(cadence, None, running(20.0), 0.0)
    assert track_progress(cadence, running(20.0), running(40.0), 2.0)
    delay = next_delay(cadence, running(40.0), moved=True, now=2.0, max_interval=60.0)
    assert delay == pytest.approx(land_after(6.0))


def test_a_loose_estimate_is_narrowed_by_one_look_before_the_earliest_finish():
    cadence = Cadence.start(pictory(), now=0.0)
    # 2 % in a second: 44 s to go, but 45 % would mean 29 s, and 1 % 88 s.
    track_progress(cadence, None, running(10.0), 0.0)
    assert track_progress(cadence, running(10.0), running(12.0), 1.0)
    first = next_delay(cadence, running(12.0), moved=True, now=1.0, max_interval=60.0)
    assert first == pytest.approx(88.0 / 3.0)  # the earliest likely finish, not 44 s
    # There, 70 %: 60 % in 30.3 s, so 15.15 s to go, and now a close estimate.
    now = 1.0 + first
    assert track_progress(cadence, running(12.0), running(70.0), now)
    second = next_delay(cadence, running(70.0), moved=True, now=now, max_interval=60.0)
    assert second == pytest.approx(land_after(30.0 * now / 60.0))


def queued() -> Job:
    return Job("pictory", "job_1", State.QUEUED, "in-progress")


def test_the_rate_is_read_over_a_longer_span_unless_the_job_may_end_sooner():
    # Seen queued at t=0, then rendering at 10 % at t=2: it started after t=0, so it
    # ends within 18 s; the second sample waits RATE_SPAN (whole percents over 2 s
    # read a rate poorly), not the 2 s of a young job.
    cadence = Cadence.start(pictory(), now=0.0)
    assert answers(cadence, [queued(), running(10.0)])[1] == RATE_SPAN
    # At 60 % after at most 2 s, it ends within 1.33 s: looked at then.
    cadence = Cadence.start(pictory(), now=0.0)
    delays = answers(cadence, [queued(), running(60.0)])
    assert delays[1] == pytest.approx(land_after(40.0 * delays[0] / 60.0))
    assert delays[1] < RATE_SPAN
    # Never seen waiting and its creation unknown: nothing bounds it.
    cadence = Cadence.start(pictory(), now=0.0)
    assert answers(cadence, [running(90.0)])[0] == RATE_SPAN
    assert latest_finish(cadence, 0.0, 90.0) is None
    # Created 10 s ago and at 80 %: it has gone at least 8 %/s, 2.5 s to go at most.
    cadence = Cadence.start(pictory(), now=0.0)
    made = datetime(2026, 12, 6, 9, 0, 0, tzinfo=timezone.utc).timestamp()
    delay = answers(cadence, [running(80.0, created_at="2026-12-06T09:00:00Z")], wall=made + 10)[0]
    assert delay == pytest.approx(land_after(2.5))
    # --max-interval under the span still has the last word.
    cadence = Cadence.start(pictory(), now=0.0)
    assert answers(cadence, [queued(), running(10.0)], max_interval=4.0)[1] == 4.0


def test_the_interval_option_is_also_the_span_of_the_first_rate():
    # -i 3s: the second sample 3 s after the first (what the user asked), and a
    # job that may end sooner is still not looked at sooner than 3 s.
    cadence = Cadence.start(pictory(3.0), now=0.0)
    assert 3.0 <= answers(cadence, [queued(), running(10.0)])[1] <= 3.3
    cadence = Cadence.start(pictory(3.0), now=0.0)
    assert answers(cadence, [queued(), running(95.0)])[1] == 3.0


def test_nothing_is_ever_further_apart_than_max_interval():
    rng = random.Random(5)
    cadence = Cadence.start(pictory(), now=0.0)
    assert max(answers(cadence, [running()] * 60, max_interval=8.0, rng=rng)) == 8.0
    # An estimated finish 5 minutes away is reached in hops of at most 8 s.
    cadence = Cadence.start(pictory(), now=0.0)
    track_progress(cadence, None, running(10.0), 0.0)
    track_progress(cadence, running(10.0), running(20.0), 30.0)
    assert next_delay(cadence, running(20.0), moved=True, now=30.0, max_interval=8.0) <= 8.0
    batch = Cadence.start(Traits(interval=5.0, batched=True), now=0.0)
    delays = [next_batch_delay(batch, changed=False, now=t, max_interval=8.0, rng=rng) for t in range(60, 400, 5)]
    assert max(delays) == 8.0


def test_interval_option_is_the_shortest_interval_and_the_shortest_aim():
    cadence = Cadence.start(pictory(3.0), now=0.0)
    assert 3.0 <= answers(cadence, [running()])[0] <= 3.3  # a young job: -i, not less
    cadence = Cadence.start(pictory(3.0), now=0.0)
    # 50 % a second: it ends in 0.2 s, but -i 3s asked for nothing sooner.
    track_progress(cadence, None, running(40.0), 0.0)
    assert track_progress(cadence, running(40.0), running(90.0), 1.0)
    assert next_delay(cadence, running(90.0), moved=True, now=1.0, max_interval=60.0) == 3.0


def test_a_first_interval_over_the_ceiling_stands():
    cadence = Cadence.start(pictory(30.0), now=0.0)
    assert all(30.0 <= d <= 33.0 for d in answers(cadence, [running()] * 4, max_interval=10.0))
    batch = Cadence.start(Traits(interval=30.0, batched=True), now=0.0)
    assert next_batch_delay(batch, changed=False, now=100.0, max_interval=10.0) == 30.0


def test_a_batch_keeps_the_providers_interval_while_its_jobs_change():
    cadence = Cadence.start(Traits(interval=5.0, batched=True), now=0.0)
    rng = random.Random(3)
    # A list request answers up to 100 jobs: no backing off while anything changes,
    # nor while the batch has been quiet for less than BATCH_QUIET.
    steady = [next_batch_delay(cadence, changed=t % 20 == 0, now=t, max_interval=60.0, rng=rng)
              for t in range(0, 120, 5)]
    assert steady == [5.0] * len(steady)
    quiet = [next_batch_delay(cadence, changed=False, now=t, max_interval=60.0, rng=rng)
             for t in range(120, 120 + int(BATCH_QUIET) + 100, 10)]
    assert quiet[:4] == [5.0] * 4  # unchanged since t=100, for less than a minute
    assert quiet[-1] > 5.0 and all(b >= a for a, b in zip(quiet, quiet[1:]))
    assert next_batch_delay(cadence, changed=True, now=400.0, max_interval=60.0) == 5.0


def test_a_batched_job_about_to_finish_gets_a_lookup_of_its_own():
    cadence = Cadence.start(Traits(interval=5.0, batched=True), now=0.0)
    track_progress(cadence, None, running(20.0), 0.0)
    track_progress(cadence, running(20.0), running(60.0), 5.0)  # 8 %/s: done in 5 s
    assert aim_alone(cadence, running(60.0), 5.0, before=5.0, max_interval=60.0) is None
    track_progress(cadence, running(60.0), running(80.0), 7.5)  # done in 2.5 s
    assert aim_alone(cadence, running(80.0), 7.5, before=5.0, max_interval=60.0) == pytest.approx(land_after(2.5))
    track_progress(cadence, running(80.0), running(80.0), 8.0)  # not moving: nothing to aim at
    assert aim_alone(cadence, running(80.0), 8.0, before=5.0, max_interval=60.0) is None


def test_failures_back_off_within_the_ceiling():
    assert all(retry_delay(n, max_interval=2.0) <= 2.0 for n in range(1, 10))
    assert retry_delay(10, max_interval=600.0) <= 30.0


def test_lookups_due_close_together_are_sent_at_one_instant():
    # Jobs answered at different moments, each due again 2.5-9 s later, all within
    # a second of each other: one instant, no earlier than any was due.
    rng = random.Random(11)
    due = [(now, 10.0 + rng.uniform(0.01, 0.99) - now) for now in (1.0, 3.3, 5.7, 7.4) for _ in range(20)]
    sent = {send_at(now, delay, max_interval=60.0) for now, delay in due}
    assert sent == {11.0}


def test_a_watch_of_few_jobs_keeps_each_looks_own_time():
    # Nothing to gather with: no look waits for company that is not there.
    rng = random.Random(14)
    for _ in range(200):
        now, delay = rng.uniform(0.0, 500.0), rng.uniform(0.0, 30.0)
        assert send_at(now, delay, 60.0, gather=False) == now + delay
        assert send_at(now, delay, 60.0, aimed=True, gather=False) == now + delay


def test_a_lookup_is_held_back_by_at_most_a_second_and_half_its_wait():
    rng = random.Random(12)
    for _ in range(2000):
        now, delay = rng.uniform(0.0, 5000.0), rng.uniform(0.0, 120.0)
        sent = send_at(now, delay, max_interval=600.0)
        assert now + delay <= sent <= now + delay + min(COALESCE, delay * COALESCE_SHARE)
    assert send_at(3.21, 0.02, max_interval=60.0) == 3.21 + 0.02  # -i 20ms stays 20 ms


def test_the_grid_never_stretches_a_wait_past_max_interval_nor_shortens_it():
    # -i 5s --max-interval 5s: every wait is exactly 5 s, on the grid or not.
    for now in (0.1, 0.3, 7.77, 1000.01):
        assert send_at(now, 5.0, max_interval=5.0) == now + 5.0
        assert 7.9 <= send_at(now, 7.9, max_interval=8.0) - now <= 8.0


def test_a_look_aimed_at_a_finish_waits_less_for_company_than_one_by_age():
    # Lateness of an aimed look is detection lag: a finer grid there.
    cadence = Cadence.start(pictory(), now=0.0)
    track_progress(cadence, None, running(20.0), 0.0)
    track_progress(cadence, running(20.0), running(40.0), 2.0)
    delay = next_delay(cadence, running(40.0), moved=True, now=2.0, max_interval=60.0)
    assert cadence.aimed
    rng = random.Random(13)
    for _ in range(500):
        now = rng.uniform(0.0, 1000.0)
        assert 0.0 <= send_at(now, delay, 60.0, aimed=True) - (now + delay) <= COALESCE_AIMED
    next_delay(cadence, running(40.0), moved=False, now=4.0, max_interval=60.0)
    assert not cadence.aimed  # an age interval: the coarser grid
