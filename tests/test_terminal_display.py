"""What a person sees at a terminal: live rows and final tables on real
pseudo-terminals (narrow, short, shared by stdout and stderr)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import time

import pytest

from conftest import FAST, TEST_KEY
from ptyrun import PtyRun, run_on_pty

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def plain(screen: bytes) -> str:
    return ESCAPES.sub("", screen.decode("utf-8", "replace")).replace("\r", "")


def test_a_muvi_failure_keeps_its_last_progress_rather_than_dropping_to_zero(sim, env):
    ref = f"muvi:{sim.add_job('muvi', queued=0, running=3.0, outcome='failed')}"
    code, screen, _ = run_on_pty(["watch", *FAST, ref], env, timeout=60)
    text = plain(screen)
    assert code == 1
    assert "50%" in text  # it was seen half way
    assert not re.search(r"(?<![\d.])0%", text), text[-3000:]  # never shown as 0%
    assert "failed" in text and TEST_KEY not in text


def test_a_muvi_failure_has_no_progress_in_pipes_and_json(sim, env):
    from conftest import run_cli

    ref = f"muvi:{sim.add_job('muvi', queued=0, running=0, outcome='failed')}"
    result = run_cli("status", ref, env=env)
    assert result.stdout.split("\t")[:3] == [ref, "failed", "-"]
    assert '"progress":null' in run_cli("status", "--json", ref, env=env).stdout


# ---- stdout and stderr on one terminal: results print above the live rows, whole ----------------


def _tmux_run(args, env, tmp_path, *, width=100, height=30):
    """Run jobpoll in a tmux pane (a real terminal emulator) until it exits: the
    pane's whole text, scrollback included, wrapped lines joined."""
    import shlex
    import sys

    from test_demo_tty import Pane

    pane = Pane(" ".join(shlex.quote(a) for a in [sys.executable, "-m", "jobpoll", *args]),
                {**env, "TERM": "xterm-256color"}, tmp_path, width=width, height=height)
    try:
        pane.wait_for(lambda screen: "EXIT=" in screen, timeout=90)
        import subprocess

        from test_demo_tty import TMUX

        return subprocess.run([TMUX, "-L", pane.socket, "capture-pane", "-p", "-J", "-S", "-"],
                              capture_output=True, text=True).stdout
    finally:
        pane.close()


def _shared_terminal_jobs(sim):
    return [f"muvi:{sim.add_job('muvi', queued=0.2, running=1.0 + i, progress='linear')}" for i in range(3)]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_watch_json_at_a_terminal_prints_whole_lines_above_the_live_rows(sim, env, tmp_path):
    refs = _shared_terminal_jobs(sim)
    text = _tmux_run(["watch", "--json", *FAST, *refs], env, tmp_path)
    assert "EXIT=0" in text, text
    body = text.split("EXIT=")[0]
    lines = [line for line in body.splitlines() if line.strip()]
    json_lines = [line for line in lines if "{" in line]
    assert json_lines, text
    finals = {}
    for line in json_lines:
        job = json.loads(line)  # whole: not glued to a status line, not cut by a redraw
        finals[f"{job['provider']}:{job['id']}"] = job["state"]
    assert finals == {ref: "done" for ref in refs}
    assert "elapsed" not in body and "━" not in body  # no stale frame of the live rows left


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_watch_field_url_at_a_terminal_prints_each_url_whole_on_its_own_line(sim, env, tmp_path):
    from conftest import run_cli

    refs = _shared_terminal_jobs(sim)
    text = _tmux_run(["watch", "--field", "url", *FAST, *refs], env, tmp_path, width=60)
    assert "EXIT=0" in text, text
    urls = run_cli("status", "--field", "url", *refs, env=env).stdout.split()
    body = text.split("EXIT=")[0]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert sorted(line for line in lines if "://" in line.split()[0]) == sorted(urls), text
    for line in lines:  # any other URL on the screen is whole too: the summary's "REF  URL"
        assert "://" not in line or line in urls or line.split()[-1] in urls, line
    assert "elapsed" not in body and "━" not in body  # no stale frame of the live rows left


# ---- list at a terminal: whole IDs, whole URLs after the table, when first seen -------------------


def test_list_at_a_terminal_gives_whole_ids_whole_urls_and_when_first_seen(sim, env):
    from conftest import run_cli

    refs = [f"pictory:{sim.add_job('pictory', queued=0, running=0)}",
            f"reelbot:{sim.add_job('reelbot', queued=0, running=0)}"]
    urls = run_cli("status", "--field", "url", *refs, env=env).stdout.split()
    code, screen, _ = run_on_pty(["list", "-p", "pictory", "-p", "reelbot"], env, timeout=60, cols=100)
    text = plain(screen)
    assert code == 0, text
    lines = text.splitlines()
    pictory_row = next(line for line in lines if line.startswith(refs[0]) and " done " in line)
    assert re.search(r" ~\d{4}-\d\d-\d\d \d\d:\d\d ", pictory_row), pictory_row  # when first seen
    assert "first saw the job" in text
    for ref, url in zip(refs, urls):
        assert any(line.split() == [ref, url] for line in lines), (ref, url, text)


# ---- narrow terminals: the state and what tells jobs apart come first ---------------------------


def _three_muvi_jobs(sim, running=0.0):
    return [f"muvi:{sim.add_job('muvi', queued=0, running=running, outcome=o)}"
            for o in ("done", "failed", "cancelled")]


def test_final_tables_on_a_40_column_terminal_keep_states_whole_and_ids_apart(sim, env):
    refs = _three_muvi_jobs(sim)
    code, screen, _ = run_on_pty(["status", *refs], env, timeout=60, cols=40)
    text = plain(screen)
    assert code == 0
    for ref, state in zip(refs, ("done", "failed", "cancelled")):
        row = next((line for line in text.splitlines() if line.split()[:1]
                    and line.split()[0].startswith("muvi:") and ref[-5:] in line.split()[0]), None)
        assert row is not None, (ref, text)
        assert row.split()[1] == state, row  # whole, never "fail…"
    assert "…" not in "".join(line.split()[1] for line in text.splitlines() if line.startswith("muvi:"))


def test_live_rows_on_a_40_column_terminal_show_state_and_the_end_of_each_id(sim, env):
    refs = [f"muvi:{sim.add_job('muvi', queued=0, running=600)}" for _ in range(3)]
    with PtyRun(["watch", *FAST, *refs], env, cols=40, rows=20) as run:
        assert run.wait_for(b"3 running", timeout=60)  # every job answered (the footer)
        time.sleep(0.5)  # a redraw or two with every row running
        run.send_signal(signal.SIGINT)
        code, screen, _ = run.finish(timeout=60)
    text = plain(screen)
    assert code == 130
    for ref in refs:
        rows = [line for line in text.splitlines() if ref[-6:] in line and "running" in line]
        assert rows, (ref, text[-2000:])  # told apart, with the state


def test_more_jobs_than_terminal_rows_says_how_many_are_not_shown(sim, env):
    refs = [f"muvi:{sim.add_job('muvi', queued=0, running=600)}" for _ in range(25)]
    with PtyRun(["watch", *FAST, *refs], env, cols=120, rows=15) as run:
        assert run.wait_for(b"25 running", timeout=60)  # every job answered (the footer)
        run.send_signal(signal.SIGINT)
        code, screen, _ = run.finish(timeout=60)
    text = plain(screen)
    assert code == 130
    # 15 lines: 12 rows, the "+13 more" line, the footer, the line the cursor rests on.
    assert "+13 more (13 unfinished)" in text, text[-3000:]
