"""Rate budgets and 429 pauses with plain numbers (engine/pacing.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jobpoll.engine.pacing import Pacer, TokenBucket, reset_time
from jobpoll.retry import MAX_RETRY_WAIT
from jobpoll.providers.base import RateBudget


def test_bucket_for_reelbots_budget_allows_a_burst_then_the_rate():
    bucket = TokenBucket.for_budget(RateBudget(60, 60.0), now=0.0)
    assert bucket.capacity == 10
    assert [bucket.take(0.0) for _ in range(10)] == [0.0] * 10
    wait = bucket.take(0.0)
    assert wait == pytest.approx(60 / 50)  # refill at (60 - 10) / 60 s
    assert bucket.take(wait) == 0.0


def test_a_greedy_caller_never_exceeds_the_budget_in_any_window():
    bucket = TokenBucket.for_budget(RateBudget(60, 60.0), now=0.0)
    now, sent = 0.0, []
    while now < 400:
        wait = bucket.take(now)
        if wait == 0.0:
            sent.append(now)
        else:
            now += wait
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 60) <= 60


def test_headers_only_ever_lower_the_count_and_zero_pauses_until_reset():
    pacer = Pacer(RateBudget(60, 60.0), now=0.0)
    wall = 1_000_000_000.0
    pacer.observe({"x-ratelimit-remaining": "59"}, now=0.0, wall=wall)
    assert pacer.bucket.tokens == 10  # more remaining than we allow ourselves: no change
    pacer.observe({"x-ratelimit-remaining": "3"}, now=0.0, wall=wall)
    assert pacer.bucket.tokens == 3
    reset = datetime.fromtimestamp(wall + 20, timezone.utc).isoformat().replace("+00:00", "Z")
    pacer.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, now=0.0, wall=wall)
    assert pacer.take(0.0) == pytest.approx(20.1)
    assert pacer.take(19.9) > 0
    assert pacer.take(20.2) == 0.0


def test_a_pause_holds_every_request_of_a_pacer_without_budget_too():
    pacer = Pacer(None, now=100.0)
    assert pacer.take(100.0) == 0.0
    pacer.pause(retry_at_wall=5_000.0 + 3, now=100.0, wall=5_000.0)
    assert pacer.take(101.0) == pytest.approx(2.1)
    assert pacer.take(103.2) == 0.0
    pacer.pause(retry_at_wall=10.0, now=104.0, wall=5_000.0)  # in the past: no pause
    assert pacer.take(104.0) == 0.0


WALL = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("value,expected", [
    ("2026-01-01T00:00:10Z", WALL + 10),
    (str(int(WALL) + 120), WALL + 120),
    ("30", WALL + 30),
    ("soon", None),
    (None, None),
    # never further off than MAX_RETRY_WAIT, however far the provider says
    ("2099-01-01T00:00:00Z", WALL + MAX_RETRY_WAIT),
    ("1e12", WALL + MAX_RETRY_WAIT),
    ("inf", WALL + MAX_RETRY_WAIT),
    ("nan", None),
])
def test_reset_header_forms(value, expected):
    assert reset_time(value, wall=WALL) == expected
