"""Waits a provider asks for are bounded: a Retry-After that is 0, negative, not a
number or in the past waits a floor and counts as a retry; a huge one is capped
and never crashes; `status` gives up with exit 6 saying when to come back;
`watch` keeps to its --timeout."""

from __future__ import annotations

import math
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from conftest import TEST_KEY, assert_clean, clean_env, run_cli
from nettools import ScriptedServer, http_reply

from jobpoll.providers.base import Answer, retry_hint
from jobpoll.retry import MAX_RETRY_WAIT, RETRY_FLOOR

NOW = 1_800_000_000.0
PAST = format_datetime(datetime.fromtimestamp(NOW, timezone.utc) - timedelta(hours=1), usegmt=True)
UNUSABLE = ["0", "-5", "nan", "-inf", "soon", "", PAST]
AN_HOUR_AGO = format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)
HUGE = ["1e12", "inf", "1e400", "99999999999999999999"]


def limited(retry_after: str) -> Answer:
    return Answer(429, {"retry-after": retry_after}, b"{}")


@pytest.mark.parametrize("value", UNUSABLE)
def test_an_unusable_retry_after_waits_the_floor_and_is_not_usable(value):
    at, given = retry_hint(limited(value), NOW)
    assert not given
    assert NOW + RETRY_FLOOR <= at <= NOW + RETRY_FLOOR * 1.5


@pytest.mark.parametrize("value", HUGE)
def test_a_huge_retry_after_is_capped(value):
    at, given = retry_hint(limited(value), NOW)
    assert given and at == NOW + MAX_RETRY_WAIT


def test_a_usable_retry_after_is_kept():
    assert retry_hint(limited("30"), NOW) == (NOW + 30, True)
    future = format_datetime(datetime.fromtimestamp(NOW + 90, timezone.utc), usegmt=True)
    assert retry_hint(limited(future), NOW) == (NOW + 90, True)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "2026-13-45T00:00:00Z"])
def test_x_ratelimit_reset_oddities_are_bounded(value):
    from jobpoll.engine.pacing import reset_time

    moment = reset_time(value, NOW)
    assert moment is None or (math.isfinite(moment) and moment <= NOW + MAX_RETRY_WAIT)


def _env(tmp_path, url: str) -> dict[str, str]:
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_BASE_URL=url, JOBPOLL_MUVI_API_KEY=TEST_KEY)
    return env


def _always_429(value: str) -> ScriptedServer:
    return ScriptedServer([http_reply(429, b'{"success":false}', {"Retry-After": value})])


# The id is fixed: pytest-xdist's workers must collect the same names, and the
# date in AN_HOUR_AGO depends on the second each one collected it.
@pytest.mark.parametrize("value", ["0", "-1", "nan", AN_HOUR_AGO], ids=["0", "-1", "nan", "an-hour-ago"])
def test_status_gives_up_on_unusable_retry_afters_after_its_retries(tmp_path, value):
    """Used to loop for ever (2,700 requests in 120 s)."""
    server = _always_429(value)
    started = time.monotonic()
    result = run_cli("status", "muvi:job_abc123def456", env=_env(tmp_path, server.url), timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 6, result.stderr
    assert len(server.requests) == 3  # the first try and RETRIES (2) more
    assert elapsed >= 2 * RETRY_FLOOR  # a floor between tries
    assert "rate limited" in result.stderr and "try again in a minute" in result.stderr
    assert_clean(result)
    server.close()


@pytest.mark.parametrize("value", ["1e12", "inf", "3600"])
def test_status_gives_up_at_once_on_a_long_retry_after_saying_when(tmp_path, value):
    server = _always_429(value)
    result = run_cli("status", "muvi:job_abc123def456", env=_env(tmp_path, server.url), timeout=30)
    assert result.returncode == 6, result.stderr
    assert len(server.requests) == 1
    assert "it takes requests again at " in result.stderr and " UTC" in result.stderr
    assert "unexpected" not in result.stderr
    assert_clean(result)
    server.close()


@pytest.mark.parametrize("value", ["1e12", "inf"])
def test_watch_survives_a_huge_retry_after_and_keeps_its_timeout(tmp_path, value):
    """Used to crash with "unexpected ValueError", exit 1."""
    server = _always_429(value)
    started = time.monotonic()
    # --timeout counts from the process start: 4 s leave room for a slow start-up
    # before the one request this test is about.
    result = run_cli("watch", "--json", "-i", "0.2", "--timeout", "4", "muvi:job_abc123def456",
                     env=_env(tmp_path, server.url), timeout=30)
    assert result.returncode == 5, result.stderr
    assert time.monotonic() - started < 10
    assert "unexpected" not in result.stderr
    assert len(server.requests) == 1
    assert_clean(result)
    server.close()


def test_watch_waits_a_floor_on_retry_after_zero_and_gives_up_after_its_retries(tmp_path):
    """Used to resend with no delay at all."""
    server = _always_429("0")
    result = run_cli("watch", "--json", "-i", "0.2", "--retries", "2", "--timeout", "30",
                     "muvi:job_abc123def456", env=_env(tmp_path, server.url), timeout=40)
    assert result.returncode == 6, result.stderr
    assert "gave up after 3 rate-limited lookups" in result.stderr
    assert len(server.requests) == 3
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert min(gaps) >= RETRY_FLOOR * 0.9, gaps
    assert_clean(result)
    server.close()
