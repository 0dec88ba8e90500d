"""What `watch --download DIR` / `--exec CMD` do with a job that reaches a final
state: its outputs saved, then the hook run; as tasks on the watch's own event
loop, so polling the other jobs goes on meanwhile. Downloads share one client and
a bounded number of connections; the watch waits for every task before it ends
(`drain`), and cancels them on Ctrl-C (`cancel`), keeping the `.part` files.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from jobpoll.errors import JobpollError

if TYPE_CHECKING:
    from jobpoll.engine.download import Downloader
    from jobpoll.engine.hooks import HookResult, Hooks
    from jobpoll.model import Job


@dataclass
class Finished:
    """A job after its download and hook."""

    job: "Job"
    files: list[str] = field(default_factory=list)
    errors: list[JobpollError] = field(default_factory=list)  # downloads that failed for good
    hook: "HookResult | None" = None

    @property
    def ok(self) -> bool:
        return not self.errors and (self.hook is None or self.hook.ok)


@dataclass
class FinishOptions:
    directory: Path | None = None  # --download DIR; None: nothing saved
    types: tuple[str, ...] = ("video",)
    template: str | None = None
    retries: int = 5
    command: str | None = None  # --exec CMD
    relay: Callable[[str], None] | None = None  # where the hook's output lines go (else stderr)
    progress: Any = None
    log: Callable[[str], None] | None = None
    renew: Any = None  # see Downloader


class Finisher:
    """Runs each final job's download, then its hook; reports through `on_saved`
    (the download is over: files and errors known) and `on_done` (the hook too)."""

    def __init__(self, options: FinishOptions, on_done: Callable[[Finished], None],
                 on_saved: Callable[[Finished], None] | None = None):
        self._options = options
        self._on_done = on_done
        self._on_saved = on_saved
        self._tasks: list[asyncio.Task] = []
        self._client: Any = None
        self._downloader: "Downloader | None" = None
        self._hooks: "Hooks | None" = None
        self.finished: list[Finished] = []

    @property
    def busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def submit(self, job: "Job") -> None:
        """Start on a job that just reached its final state (call on the loop)."""
        self._tasks.append(asyncio.get_running_loop().create_task(self._finish(job)))

    async def drain(self) -> list[Finished]:
        """Wait for every submitted job, those submitted meanwhile included."""
        try:
            while self.busy:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            await self._close()
        return self.finished

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close()

    async def _finish(self, job: "Job") -> None:
        done = Finished(job)
        options = self._options
        if options.directory is not None:
            from jobpoll.engine.names import plan_job

            try:
                items = plan_job(job, options.types, options.template)
            except JobpollError as exc:
                done.errors.append(exc)
                items = []
            if items:
                try:
                    saved = await self._downloads().save(items)
                    done.files, done.errors = saved.files, saved.errors
                except Exception as exc:  # noqa: BLE001 - one job's surprise must not hide its line
                    done.errors.append(JobpollError(
                        f"could not save its outputs: {type(exc).__name__}: {exc}", job=job.ref))
        if self._on_saved is not None:
            self._on_saved(done)
        if options.command is not None:
            if self._hooks is None:
                from jobpoll.engine.hooks import Hooks

                self._hooks = Hooks(options.command, relay=options.relay)
            done.hook = await self._hooks.run(job, done.files)
        self.finished.append(done)
        self._on_done(done)

    def _downloads(self) -> "Downloader":
        if self._downloader is None:
            from jobpoll.engine.download import Downloader, open_client

            options = self._options
            assert options.directory is not None
            self._client = open_client()
            self._downloader = Downloader(self._client, options.directory, retries=options.retries,
                                          progress=options.progress, log=options.log, renew=options.renew)
        return self._downloader

    async def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
