"""stdout that cannot take the results: closed by the caller (`>&-`) or full
(`/dev/full`, ENOSPC). One line on stderr and exit 74 (EX_IOERR), never a
traceback and never exit 0; a reader that went away (`| head -1`) stays quiet."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import FAST, TEST_KEY


def run(args, env, *, stdout) -> subprocess.CompletedProcess:
    """jobpoll with stdout closed ("closed") or on /dev/full ("full")."""
    if stdout == "closed":
        return subprocess.run([sys.executable, "-m", "jobpoll", *args], env=env, stdin=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1), timeout=120)
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "jobpoll", *args], env=env, stdin=subprocess.DEVNULL,
                              stdout=full, stderr=subprocess.PIPE, timeout=120)


def assert_one_line(result, reason: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 74, stderr
    assert stderr.splitlines() == [f"jobpoll: error: cannot write the results to stdout: {reason}"]
    assert TEST_KEY not in stderr


@pytest.mark.parametrize("stdout,reason", [("closed", "it is closed"),
                                           ("full", "No space left on device")])
@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["watch", *FAST],
                                     ["watch", "--json", *FAST], ["watch", "--field", "url", *FAST]])
def test_results_that_cannot_be_written_are_one_line_and_exit_74(sim, env, stdout, reason, command):
    ref = f"muvi:{sim.add_job('muvi', queued=0, running=0.3)}"
    result = run([*command, ref], env, stdout=stdout)
    assert_one_line(result, reason)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["config", "path"], ["providers"],
                                  ["list", "-p", "muvi", "--limit", "3"]])
def test_every_command_that_prints_says_so_on_a_full_disk(sim, env, args):
    # A job of its own for `list` to print: the session simulator of this worker
    # (pytest-xdist) may hold none yet.
    sim.add_job("muvi", queued=0, running=0)
    assert_one_line(run(args, env, stdout="full"), "No space left on device")


def test_a_closed_stdout_is_no_error_for_a_command_that_prints_nothing_there(env):
    result = run(["config", "set-key", "muvi", "--value", "sk-closed-stdout-123456"], env, stdout="closed")
    assert result.returncode == 0, result.stderr
    assert b"saved the muvi key" in result.stderr


def test_a_reader_that_went_away_still_ends_quietly(sim, env):
    refs = [f"muvi:{sim.add_job('muvi', queued=0, running=0)}" for _ in range(50)]
    result = subprocess.run(f"{sys.executable} -m jobpoll status {' '.join(refs)} | head -1",
                            shell=True, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0
    assert result.stderr == b""
    assert len(result.stdout.splitlines()) == 1
