"""The request log: every request any of the simulator's listeners received."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from ._settings import LOG_SIZE


class RequestLog:
    """The last `size` requests, oldest first, with the status each was answered.

    Entries are compact lists [t, origin, method, path, query string, headers,
    status]; header sets repeat, so equal ones are shared through a cache.
    """

    def __init__(self, lock: threading.RLock, size: int = LOG_SIZE) -> None:
        self._lock = lock
        self._entries: collections.deque[list] = collections.deque(maxlen=size)
        self._header_cache: dict[tuple, tuple[tuple[str, str], ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, origin: str, request: Any) -> list:
        """Log a request as it arrives; the caller fills in the status (entry[6])."""
        raw = request.raw_headers
        cache = self._header_cache
        headers = cache.get(raw)
        if headers is None:
            if len(cache) > 4096:
                cache.clear()
            headers = cache[raw] = tuple(
                (k.decode("utf-8", "surrogateescape").lower(),
                 v.decode("utf-8", "surrogateescape")) for k, v in raw)
        entry = [time.time(), origin, request.method, request.path,
                 request.query_string, headers, None]
        self._entries.append(entry)
        return entry

    def entries(self, *, origin: str | None = None, path: str | None = None,
                since: float | None = None) -> list[dict]:
        """The log as dicts, oldest first (optionally filtered: origin, path prefix, t >= since)."""
        with self._lock:
            entries = list(self._entries)
        if origin is not None:
            entries = [e for e in entries if e[1] == origin]
        if path is not None:
            entries = [e for e in entries if e[3].startswith(path)]
        if since is not None:
            entries = [e for e in entries if e[0] >= since]
        return [{"t": t, "origin": o, "method": m, "path": p,
                 "query": dict(parse_qsl(qs, keep_blank_values=True)) if qs else {},
                 "headers": dict(h), "status": st}
                for t, o, m, p, qs, h, st in entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def resize(self, size: int) -> None:
        """Keep the last `size` entries from now on."""
        with self._lock:
            if size != self._entries.maxlen:
                self._entries = collections.deque(self._entries, maxlen=size)
