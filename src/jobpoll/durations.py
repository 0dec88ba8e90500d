"""Lengths of time on the command line and in the config.

DURATION (intervals, timeouts): plain seconds ("0.5", "90") or with units
("500ms", "1h30m"). A span (list --since 7d, history prune --older-than 90d):
units required, weeks allowed. One unit parser serves both.
"""

from __future__ import annotations

import re
from datetime import timedelta

from jobpoll.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _with_units(value: str) -> float | None:
    """Seconds for "1h30m"-style text, or None when it is not that."""
    pos, seconds = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            return None
        seconds += float(match.group(1)) * _SECONDS[match.group(2)]
        pos = match.end()
    return seconds if value and pos == len(value) else None


def _plain(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def parse_duration(text: str | float | int, *, what: str = "duration") -> float:
    """Seconds for a DURATION; UsageError for anything else (negative included)."""
    if isinstance(text, (int, float)):
        seconds: float | None = float(text)
    else:
        value = text.strip().lower()
        seconds = _plain(value)
        if seconds is None:
            seconds = _with_units(value)
        if seconds is None:
            raise UsageError(
                f"invalid {what} {text!r}: use seconds (90, 0.5) or units (500ms, 90s, 15m, 1h30m)"
            )
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise UsageError(f"invalid {what} {text!r}: must be a finite number of seconds, 0 or more")
    return seconds


def parse_interval(text: str | float | int, *, what: str = "interval") -> float:
    """Seconds between lookups: a DURATION more than 0, on the command line and in
    the config alike (an interval of 0 is a request loop)."""
    seconds = parse_duration(text, what=what)
    if seconds <= 0:
        raise UsageError(f"{what} must be more than 0 (e.g. 500ms, 5s), not {text!r}")
    return seconds


def read_seconds(value: object) -> float | None:
    """A length a provider reported, in seconds: a number, numeric text ("12.5") or
    text with units ("8s", "1m30s"); None for anything else, never an error."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            seconds: float | None = float(value)
        except OverflowError:  # an integer too large for a float
            return None
    elif isinstance(value, str):
        text = value.strip().lower()
        seconds = _plain(text)
        if seconds is None:
            seconds = _with_units(text)
    else:
        return None
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        return None
    return seconds


def parse_span(text: str, *, what: str, plain_seconds: bool = False) -> timedelta:
    """A span of time: 7d, 12h, 90m, 2w, 1d12h (and plain seconds where allowed)."""
    value = text.strip().lower()
    seconds = _plain(value) if plain_seconds else None
    if seconds is None or not 0 <= seconds < float("inf"):
        seconds = _with_units(value)
    if seconds is None:
        plain = ", or seconds (90)" if plain_seconds else ""
        raise UsageError(f"invalid {what} {text!r}: use a span such as 90d, 2w, 12h, 90m{plain}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise UsageError(f"invalid {what} {text!r}: too long a span") from None


def format_interval(seconds: float) -> str:
    """Seconds as a DURATION that reads back the same: "5s", "0.5s", "90s"."""
    seconds = float(seconds)
    return f"{int(seconds)}s" if seconds.is_integer() else f"{seconds!r}s"


def format_duration(seconds: float) -> str:
    """Short human form: 45s, 3m05s, 1h02m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
