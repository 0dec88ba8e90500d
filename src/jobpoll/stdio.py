"""The standard streams as a command line tool must treat them.

- A descriptor 0, 1 or 2 that the caller closed (`jobpoll status ... >&-`) is
  filled with /dev/null before anything opens a file: otherwise the config's
  temporary file or the history database would be given that number, and
  results meant for stdout would be written into it.
- Results that cannot be written to stdout (it was closed, the disk is full:
  ENOSPC, EIO) are an OutputError: one line on stderr and exit 74 (sysexits'
  EX_IOERR), never a traceback and never exit 0, since the results are lost. A
  reader that went away (`| head -1`, EPIPE) is not an error: main ends quietly.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on a failure only: `jobpoll --version` pays for nothing more
    from jobpoll.errors import OutputError


class _ClosedStdout(io.TextIOBase):
    """What sys.stdout is when the caller closed descriptor 1: writing fails."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not text:
            return 0
        raise OSError(errno.EBADF, "stdout is closed")

    def isatty(self) -> bool:
        return False


class GuardedStdout(io.TextIOBase):
    """sys.stdout with its write failures (but a closed pipe's) made OutputErrors."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from None

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    def __getattr__(self, name: str) -> Any:  # buffer, line_buffering, ...
        return getattr(self._stream, name)


def _output_error(exc: OSError) -> "OutputError":
    from jobpoll.errors import OutputError

    reason = "it is closed" if exc.errno == errno.EBADF else (exc.strerror or str(exc))
    return OutputError(f"cannot write the results to stdout: {reason}")


def guard_streams() -> None:
    """Fill closed descriptors 0-2 with /dev/null and guard stdout's writes."""
    closed_stdout = False
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if name == "stdout":
            closed_stdout = True
        elif getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
    if closed_stdout or sys.stdout is None:
        sys.stdout = _ClosedStdout()
    sys.stdout = GuardedStdout(sys.stdout)


def silence(fd: int) -> None:
    """Point descriptor `fd` at /dev/null: what is still buffered for it (and the
    interpreter's last flush) goes nowhere instead of failing again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def silence_stdout() -> None:
    silence(1)
