"""What a person sees at a terminal: live rows and final tables on real
pseudo-terminals (narrow, short, shared by stdout and stderr)."""

from __future__ import annotations

import re

from conftest import FAST, TEST_KEY
from ptyrun import run_on_pty

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
