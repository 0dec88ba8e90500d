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


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_ending_is_written_at_once_anything_else_at_most_every_ten_seconds():
    history, clock = FakeHistory(), Clock()
    recorder = HistoryRecorder(history, every=3600, clock=clock)  # the test flushes by hand
    recorder.update(seen("a", State.RUNNING, 10.0, Kind.SEEN))
    recorder.update(seen("b", State.QUEUED, kind=Kind.SEEN))
    recorder.update(seen("c", State.QUEUED, kind=Kind.SEEN))
    clock.now += 1
    recorder._flush()
    assert history.writes == []  # first seen a second ago: not yet
    recorder.update(seen("b", State.RUNNING, 5.0))  # a new state: with the next write
    recorder.update(seen("c", State.DONE, 100.0, Kind.FINAL))  # an ending: now
    clock.now += 1
    recorder._flush()
    assert history.writes == [[("c", "done", 100.0)]]
    recorder.update(seen("a", State.RUNNING, 20.0))
    clock.now += 8  # ten seconds since a and b were first seen: their latest, one row each
    recorder._flush()
    assert history.writes[-1] == [("a", "running", 20.0), ("b", "running", 5.0)]
    recorder.update(seen("a", State.RUNNING, 30.0))
    recorder.update(seen("b", State.FAILED, kind=Kind.FINAL))
    clock.now += 1
    recorder._flush()
    assert history.writes[-1] == [("b", "failed", None)]  # a was written a second ago
    clock.now += 9
    recorder.update(seen("a", State.RUNNING, 40.0))
    recorder._flush()
    assert history.writes[-1] == [("a", "running", 40.0)]
    recorder.update(seen("a", State.RUNNING, 50.0))
    recorder.close()  # whatever is left is written at the end
    assert history.writes[-1] == [("a", "running", 50.0)] and history.closed
    assert len(history.writes) == 5
