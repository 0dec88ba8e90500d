"""DURATION values: plain seconds ("0.5", "90") or with units ("500ms", "1h30m")."""

from __future__ import annotations

import re

from jobpoll.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int, *, what: str = "duration") -> float:
    """Seconds for a DURATION; UsageError for anything else (negative included)."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        value = text.strip().lower()
        try:
            seconds = float(value)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(value):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(value) or not value:
                raise UsageError(
                    f"invalid {what} {text!r}: use seconds (90, 0.5) or units (500ms, 90s, 15m, 1h30m)"
                ) from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise UsageError(f"invalid {what} {text!r}: must be a finite number of seconds, 0 or more")
    return seconds


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
