"""Blocking calls awaited from the event loop, on daemon threads.

A watch of a few jobs sends its requests with the blocking HTTP client (the one
`status` uses) on a handful of these threads: no anyio or aiohttp to import, so it
starts as fast as `status`, and every request keeps that client's total deadline.
Daemon threads, not asyncio's default executor: on Ctrl-C the watch ends at once
instead of waiting for a request under way (asyncio.run joins its executor).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable


class DaemonThreads:
    """Up to `limit` daemon threads, started as work arrives."""

    def __init__(self, limit: int):
        self._limit = max(1, limit)
        self._work: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """`fn(*args)` on a thread; a future of its result for the running loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._work.put((loop, future, fn, args))
        with self._lock:
            if self._idle <= 0 and self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._serve, name="jobpoll-http", daemon=True).start()
            else:
                self._idle -= 1  # this item is that idle thread's
        return future

    def close(self) -> None:
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._work.put(None)

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            loop, future, fn, args = item
            if not future.cancelled():
                try:
                    outcome = (True, fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    outcome = (False, exc)
                try:
                    loop.call_soon_threadsafe(_settle, future, outcome)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    pass
            with self._lock:
                self._idle += 1


def _settle(future: "asyncio.Future[Any]", outcome: tuple[bool, Any]) -> None:
    if future.cancelled():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
