"""The history's writer while watching: jobs recorded as they change, off the
event loop."""

from __future__ import annotations

import threading
from typing import Any

from jobpoll.engine.updates import Update

HISTORY_EVERY = 1.0  # seconds between history writes while watching: changes are batched


class HistoryRecorder:
    """Writes seen jobs to the history from a thread of its own: at first sight and
    on changes, batched to at most once a second (one transaction each), and
    whatever is left at the end. A history that another process holds locked
    delays these writes, never the polling. `close()` closes the history too."""

    def __init__(self, history: Any, every: float = HISTORY_EVERY):
        self.history = history
        self.every = every
        self.pending: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jobpoll-history", daemon=True)
        self.thread.start()

    def update(self, update: Update) -> None:
        job = update.new_state
        if job is not None:
            with self.lock:
                self.pending[(job.provider, job.id)] = job

    def _flush(self) -> None:
        with self.lock:
            jobs = list(self.pending.values())
            self.pending.clear()
        if jobs:
            self.history.record(jobs)

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            self._flush()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()  # a write under way ends first: one writer on the connection
        try:
            self._flush()
        finally:
            self.history.close()
