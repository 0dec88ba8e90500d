"""Exception types, one per exit-code family; cli.main turns them into one line."""

from __future__ import annotations

from jobpoll.exits import ExitCode

# An error line reaches a terminal and may quote a provider: C0/C1 controls and
# DEL (escape sequences, a bell, a carriage return) are shown as '?', line breaks
# and tabs as spaces, so the line stays one line of inert text.
_INERT = {i: "?" for i in (*range(0x20), *range(0x7F, 0xA0))}
_INERT.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})


class JobpollError(Exception):
    """An error the user should see as one line on stderr."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, *, job: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.job = job  # "provider:id" when the error is about one job
        self.hint = hint  # what to do about it

    def line(self) -> str:
        text = self.message
        if self.job:
            text = f"{self.job}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text.translate(_INERT)

    def for_job(self, job: str) -> "JobpollError":
        if self.job is None:
            self.job = job
        return self


class UsageError(JobpollError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The config file cannot be read or parsed."""


class AuthError(JobpollError):
    exit_code = ExitCode.AUTH


class NotFoundError(JobpollError):
    exit_code = ExitCode.NOT_FOUND


class UnavailableError(JobpollError):
    """Network failure, 5xx, unreadable answer: worth retrying, unless `retryable`
    is False (an untrusted certificate does not become trusted by asking again)."""

    exit_code = ExitCode.UNAVAILABLE
    retryable = True


class RateLimitedError(UnavailableError):
    """429: not a failure; wait until `retry_at` (epoch seconds) and go on. When the
    provider gave no usable time (`given` False: Retry-After 0, negative, unreadable
    or past), `retry_at` is a short floor and the wait counts as a retry."""

    def __init__(self, message: str, *, retry_at: float, given: bool = True, **kw):
        super().__init__(message, **kw)
        self.retry_at = retry_at
        self.given = given


class UnfinishedError(JobpollError, TimeoutError):
    """A watch's timeout passed before the job finished."""

    exit_code = ExitCode.UNFINISHED


class Interrupted(JobpollError):
    exit_code = ExitCode.INTERRUPTED
