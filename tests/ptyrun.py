"""`python -m jobpoll` on a real pseudo-terminal, for the tests that check what a
terminal is sent (the live display, the summary table, escapes that must not pass)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time


class PtyRun:
    """`python -m jobpoll ARGS` with stderr, and stdout unless `stdout_pty` is false
    (then a pipe), on a pseudo-terminal of `rows` x `cols` with TERM set; `screen`
    collects every byte the terminal receives. Use as a context manager: leaving it
    kills the command if it still runs."""

    def __init__(self, args, env: dict[str, str], *, stdout_pty: bool = True,
                 rows: int = 40, cols: int = 120):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobpoll", *args], env={**env, "TERM": "xterm-256color"},
            stdin=subprocess.DEVNULL, stdout=slave if stdout_pty else subprocess.PIPE, stderr=slave,
        )
        os.close(slave)  # the child's copy is the only one left: its exit ends the reads
        self._master: int | None = master
        self.screen = bytearray()
        self._reader = threading.Thread(target=self._pump, args=(master,), daemon=True)
        self._reader.start()

    def _pump(self, master: int) -> None:
        # A thread, not reads after the exit: a full pty buffer would block the command.
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not chunk:
                return
            self.screen.extend(chunk)

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        """Whether `needle` reached the terminal within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while needle not in self.screen and time.monotonic() < deadline:
            time.sleep(0.1)
        return needle in self.screen

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float) -> tuple[int, bytes, bytes]:
        """Wait for the end: (exit code, what the terminal got, stdout when it was a pipe)."""
        out = self.proc.stdout.read() if self.proc.stdout else b""
        code = self.proc.wait(timeout=timeout)
        self.close()
        return code, bytes(self.screen), out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._reader.join(timeout=5)
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def __enter__(self) -> "PtyRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_on_pty(args, env: dict[str, str], *, timeout: float, **terminal) -> tuple[int, bytes, bytes]:
    """Run to the end (see PtyRun for `terminal`): (exit code, what the terminal got,
    stdout when it was a pipe)."""
    with PtyRun(args, env, **terminal) as run:
        return run.finish(timeout)
