"""Provider text is untrusted: shown as text, never interpreted (issue 6).

A message holding rich markup, an OSC title sequence, a clear-screen, a carriage
return and an 8-bit CSI reaches every way jobpoll shows text: plain lines, --field,
the rich table and the live display on a real pseudo-terminal, error lines on
stderr, and JSON (where the controls are escaped, and the value decodes back to
exactly what the provider sent).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from conftest import FAST, TEST_KEY, wait_until
from ptyrun import PtyRun, run_on_pty

MARKUP = "[bold red]x[/]"
# Bidirectional controls turn text around where it is shown ("\u202egpj.exe" reads
# as "exe.jpg"); U+0085 is a C1 line break.
BIDI = "\u202egpj.exe \u2066iso\u2069 \u200f \u061c nel\x85"
HOSTILE = f"{MARKUP} \x1b]0;pwned\x07 \x1b[2J \rover \x9b31m c1 \x08\x7f {BIDI} end"
# What must never reach a terminal from provider text (as bytes, UTF-8 encoded).
FORBIDDEN = [b"\x1b]0;pwned", b"\x07", b"\x1b[2J", b"\x9b", b"\xc2\x9b", b"\rover", b"\x08", b"\x7f",
             *(ch.encode() for ch in "\u202e\u2066\u2069\u200f\u061c\x85")]


def forbidden_in(data: bytes) -> list[bytes]:
    return [seq for seq in FORBIDDEN if seq in data]


def hostile_jobs(sim) -> dict[str, str]:
    """ref -> where the hostile text sits. The simulator's variants cover the
    documented message and error fields; payloads it does not vary (Pictory's
    renderProgressMessage, Reelbot's message) are sent verbatim through a fault."""
    jobs = {}
    jobs[f"json2video:{sim.add_job('json2video', queued=0, running=600, message=HOSTILE)}"] = "message"
    for provider in ("json2video", "pictory", "muvi", "reelbot"):
        job_id = sim.add_job(provider, queued=0, running=0, outcome="failed", error_message=HOSTILE)
        jobs[f"{provider}:{job_id}"] = "error"
    pictory = sim.add_job("pictory", queued=0, running=600)
    body = {"job_id": pictory, "success": True, "data": {
        "status": "in-progress", "renderProgress": 42, "renderProgressMessage": HOSTILE,
        "renderState": "RUNNING"}}
    sim.add_job("pictory", pictory, queued=0, running=600, faults=[
        {"kind": "invalid_json", "body": json.dumps(body), "times": -1}])
    jobs[f"pictory:{pictory}"] = "message"
    reelbot = sim.add_job("reelbot", queued=0, running=600)
    body = {"status": "processing", "message": HOSTILE, "createdAt": "2026-05-12T07:41:41.946Z"}
    sim.add_job("reelbot", reelbot, queued=0, running=600, faults=[
        {"kind": "invalid_json", "body": json.dumps(body), "times": -1}])
    jobs[f"reelbot:{reelbot}"] = "message"
    return jobs


def finish_hostile_jobs(sim, jobs: dict[str, str]) -> None:
    """End the jobs hostile_jobs leaves running: the clock moves past json2video's ten
    minutes, and the two answered through a fault get fault-free, finished twins."""
    sim.advance(600)
    for ref, where in jobs.items():
        provider, job_id = ref.split(":", 1)
        if where == "message" and provider in ("pictory", "reelbot"):
            sim.add_job(provider, job_id, queued=0, running=0)


def error_answer_job(sim) -> str:
    """A Muvi job whose every answer is an error envelope with the hostile message."""
    body = {"success": False, "error": {"code": "WEIRD", "message": HOSTILE}, "requestId": "req_1"}
    job_id = sim.add_job("muvi", queued=0, running=0, faults=[
        {"kind": "invalid_json", "body": json.dumps(body), "times": -1}])
    return f"muvi:{job_id}"


def run_bytes(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobpoll", *args], env=env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def watch_until_each_job_is_shown(jobs: dict[str, str], *options: str, env,
                                  global_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`jobpoll watch OPTIONS JOBS` (bytes) until it has printed a line about every job,
    then Ctrl-C (some of hostile_jobs never finish; a deadline would race start-up)."""
    proc = subprocess.Popen([sys.executable, "-m", "jobpoll", *global_options, "watch", *options, *jobs], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, waiting = b"", {ref.split(":", 1)[1].encode() for ref in jobs}
        while waiting and (line := proc.stdout.readline()):
            out += line
            waiting = {job_id for job_id in waiting if job_id not in line}
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out + rest, err)


def on_pty(args, env, *, stdout_pty: bool = True) -> tuple[int, bytes, bytes]:
    """run_on_pty on a wide terminal, so the hostile messages are drawn whole rather
    than cut at the edge: exit code, the bytes the terminal got, stdout when it was
    a pipe."""
    return run_on_pty(args, env, stdout_pty=stdout_pty, rows=50, cols=250, timeout=120)


# ---- pipes: plain lines, --field, error lines -----------------------------------------------


def test_plain_lines_and_fields_show_provider_text_as_inert_text(sim, env):
    jobs = hostile_jobs(sim)
    for args in ((), ("--field", "message"), ("--field", "error")):
        result = run_bytes("status", *args, *jobs, env=env)
        assert result.returncode == 0, result.stderr
        assert not forbidden_in(result.stdout), (args, forbidden_in(result.stdout))
        assert result.stdout.count(MARKUP.encode()) >= 3, result.stdout  # shown as it was sent
        assert len(result.stdout.splitlines()) == len(jobs)  # one line each: no line breaks smuggled
    result = watch_until_each_job_is_shown(jobs, *FAST, env=env)
    assert result.returncode == 130, result.stderr  # some never finish: interrupted
    assert not forbidden_in(result.stdout + result.stderr)
    assert MARKUP.encode() in result.stdout


def test_error_lines_on_stderr_show_provider_text_as_inert_text(sim, env):
    ref = error_answer_job(sim)
    status = run_bytes("status", ref, env=env)
    assert status.returncode == 6
    watch = run_bytes("watch", *FAST, "--retries", "0", ref, env=env)
    assert watch.returncode == 6
    for result in (status, watch):
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(b"jobpoll: error: " + ref.encode()), result.stderr
        assert MARKUP.encode() in lines[0]
        assert not forbidden_in(result.stderr), forbidden_in(result.stderr)


def test_verbose_logs_show_provider_text_as_inert_text(sim, env):
    """-v prints the provider's answers on stderr: inert like every other provider
    text, bidirectional controls and C1 bytes included."""
    jobs = hostile_jobs(sim)
    status = run_bytes("-v", "status", *jobs, env=env)
    assert status.returncode == 0, status.stderr
    watch = watch_until_each_job_is_shown(jobs, *FAST, env=env, global_options=("-v",))
    assert watch.returncode == 130, watch.stderr  # some never finish: interrupted
    for result in (status, watch):
        assert MARKUP.encode() in result.stderr  # the answers were logged
        assert not forbidden_in(result.stderr), forbidden_in(result.stderr)


# ---- JSON: escaped, and exactly what was sent ------------------------------------------------


def test_json_escapes_controls_and_keeps_the_text_exact(sim, env):
    jobs = hostile_jobs(sim)
    for args in (("status", "--json"), ("status", "--raw"), ("watch", "--json", *FAST)):
        if args[0] == "watch":
            result = watch_until_each_job_is_shown(jobs, *args[1:], env=env)
            assert result.returncode == 130, result.stderr  # some never finish: interrupted
        else:
            result = run_bytes(*args, *jobs, env=env)
            assert result.returncode in (0, 1), result.stderr
        assert not forbidden_in(result.stdout), (args, forbidden_in(result.stdout))
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        final = {f"{j['provider']}:{j['id']}": j for j in lines}
        assert set(final) == set(jobs)
        for ref, where in jobs.items():
            said = final[ref]["message"] if where == "message" else final[ref]["error"]["message"]
            assert said == HOSTILE, (args, ref, said)


# ---- a real terminal: the table, the live display ---------------------------------------------


def test_the_table_on_a_terminal_shows_markup_as_text_and_no_foreign_escapes(sim, env):
    jobs = hostile_jobs(sim)
    code, screen, _ = on_pty(["status", *jobs], env)
    assert code == 0
    assert b"JOB" in screen and b"STATE" in screen  # the rich table was drawn
    assert MARKUP.encode() in screen
    assert not forbidden_in(screen), forbidden_in(screen)
    assert TEST_KEY.encode() not in screen and b"Traceback" not in screen


def watch_on_pty_until_shown(sim, options, jobs, env, **terminal) -> tuple[int, bytes, bytes]:
    """on_pty for `watch OPTIONS JOBS` of hostile_jobs: once the live display has shown
    the hostile text the jobs are finished (no deadline racing a slow start-up), then
    the end is awaited: exit code, the bytes the terminal got, stdout when a pipe."""
    with PtyRun(["watch", *options, *jobs], env, rows=50, cols=250, **terminal) as run:
        wait_until(lambda: "━".encode() in run.screen and run.screen.count(MARKUP.encode()) >= 4
                   or run.proc.poll() is not None)
        finish_hostile_jobs(sim, jobs)
        return run.finish(timeout=60)


def test_the_live_display_and_summary_show_markup_as_text_and_no_foreign_escapes(sim, env):
    jobs = hostile_jobs(sim)
    jobs[error_answer_job(sim)] = "error line"
    code, screen, _ = watch_on_pty_until_shown(sim, [*FAST, "--retries", "1"], jobs, env)
    assert code == 6  # the broken one; the rest failed or finished
    assert "━".encode() in screen  # the live display ran
    assert screen.count(MARKUP.encode()) >= 4
    assert not forbidden_in(screen), forbidden_in(screen)
    # The live display on stderr while stdout carries JSON.
    jobs = hostile_jobs(sim)
    code, screen, out = watch_on_pty_until_shown(sim, ["--json", *FAST], jobs, env, stdout_pty=False)
    assert "━".encode() in screen and MARKUP.encode() in screen
    assert not forbidden_in(screen) and not forbidden_in(out)


# ---- long values: an error line is at most 1,000 characters ------------------------------------


def test_a_huge_reference_gives_one_short_error_line(env):
    huge = "muvi:" + "x" * 10_000_000
    result = run_bytes_input(["status", "-"], env, huge.encode())
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 1000, len(result.stderr)
    assert lines[0].startswith("jobpoll: error: ") and "…" in lines[0]


def test_a_huge_config_value_gives_one_short_error_line(env, tmp_path):
    config = tmp_path / "config" / "config.toml"
    config.write_text(f'default_provider = "{"p" * 5_000_000}"\n')
    config.chmod(0o600)
    result = run_bytes_input(["status", "muvi:job_1"], env, b"")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 1000, len(result.stderr)
    assert f"config file {config}: default_provider" in lines[0] and "…" in lines[0]


def test_a_huge_provider_error_gives_one_short_error_line(sim, env):
    body = {"success": False, "error": {"code": "X" * 50_000, "message": "m" * 50_000}, "requestId": "r"}
    job_id = sim.add_job("muvi", queued=0, running=0, faults=[
        {"kind": "invalid_json", "body": json.dumps(body), "times": -1}])
    for args in (["status"], ["watch", *FAST, "--retries", "0"]):
        result = run_bytes(*args, f"muvi:{job_id}", env=env)
        assert result.returncode == 6
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1 and len(lines[0]) <= 1000, (args, len(result.stderr))
        assert lines[0].startswith(f"jobpoll: error: muvi:{job_id}")


def run_bytes_input(args, env, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobpoll", *args], env=env, capture_output=True,
                          input=data, timeout=120)
