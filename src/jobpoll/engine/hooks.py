"""`watch --exec CMD`: a shell command run once per job that reaches a final state.

The command sees the job in its environment (JOBPOLL_REF, JOBPOLL_PROVIDER,
JOBPOLL_ID, JOBPOLL_STATE, JOBPOLL_URL: empty where there is none, JOBPOLL_FILES:
the saved paths joined by newlines, no trailing newline) on top of jobpoll's own;
its output goes to jobpoll's stderr, so stdout stays the results'. It runs on the
event loop as a subprocess: the watch goes on polling meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from jobpoll.model import Job

HOOKS_AT_ONCE = 4  # hooks running at the same time; more wait their turn


@dataclass(frozen=True)
class HookResult:
    ref: str
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def line(self) -> str:
        """The one line that reports a failed hook."""
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"{self.ref}: the --exec command was killed by {name}"
        return f"{self.ref}: the --exec command exited with status {self.returncode}"


def hook_environment(job: Job, files: list[str], base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        JOBPOLL_REF=job.ref,
        JOBPOLL_PROVIDER=job.provider,
        JOBPOLL_ID=job.id,
        JOBPOLL_STATE=job.state.value,
        JOBPOLL_URL=job.url or "",
        JOBPOLL_FILES="\n".join(files),
    )
    return env


class Hooks:
    """Runs CMD for finished jobs, a few at a time."""

    def __init__(self, command: str, *, stderr: TextIO | None = None, at_once: int = HOOKS_AT_ONCE,
                 relay: Callable[[str], None] | None = None):
        self.command = command
        self._stderr = stderr
        self._gate = asyncio.Semaphore(at_once)
        # With a live display on the terminal, the hook's output is passed through it
        # line by line (else it would be written across the display's rows).
        self._relay = relay

    async def run(self, job: Job, files: list[str]) -> HookResult:
        out = self._stderr or sys.stderr
        out.flush()
        target: Any = out.fileno() if self._relay is None else asyncio.subprocess.PIPE
        async with self._gate:
            proc = await asyncio.create_subprocess_shell(
                self.command, env=hook_environment(job, files), stdin=asyncio.subprocess.DEVNULL,
                stdout=target, stderr=asyncio.subprocess.STDOUT if self._relay else target,
                start_new_session=True,  # Ctrl-C is jobpoll's to handle; the hook ends with it below
            )
            try:
                if self._relay is not None:
                    assert proc.stdout is not None
                    async for raw in proc.stdout:
                        self._relay(raw.decode("utf-8", "replace").rstrip("\n"))
                code = await proc.wait()
            except asyncio.CancelledError:
                _end(proc)
                raise
        return HookResult(job.ref, code)


def _end(proc: "asyncio.subprocess.Process") -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
