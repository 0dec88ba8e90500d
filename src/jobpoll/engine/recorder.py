"""The history's writer while watching: jobs recorded as they change, off the
event loop."""

from __future__ import annotations

import threading
import time
from typing import Any

from jobpoll.engine.updates import Update

HISTORY_EVERY = 1.0  # seconds between history writes while watching: changes are batched
PROGRESS_EVERY = 10.0  # seconds: a job whose progress alone moved is written at most this often


class HistoryRecorder:
    """Writes seen jobs to the history from a thread of its own: at first sight, on
    a change of state and at the end within a second (one transaction a second),
    a job whose progress or message alone moved at most every PROGRESS_EVERY (the
    history keeps the latest state of a job; ten progress ticks are one row written
    ten times), and whatever is left at the end. A history that another process
    holds locked delays these writes, never the polling. `close()` closes the
    history too."""

    def __init__(self, history: Any, every: float = HISTORY_EVERY):
        self.history = history
        self.every = every
        self.pending: dict[tuple[str, str], Any] = {}
        self.written: dict[tuple[str, str], tuple[float, Any]] = {}  # when, and in which state
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jobpoll-history", daemon=True)
        self.thread.start()

    def update(self, update: Update) -> None:
        job = update.new_state
        if job is not None:
            with self.lock:
                self.pending[(job.provider, job.id)] = job

    def _flush(self, everything: bool = False) -> None:
        now = time.monotonic()
        with self.lock:
            if everything:
                due = self.pending
                self.pending = {}
            else:
                due = {key: job for key, job in self.pending.items() if self._due(key, job, now)}
                for key in due:
                    del self.pending[key]
            for key, job in due.items():
                self.written[key] = (now, job.state)
        if due:
            self.history.record(list(due.values()))

    def _due(self, key: tuple[str, str], job: Any, now: float) -> bool:
        last = self.written.get(key)
        return last is None or job.state is not last[1] or job.terminal or now - last[0] >= PROGRESS_EVERY

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            self._flush()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()  # a write under way ends first: one writer on the connection
        try:
            self._flush(everything=True)
        finally:
            self.history.close()
