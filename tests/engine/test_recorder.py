"""The history's writer while watching (engine/recorder.py): what is written when."""

from __future__ import annotations

from jobpoll.engine.recorder import HistoryRecorder
from jobpoll.engine.updates import Kind, Update
from jobpoll.model import Job, State


class FakeHistory:
    def __init__(self):
        self.writes: list[list[tuple]] = []
        self.closed = False

    def record(self, jobs):
        self.writes.append([(j.id, j.state.value, j.progress) for j in jobs])

    def close(self):
        self.closed = True


def seen(job_id, state, progress=None, kind=Kind.CHANGED):
    job = Job("pictory", job_id, state, state.value, progress=progress)
    return Update(kind, f"pictory:{job_id}", job)


def test_a_state_change_is_written_at_once_progress_alone_at_most_every_ten_seconds():
    history = FakeHistory()
    recorder = HistoryRecorder(history, every=3600)  # the test flushes by hand
    recorder.update(seen("a", State.RUNNING, 10.0, Kind.SEEN))
    recorder.update(seen("b", State.QUEUED, kind=Kind.SEEN))
    recorder._flush()
    assert history.writes == [[("a", "running", 10.0), ("b", "queued", None)]]
    recorder.update(seen("a", State.RUNNING, 20.0))  # progress alone: not yet
    recorder.update(seen("b", State.RUNNING, 5.0))  # a new state: now
    recorder._flush()
    assert history.writes[-1] == [("b", "running", 5.0)]
    recorder.update(seen("a", State.RUNNING, 30.0))
    recorder.update(seen("a", State.DONE, 100.0, Kind.FINAL))  # the ending: now, the latest
    recorder.update(seen("b", State.RUNNING, 6.0))
    recorder._flush()
    assert history.writes[-1] == [("a", "done", 100.0)]
    recorder.close()  # whatever is left is written at the end
    assert history.writes[-1] == [("b", "running", 6.0)] and history.closed
