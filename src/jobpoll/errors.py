"""Exception types, one per exit-code family; cli.main turns them into one line."""

from __future__ import annotations

from jobpoll.exits import ExitCode

# Text from a provider (or a hostile server) reaches a terminal: C0/C1 controls
# and DEL (escape sequences, a bell, a carriage return; U+009B is an 8-bit CSI to
# many terminals) and the bidirectional controls (U+202E turns "gpj.exe" around)
# are shown as '?'; line breaks and tabs (U+2028/2029 too) as spaces, so a line
# stays one line of inert text that reads as it is.
BIDI_CONTROLS = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_INERT = {i: "?" for i in (*range(0x20), *range(0x7F, 0xA0), *BIDI_CONTROLS)}
_INERT.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " ", 0x2028: " ", 0x2029: " "})

# SPEC: an error or warning line is at most this long, its prefix included.
LINE_LIMIT = 1000
_PREFIX_ROOM = len("jobpoll: warning: ")


def inert(text: str) -> str:
    """`text` with every control shown as '?' or a space (see _INERT)."""
    return text.translate(_INERT)


def clip_line(line: str, limit: int = LINE_LIMIT) -> str:
    """A line of at most `limit` characters. A longer one gives up its middle,
    where a long value sits (a provider's message, a reference): its start says
    what it is about and its end what to do, so both stay."""
    if len(line) <= limit:
        return line
    head = (limit - 1) * 2 // 3
    return line[:head] + "…" + line[len(line) - (limit - 1 - head):]


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
        return clip_line(inert(text), LINE_LIMIT - _PREFIX_ROOM)

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


class OutputError(JobpollError):
    """stdout cannot take the results: it was closed, or the disk is full (stdio.py)."""

    exit_code = ExitCode.OUTPUT
