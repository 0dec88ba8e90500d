"""Nothing is lost when a writer dies (issue 6; SPEC "Safety").

Two `config set-key` at once leave a valid file holding one of the two values:
tests/test_cli_config.py::test_concurrent_set_key_leaves_a_valid_file_with_one_of_the_keys
(and ..._of_different_settings_lose_nothing) cover it. Here: a writer killed with
SIGKILL in the middle of writing, for the config file and for the history.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

from conftest import run_cli, wait_until

OLD_KEY = "sk-old-0123456789abcdef"
NEW_KEY = "sk-new-fedcba9876543abc"

# `config set-key` that writes half of the new file, then stalls before the rest.
HALF_WRITE = textwrap.dedent("""
    import os, sys, time
    real_write = os.write
    calls = []
    def write(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        print("HALF-WRITTEN", flush=True)
        time.sleep(120)
    os.write = write
    from jobpoll.cli import main
    main(sys.argv[1:])
""")


def _config(env) -> Path:
    return Path(env["JOBPOLL_CONFIG"])


def test_a_writer_killed_mid_write_leaves_the_old_config_whole(env):
    del env["JOBPOLL_MUVI_API_KEY"]  # the file's key is the one in use
    assert run_cli("config", "set-key", "muvi", "--value", OLD_KEY, env=env).returncode == 0
    assert run_cli("config", "set", "muvi.interval", "7s", env=env).returncode == 0
    config = _config(env)
    before = config.read_bytes()

    writer = subprocess.Popen(
        [sys.executable, "-c", HALF_WRITE, "config", "set-key", "muvi", "--value", NEW_KEY],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "HALF-WRITTEN", writer.stderr.read()
        temps = list(config.parent.glob(".config.toml.*.tmp"))
        assert len(temps) == 1 and 0 < temps[0].stat().st_size < len(before) + 10
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL

    # The old file: the same bytes, still valid, still used.
    assert config.read_bytes() == before
    assert tomllib.loads(config.read_text())["providers"]["muvi"] == {"api_key": OLD_KEY, "interval": "7s"}
    shown = run_cli("config", "show", "--json", env=env)
    assert shown.returncode == 0 and "****cdef" in shown.stdout, shown.stderr

    # The lock died with the writer; the next write succeeds and clears the leftover.
    later = run_cli("config", "set-key", "muvi", "--value", NEW_KEY, env=env, timeout=30)
    assert later.returncode == 0, later.stderr
    assert tomllib.loads(config.read_text())["providers"]["muvi"] == {"api_key": NEW_KEY, "interval": "7s"}
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]
    assert config.stat().st_mode & 0o777 == 0o600
    assert "****3abc" in run_cli("config", "show", "--json", env=env).stdout


def history_mark(path: Path) -> tuple | None:
    """Rows and the latest check time in the history: it changes with each write
    (None while the history cannot be read yet)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute("SELECT COUNT(*), max(checked_at) FROM jobs").fetchone()
    except sqlite3.Error:
        return None


def test_a_watch_killed_while_recording_leaves_a_whole_history(sim, env):
    """SIGKILL a watch of 120 jobs at moments when it is writing the history (it
    records changes about once a second): the history opens, passes SQLite's
    integrity check, and every row in it is whole and readable."""
    refs = [f"pictory:{sim.add_job('pictory', queued=0.1, running=0.3 + i / 40)}" for i in range(120)]
    path = Path(env["JOBPOLL_HISTORY"])
    for delay in (0.05, 0.7):
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobpoll", "watch", "--json", "-i", "0.2", "--max-interval", "0.5", *refs],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        # The kill lands just after a write and in the middle of the next second's,
        # counted from the first write of this run (start-up takes seconds on a loaded
        # machine; counted from the start, the kill could come before any write).
        before = history_mark(path)
        wait_until(lambda: history_mark(path) not in (None, before) or proc.poll() is not None)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        listed = run_cli("list", "--json", "-p", "pictory", env=env)
        assert listed.returncode == 0 and "warning" not in listed.stderr, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if line.strip()]
    assert rows, "nothing was recorded before the kills"
    # A later watch finishes the jobs and records every one.
    done = run_cli("watch", "--json", "-i", "0.2", *refs, env=env)
    assert done.returncode == 0, done.stderr
    listed = run_cli("list", "--json", "-p", "pictory", env=env)
    assert listed.stdout.count('"state":"done"') >= len(refs)
