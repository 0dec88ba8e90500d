"""When Python's garbage collector runs in a jobpoll process (collector.py): not
while a command starts, at a steady pace again once a watch is polling (it may run
for hours), and not over every live object at exit."""

from __future__ import annotations

import gc
import subprocess
import sys

from jobpoll import collector

PROBE = """
import atexit, gc, sys
defaults = gc.get_threshold()
collections = []
def report():
    with open(sys.argv[1], "w") as out:
        out.write(repr((defaults, gc.get_threshold(), len(collections), gc.get_freeze_count() > 0)))
atexit.register(report)
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
from jobpoll.cli import main
main(sys.argv[2:])
"""


def probe(tmp_path, env, *args):
    """Run jobpoll ARGS; (its result, Python's default thresholds, the thresholds at
    exit, how many collections ran from the import of jobpoll.cli on, whether
    anything was frozen)."""
    where = tmp_path / "gc.txt"
    result = subprocess.run([sys.executable, "-c", PROBE, str(where), *args], env=env,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return (result, *eval(where.read_text()))


def test_a_status_runs_no_collection_and_freezes_what_is_left_at_exit(sim, env, tmp_path):
    job = sim.add_job("muvi", outcome="done", queued=0, running=0)
    result, defaults, at_exit, collections, frozen = probe(tmp_path, env, "status", f"muvi:{job}")
    assert (result.returncode, result.stdout.split("\t")[:2]) == (0, [f"muvi:{job}", "done"]), result.stderr
    assert collections == 0
    assert at_exit == (collector.START_UP_THRESHOLD, *defaults[1:])
    assert frozen


def test_a_watch_collects_at_a_steady_pace_once_it_polls(sim, env, tmp_path):
    job = sim.add_job("muvi", outcome="done", queued=0.3, running=0.3)
    result, defaults, at_exit, _, _ = probe(tmp_path, env, "watch", "-i", "0.2", "--max-interval", "0.5",
                                            "--field", "state", f"muvi:{job}")
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    assert at_exit == (collector.WATCH_THRESHOLD, *defaults[1:])


def test_started_restores_the_thresholds_and_freezes_what_start_up_made(monkeypatch):
    saved = gc.get_threshold()
    monkeypatch.setattr(collector, "_defaults", None)
    try:
        collector.start_up()
        assert gc.get_threshold() == (collector.START_UP_THRESHOLD, *saved[1:])
        collector.start_up()  # twice: the defaults are still Python's
        collector.started()
        assert gc.get_threshold() == (collector.WATCH_THRESHOLD, *saved[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
