"""A fake async HTTP client answering like the providers, and helpers to build a
watch over it (for the watch loop's and batching's tests)."""

from __future__ import annotations

import asyncio
import json
import time

from jobpoll.config import Endpoint
from jobpoll.engine.updates import PollOptions
from jobpoll.engine.watch import WatchLoop
from jobpoll.providers import get_provider
from jobpoll.providers.base import Answer
from jobpoll.refs import JobRef
from jobpoll.targets import Target


class FakeHttp:
    """Answers like the providers do, from a script per job: a list of
    (seconds since start, payload) steps, or a callable."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[float, str, dict]] = []
        self.started = time.monotonic()

    async def get(self, endpoint, request):
        now = time.monotonic() - self.started
        self.calls.append((now, request.path, dict(request.params)))
        await asyncio.sleep(0)
        return self.answer(endpoint, request, now)


def body(status_code: int, payload, headers=None) -> Answer:
    return Answer(status_code, headers or {}, json.dumps(payload).encode())


def endpoint(name: str, key: str = "k") -> Endpoint:
    return Endpoint(get_provider(name), "http://sim", key, "env", None, "env")


def single(**options) -> PollOptions:
    """Options for tests of single lookups (Muvi jobs would otherwise be listed)."""
    return PollOptions(batch=False, **options)


def targets(name: str, ids, key: str = "k"):
    ep = endpoint(name, key)
    return [Target(JobRef(name, i), ep) for i in ids]


def run(watcher: WatchLoop):
    updates = []
    stop = asyncio.run(watcher.run(updates.append))
    return stop, updates


def muvi_job(job_id, status, progress=None):
    data = {"jobId": job_id, "status": status, "progress": progress,
            "createdAt": "2026-11-26T06:00:00Z"}
    if status == "completed":
        data["outputs"] = [{"url": f"https://cdn/{job_id}.mp4", "type": "video"}]
    return data
