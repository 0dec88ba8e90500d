"""What the watch engine tells its caller: updates as they happen, and each job's
outcome at the end. Plain data, shared by the engine, the CLI's views and the
library's `watch()`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Iterable

from jobpoll.errors import JobpollError
from jobpoll.exits import ExitCode
from jobpoll.model import Job

if TYPE_CHECKING:
    from jobpoll.refs import JobRef

MAX_IN_FLIGHT = 32  # per route: enough to keep a provider busy, not enough to look like an attack


class Kind(str, Enum):
    SEEN = "seen"  # first answer for a job (not finished)
    CHANGED = "changed"  # state, progress or message changed
    FINAL = "final"  # reached a terminal state (possibly at first sight)
    ERROR = "error"  # ended without a terminal state: auth, not found, usage, abandoned
    RETRYING = "retrying"  # a lookup failed and will be tried again
    RATE_LIMITED = "rate_limited"  # the provider said 429: everything of its key waits
    HEARTBEAT = "heartbeat"  # unchanged for --heartbeat
    WARNING = "warning"  # worth a line on stderr, not an ending


NEW_STATE_KINDS = frozenset({Kind.SEEN, Kind.CHANGED, Kind.FINAL})


class Stop(str, Enum):
    FINISHED = "finished"
    DEADLINE = "deadline"
    FAIL_FAST = "fail_fast"
    INTERRUPTED = "interrupted"


@dataclass
class PollOptions:
    interval: float | None = None  # -i; None: the endpoint's configured, else the provider's
    max_interval: float = 60.0
    deadline: float | None = None  # monotonic (the command counts -t from its own start)
    retries: int = 5
    fail_fast: bool = False
    heartbeat: float = 60.0  # 0: off
    max_in_flight: int = MAX_IN_FLIGHT
    batch: bool = True


@dataclass
class Update:
    kind: Kind
    ref: str
    job: Job | None  # the last known state, whatever the kind
    error: JobpollError | None = None
    text: str | None = None
    until: float | None = None  # RATE_LIMITED: epoch seconds when requests resume
    quiet_for: float = 0.0  # HEARTBEAT: seconds without a change
    files: list[str] | None = None  # FINAL with watch --download: the saved paths

    @property
    def new_state(self) -> Job | None:
        """The job, when this update brings a new state of it (first sight, a change,
        the ending): what stdout and the history record. Else None."""
        return self.job if self.kind in NEW_STATE_KINDS else None

    @property
    def provider(self) -> str:
        """The provider's name: `ref` is PROVIDER:ID, or the bare name for an update
        about a whole provider (a listing's 429, a list that kept failing)."""
        return self.ref.split(":", 1)[0]


@dataclass
class JobResult:
    ref: "JobRef"
    job: Job | None
    error: JobpollError | None
    finished: bool

    def exit_code(self, stop: Stop) -> ExitCode | None:
        """This job's part of the exit status (None: it says nothing)."""
        from jobpoll.engine.lookup import job_exit_code

        if self.error is not None:
            return ExitCode(self.error.exit_code)
        if self.finished and self.job is not None:
            return job_exit_code(self.job, finished=True)
        if stop is Stop.DEADLINE:
            return ExitCode.UNFINISHED
        if stop is Stop.INTERRUPTED:
            return ExitCode.INTERRUPTED
        return None  # left unfinished by --fail-fast: the job that failed speaks


def watch_exit_code(results: "Iterable[JobResult]", stop: Stop, errors: "Iterable[JobpollError]" = ()) -> ExitCode:
    """A watch's one exit status by SPEC's precedence: the references that could
    not be watched, every job's part, and an interruption."""
    from jobpoll.exits import combine

    codes = [int(error.exit_code) for error in errors]
    codes.extend(c for c in (r.exit_code(stop) for r in results) if c is not None)
    if stop is Stop.INTERRUPTED:
        codes.append(ExitCode.INTERRUPTED)
    return combine(codes)
