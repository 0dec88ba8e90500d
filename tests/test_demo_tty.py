"""The terminal display checked for real: `jobpoll demo` in a tmux pane (what a
person sees, screen captures), and `jobpoll watch` on a pseudo-terminal."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import TEST_KEY, clean_env
from ptyrun import run_on_pty

TMUX = shutil.which("tmux")


class Pane:
    """A detached tmux session of its own (private socket) running one command."""

    def __init__(self, command: str, env: dict[str, str], tmp_path, width=120, height=40):
        self.socket = f"jobpoll-test-{uuid.uuid4().hex[:8]}"
        script = tmp_path / "run.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()
                          if k.isidentifier())
        # The pane stays after the command so its last screen can be read.
        script.write_text(f"{exports}{command}\necho EXIT=$?\nsleep 120\n")
        subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", "new-session", "-d",
                        "-x", str(width), "-y", str(height), f"sh {shlex.quote(str(script))}"],
                       check=True, env=env)

    def screen(self) -> str:
        return subprocess.run([TMUX, "-L", self.socket, "capture-pane", "-p"],
                              capture_output=True, text=True).stdout

    def wait_for(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"screen never matched; last screen:\n{screen}")

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.slow("`jobpoll demo` as a user runs it, in its own simulator: its jobs take 5-15 s by design")
def test_demo_shows_live_rows_bars_and_then_the_summary(tmp_path):
    env = clean_env(tmp_path)
    env["TERM"] = "xterm-256color"
    # Tall enough for the summary of all eleven demo jobs, long URLs wrapped.
    pane = Pane(f"{shlex.quote(sys.executable)} -m jobpoll demo", env, tmp_path, height=70)
    try:
        def live(screen: str) -> bool:
            rows = [l for l in screen.splitlines() if l.startswith(("pictory:", "muvi:"))]
            return (
                any("running" in l and "━" in l and "%" in l for l in rows)
                and "elapsed" in screen
            )

        during = pane.wait_for(live, timeout=60)
        for provider in ("json2video:", "pictory:", "muvi:", "reelbot:"):
            assert provider in during
        footer = [l for l in during.splitlines() if "elapsed" in l]
        assert footer and "done" in footer[0]

        after = pane.wait_for(lambda s: "EXIT=" in s, timeout=90)
        assert "EXIT=0" in after
        assert "ran as designed" in after
        lines = after.splitlines()
        # The summary table: every job with its ending, URLs or the error.
        demo_providers = ("json2video:", "pictory:", "muvi:", "reelbot:", "shotstack:", "runway:", "replicate:")
        assert sum(1 for l in lines if l.startswith(demo_providers) and " done " in l) == 10
        assert any(" failed " in l and "Error rendering scene" in l for l in lines)
        assert "https://" in after
        assert "Traceback" not in after
        assert "━" not in after.split("ran as designed")[0].split("JOB")[-1]  # bars gone: the table stays
    finally:
        pane.close()


def test_watch_at_a_terminal_draws_bars_then_a_table(sim, env):
    refs = [f"pictory:{sim.add_job('pictory', queued=0.2, running=3.0)}",
            f"muvi:{sim.add_job('muvi', queued=0.2, running=3.0, outcome='failed')}"]
    code, screen, _ = run_on_pty(["watch", "-i", "0.2", "--max-interval", "1", *refs], env, timeout=60)
    screen = screen.decode("utf-8", "replace")
    assert code == 1
    assert "━" in screen and "\x1b[" in screen  # a live display was drawn
    assert "%" in screen
    assert "JOB" in screen and "STATE" in screen  # the summary table
    assert "Traceback" not in screen and TEST_KEY not in screen


def test_json_on_a_pipe_stays_clean_while_the_terminal_on_stderr_shows_progress(sim, env):
    refs = [f"muvi:{sim.add_job('muvi', queued=0.2, running=2.0, progress='linear')}"]
    code, screen, out = run_on_pty(["watch", "--json", "-i", "0.2", *refs], env, stdout_pty=False, timeout=60)
    screen, out = screen.decode("utf-8", "replace"), out.decode()
    assert code == 0
    assert "\x1b" not in out
    lines = [json.loads(l) for l in out.splitlines()]
    assert lines[-1]["state"] == "done"
    assert "━" in screen  # the live display went to the terminal on stderr
