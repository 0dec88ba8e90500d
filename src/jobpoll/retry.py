"""Backoff with jitter, shared by one-shot lookups and the watch engine."""

from __future__ import annotations


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter for the n-th consecutive failure (1-based):
    spreads retries of many jobs so they do not hit a recovering provider together."""
    import random  # not at import time: most runs never retry

    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)
