"""Timestamps as jobpoll writes them (JSON output, the history's sort keys): ISO-8601
UTC, milliseconds, a Z; every provider's spelling of a moment gives the same text."""

from datetime import datetime, timedelta, timezone

import pytest

from jobpoll.model import iso_utc, normalize_time


@pytest.mark.parametrize("moment, text", [
    (datetime(2026, 5, 12, 7, 0, 0, 123999, tzinfo=timezone.utc), "2026-05-12T07:00:00.123Z"),  # truncated
    (datetime(2026, 5, 12, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-05-12T07:00:00.000Z"),
    (datetime(931, 10, 5, tzinfo=timezone.utc), "0931-10-05T00:00:00.000Z"),  # sorts before 2026 as text
])
def test_iso_utc(moment, text):
    assert iso_utc(moment) == text


@pytest.mark.parametrize("given", ["2026-05-12T07:00:00Z", "2026-05-12T07:00:00.000+00:00",
                                   "2026-05-12T09:00:00+02:00", "2026-05-12 07:00:00"])
def test_every_spelling_of_one_moment_is_written_alike(given):
    assert normalize_time(given) == "2026-05-12T07:00:00.000Z"
