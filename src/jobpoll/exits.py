"""Exit codes: the numbers scripts branch on (SPEC.md, "Exit status")."""

from __future__ import annotations

from enum import IntEnum
from typing import Iterable


class ExitCode(IntEnum):
    OK = 0  # every job done (watch), every lookup answered (status, list)
    JOB_FAILED = 1  # a job ended failed, cancelled, timeout or expired
    USAGE = 2  # bad option, bad job ID, unknown provider, unreadable config
    AUTH = 3  # no key, or the provider rejected it
    NOT_FOUND = 4  # the provider does not know the job
    UNFINISHED = 5  # watch --timeout passed / status --exit-status with a job not finished
    UNAVAILABLE = 6  # network, 5xx, unreadable answers after retries
    OUTPUT = 74  # stdout could not take the results (closed, disk full): sysexits' EX_IOERR
    INTERRUPTED = 130  # Ctrl-C / SIGTERM


# Several jobs, several outcomes: the first of these that occurs wins.
_PRECEDENCE = [
    ExitCode.INTERRUPTED,
    ExitCode.OUTPUT,
    ExitCode.USAGE,
    ExitCode.AUTH,
    ExitCode.UNAVAILABLE,
    ExitCode.NOT_FOUND,
    ExitCode.JOB_FAILED,
    ExitCode.UNFINISHED,
    ExitCode.OK,
]


def combine(codes: Iterable[int]) -> ExitCode:
    """The one exit code for several outcomes, by SPEC.md's precedence."""
    seen = set(codes)
    for code in _PRECEDENCE:
        if code in seen:
            return code
    return ExitCode.OK
