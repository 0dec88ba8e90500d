"""DURATION and span parsing: what a user types for intervals, timeouts and ranges."""

from datetime import timedelta

import pytest

from jobpoll.durations import format_duration, parse_duration, parse_span
from jobpoll.errors import UsageError


@pytest.mark.parametrize("text,seconds", [
    ("0.5", 0.5), ("90", 90.0), ("500ms", 0.5), ("90s", 90.0), ("15m", 900.0),
    ("1h30m", 5400.0), ("1d", 86400.0), (" 2S ", 2.0), (0.2, 0.2),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-1", "5x", "1h 30m", "m5", "inf", "nan", "30m1"])
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError, match="invalid --interval"):
        parse_duration(text, what="--interval")


def test_spans():
    assert parse_span("7d", what="--since") == timedelta(days=7)
    assert parse_span("2w", what="--since") == timedelta(weeks=2)
    assert parse_span("1d12h", what="--since") == timedelta(hours=36)
    assert parse_span("90", what="--older-than", plain_seconds=True) == timedelta(seconds=90)
    with pytest.raises(UsageError, match="use a span"):
        parse_span("90", what="--since")  # a bare number is ambiguous for a range
    with pytest.raises(UsageError, match="too long"):
        parse_span("99999999999w", what="--since")


def test_format_duration():
    assert [format_duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]
