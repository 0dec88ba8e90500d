"""`jobpoll download` against the simulator over HTTP: outputs fetched from its file
origin (another port: another origin), resumed, checked, never credentialed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TEST_KEY, assert_clean, run_cli
from jobpoll.model import Output

MB = 1_000_000


def download(env, *args, timeout: float = 120):
    return run_cli("download", *args, env=env, timeout=timeout)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def served(sim, url: str) -> bytes:
    return sim.file_bytes(url)


def job_url(env, ref: str) -> str:
    result = run_cli("status", "--json", ref, env=env)
    return json.loads(result.stdout)["url"]


def file_requests(sim, since: float, job_id: str = "") -> list[dict]:
    return [r for r in sim.requests(origin="files", since=since) if job_id in r["path"]]


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


# ----------------------------------------------------------------------------- saving


def test_saves_the_video_of_each_job_and_prints_each_path(sim, env, tmp_path):
    out = tmp_path / "renders"
    refs = [f"json2video:{sim.add_job('json2video', queued=0, running=0, size=150_000)}",
            f"pictory:{sim.add_job('pictory', queued=0, running=0)}",
            f"muvi:{sim.add_job('muvi', queued=0, running=0)}",
            f"reelbot:{sim.add_job('reelbot', queued=0, running=0)}"]
    result = download(env, "-o", str(out), *refs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # off a terminal: no progress, nothing but errors
    paths = lines(result.stdout)
    assert [Path(p).name for p in paths] == [f"{r.replace(':', '-')}.mp4" for r in refs]
    for ref, path in zip(refs, paths):
        assert Path(path).parent == out
        assert file_digest(Path(path)) == digest(served(sim, job_url(env, ref)))
    assert not list(out.glob("*.part"))
    assert_clean(result)


def test_a_50_mb_output_survives_two_dropped_connections_intact(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0, file_size=50 * MB,
                      file_faults=[{"kind": "drop", "at": 0.3}, {"kind": "drop", "at": 0.5}])
    since = time.time()
    started = time.monotonic()
    result = download(env, "-o", str(tmp_path), f"muvi:{job}")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.stat().st_size == 50 * MB
    assert file_digest(saved) == digest(served(sim, job_url(env, f"muvi:{job}")))
    gets = file_requests(sim, since, job)
    # The whole file, then two resumes from where each connection dropped.
    assert len(gets) == 3
    assert "range" not in gets[0]["headers"]
    first_resume = int(gets[1]["headers"]["range"].removeprefix("bytes=").rstrip("-"))
    second_resume = int(gets[2]["headers"]["range"].removeprefix("bytes=").rstrip("-"))
    assert 0.25 * 50 * MB <= first_resume <= 0.35 * 50 * MB
    assert first_resume < second_resume < 50 * MB
    assert [g["status"] for g in gets][-1] == 206
    assert took < 60


@pytest.mark.parametrize("provider,header", [
    ("json2video", "x-api-key"),
    ("pictory", "authorization"),
    ("muvi", "authorization"),  # Bearer
    ("reelbot", "x-api-key"),  # X-API-Key
])
def test_no_credential_reaches_the_file_origin(sim, env, tmp_path, provider, header):
    extra = {"size": 40_000} if provider == "json2video" else {}
    job = sim.add_job(provider, queued=0, running=0, **extra)
    since = time.time()
    result = download(env, "--type", "all", "-o", str(tmp_path), f"{provider}:{job}")
    assert result.returncode == 0, result.stderr
    to_provider = [r for r in sim.requests(origin="main", since=since) if job in r["path"] or job in str(r["query"])]
    assert to_provider and all(TEST_KEY in r["headers"].get(header, "") for r in to_provider)
    gets = file_requests(sim, since)
    assert len(gets) == len(lines(result.stdout)) >= 1
    for get in gets:
        assert not {"authorization", "x-api-key", "cookie", "proxy-authorization"} & set(get["headers"])
        assert not any(TEST_KEY in value for value in get["headers"].values())
        assert TEST_KEY not in get["path"] and TEST_KEY not in json.dumps(get["query"])


def test_a_second_download_fetches_nothing_and_prints_the_same_paths(sim, env, tmp_path):
    refs = [f"pictory:{sim.add_job('pictory', queued=0, running=0)}",
            f"reelbot:{sim.add_job('reelbot', queued=0, running=0)}"]
    first = download(env, "--type", "all", "-o", str(tmp_path), *refs)
    assert first.returncode == 0, first.stderr
    stamps = {p: os.stat(p).st_mtime_ns for p in lines(first.stdout)}
    since = time.time()
    again = download(env, "--type", "all", "-o", str(tmp_path), *refs)
    assert again.returncode == 0, again.stderr
    assert lines(again.stdout) == list(stamps)
    assert file_requests(sim, since) == []
    # Reelbot's link came from the history: its download endpoint was not asked again.
    assert [r for r in sim.requests(origin="main", since=since) if "/video/download/" in r["path"]] == []
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_json_carries_the_job_with_its_files(sim, env, tmp_path):
    job = sim.add_job("json2video", queued=0, running=0, size=30_000)
    result = download(env, "--json", "--type", "all", "-o", str(tmp_path), f"json2video:{job}")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["id"], record["state"]) == (job, "done")
    assert [Path(f).name for f in record["files"]] == [
        f"json2video-{job}-video-1.mp4", f"json2video-{job}-subtitles-2.ass"]
    assert all(Path(f).is_file() for f in record["files"])


def test_name_template_with_a_subdirectory_and_types(sim, env, tmp_path):
    job = sim.add_job("pictory", queued=0, running=0)
    result = download(env, "-o", str(tmp_path), "--type", "subtitles", "--type", "audio",
                      "--name", "{provider}/{id}/{index:02d}-{type}{ext}", f"pictory:{job}")
    assert result.returncode == 0, result.stderr
    assert sorted(str(Path(p).relative_to(tmp_path)) for p in lines(result.stdout)) == [
        f"pictory/{job}/01-audio.mp3", f"pictory/{job}/02-subtitles.srt", f"pictory/{job}/03-subtitles.vtt"]


@pytest.mark.parametrize("template,says", [
    ("../{id}{ext}", "not a file inside the output directory"),
    ("/tmp/{id}{ext}", "not a file inside the output directory"),
    ("{id}{size}", "unknown field {size}"),
    ("{id.__class__}", "unknown field"),
    ("{id", "--name"),
])
def test_a_bad_name_template_is_refused_before_anything_is_fetched(sim, env, tmp_path, template, says):
    job = sim.add_job("muvi", queued=0, running=0)
    since = time.time()
    result = download(env, "-o", str(tmp_path / "out"), "--name", template, f"muvi:{job}")
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == "" and file_requests(sim, since) == []
    assert sim.requests(origin="main", since=since) == []  # refused before any lookup
    assert not (tmp_path / "tmp").exists() and not any(tmp_path.rglob(f"*{job}*"))


def test_two_outputs_with_one_name_are_refused(sim, env, tmp_path):
    job = sim.add_job("pictory", queued=0, running=0)
    result = download(env, "-o", str(tmp_path), "--type", "subtitles", "--name", "{id}-{type}.x", f"pictory:{job}")
    assert result.returncode == 6
    assert "two outputs would be saved as" in result.stderr and "{index}" in result.stderr
    assert len(lines(result.stdout)) == 1


# ----------------------------------------------------------------------------- job states


def test_exit_codes_follow_the_job_states(sim, env, tmp_path):
    done = sim.add_job("muvi", queued=0, running=0)
    running = sim.add_job("muvi", queued=0, running=600)
    failed = sim.add_job("muvi", queued=0, running=0, outcome="failed", error_message="GPU on fire")
    text = sim.add_job("muvi", queued=0, running=0, output_type="text")

    assert download(env, "-o", str(tmp_path), f"muvi:{done}").returncode == 0
    result = download(env, "-o", str(tmp_path), f"muvi:{done}", f"muvi:{running}")
    assert result.returncode == 5
    assert f"muvi:{running}: not finished yet (running)" in result.stderr
    assert lines(result.stdout) == [str(tmp_path / f"muvi-{done}.mp4")]

    result = download(env, "-o", str(tmp_path), f"muvi:{failed}", f"muvi:{running}")
    assert result.returncode == 1 and "GPU on fire" in result.stderr and result.stdout == ""

    result = download(env, "-o", str(tmp_path), f"muvi:{text}")
    assert result.returncode == 4 and "no video output (it has: text; choose with --type)" in result.stderr
    result = download(env, "-o", str(tmp_path), "--type", "text", f"muvi:{text}")
    assert result.returncode == 0 and lines(result.stdout) == [str(tmp_path / f"muvi-{text}.txt")]


def test_an_expired_reelbot_link_is_refreshed_once_and_a_fresh_one_reused(sim, env, tmp_path):
    job = sim.add_job("reelbot", queued=0, running=0)
    ref = f"reelbot:{job}"
    assert run_cli("status", ref, env=env).returncode == 0  # the history now holds a link
    from jobpoll.history import connect_history  # age that link past its expiry, as an hour would

    history = connect_history(print, Path(env["JOBPOLL_HISTORY"]))
    old = history.get_many([("reelbot", job)])[("reelbot", job)]
    history.record([old.with_(extra={**old.extra, "url_expires_at": "2020-01-01T00:00:00.000Z"})])
    history.close()

    since = time.time()
    result = download(env, "-o", str(tmp_path), ref)
    assert result.returncode == 0, result.stderr
    asked = [r for r in sim.requests(origin="main", since=since) if "/video/download/" in r["path"]]
    assert len(asked) == 1
    gets = file_requests(sim, since, job)
    assert len(gets) == 1 and gets[0]["status"] == 200 and gets[0]["query"]["X-Amz-Signature"] != \
        dict(p.split("=", 1) for p in old.url.split("?", 1)[1].split("&"))["X-Amz-Signature"]


# ----------------------------------------------------------------------------- failures


def test_a_size_that_disagrees_with_the_provider_never_completes(sim, env, tmp_path):
    out = tmp_path / "out"
    job = sim.add_job("json2video", queued=0, running=0, size=200_000,
                      file_faults=[{"kind": "wrong_length", "delta": -5000, "times": -1}])
    result = download(env, "-o", str(out), f"json2video:{job}")
    assert result.returncode == 6
    assert lines(result.stderr) == [
        f"jobpoll: error: json2video:{job}: 127.0.0.1:{sim.files_url.rsplit(':', 1)[1]} announces 195000 bytes for "
        f"{out / f'json2video-{job}.mp4'} but json2video says 200000; not saved"]
    assert result.stdout == "" and list(out.iterdir()) == []


def test_answers_that_disagree_about_the_size_never_complete(sim, env, tmp_path):
    # The first answer announces one size and drops; the resumed one announces another.
    job = sim.add_job("muvi", queued=0, running=0, file_size=300_000,
                      file_faults=[{"kind": "drop", "at": 0.5}, {"kind": "wrong_length", "delta": 1000}])
    result = download(env, "-o", str(tmp_path), f"muvi:{job}")
    assert result.returncode == 6
    assert "announced 300000 bytes" in result.stderr and "then 301000" in result.stderr
    assert not (tmp_path / f"muvi-{job}.mp4").exists()


def test_a_download_that_keeps_failing_ends_in_one_line_naming_job_and_file(sim, env, tmp_path):
    out = tmp_path / "out"
    job = sim.add_job("muvi", queued=0, running=0, file_faults=[{"kind": "status", "code": 503, "times": -1}])
    since = time.time()
    started = time.monotonic()
    result = download(env, "--retries", "1", "-o", str(out), f"muvi:{job}")
    assert result.returncode == 6
    assert lines(result.stderr) == [
        f"jobpoll: error: muvi:{job}: could not fetch {out / f'muvi-{job}.mp4'} after 2 attempts: "
        f"HTTP 503 from 127.0.0.1:{sim.files_url.rsplit(':', 1)[1]}"]
    assert len(file_requests(sim, since, job)) == 2
    assert 1.0 <= time.monotonic() - started < 30  # backed off a second
    assert list(out.iterdir()) == []  # no empty .part left behind


def test_a_part_left_by_a_failed_run_is_resumed_by_the_next(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0, file_size=2 * MB,
                      file_faults=[{"kind": "drop", "at": 700_000}, {"kind": "reset", "times": 3}])
    result = download(env, "--retries", "0", "-o", str(tmp_path), f"muvi:{job}")
    assert result.returncode == 6 and "for a later resume" in result.stderr
    part = tmp_path / f"muvi-{job}.mp4.part"
    assert part.stat().st_size == 700_000 and not (tmp_path / f"muvi-{job}.mp4").exists()
    for _ in range(2):  # the rest of the resets
        assert download(env, "--retries", "0", "-o", str(tmp_path), f"muvi:{job}").returncode == 6
    since = time.time()
    result = download(env, "-o", str(tmp_path), f"muvi:{job}")
    assert result.returncode == 0, result.stderr
    assert [g["headers"].get("range") for g in file_requests(sim, since, job)] == ["bytes=700000-"]
    assert file_digest(tmp_path / f"muvi-{job}.mp4") == digest(served(sim, job_url(env, f"muvi:{job}")))
    assert not part.exists()


def test_a_server_that_ignores_range_is_fetched_whole_again(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0, file_size=1 * MB,
                      file_faults=[{"kind": "drop", "at": 0.4}, {"kind": "no_range"}])
    result = download(env, "-o", str(tmp_path), f"muvi:{job}")
    assert result.returncode == 0, result.stderr
    assert file_digest(Path(result.stdout.strip())) == digest(served(sim, job_url(env, f"muvi:{job}")))


def _with_file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_is_one_error_and_the_part_is_kept_for_a_resume(sim, env, tmp_path):
    # A file size limit stands in for a full disk: the write fails part way (EFBIG).
    job = sim.add_job("muvi", queued=0, running=0, file_size=3 * MB)
    result = subprocess.run([sys.executable, "-m", "jobpoll", "download", "-o", str(tmp_path / "out"), f"muvi:{job}"],
                            env=env, capture_output=True, text=True, timeout=120,
                            preexec_fn=_with_file_size_limit(1 * MB))
    assert result.returncode == 6
    part = tmp_path / "out" / f"muvi-{job}.mp4.part"
    assert lines(result.stderr) == [
        f"jobpoll: error: muvi:{job}: cannot write {part}: File too large; "
        f"the {1 * MB} bytes saved so far stay in it for a later resume"]
    assert result.stdout == "" and os.listdir(tmp_path / "out") == [part.name]
    result = download(env, "-o", str(tmp_path / "out"), f"muvi:{job}")
    assert result.returncode == 0, result.stderr
    assert file_digest(tmp_path / "out" / f"muvi-{job}.mp4") == digest(served(sim, job_url(env, f"muvi:{job}")))


def _can_mount() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs root and a mount namespace (unshare -m)")


def _in_namespace(script: str, *args: str, env) -> subprocess.CompletedProcess:
    """`script` in a private mount namespace; "$@" is `python -m jobpoll ARGS`."""
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                           sys.executable, "-m", "jobpoll", *args],
                          env=env, capture_output=True, text=True, timeout=120)


@needs_mount
def test_a_small_file_system_filling_up_is_one_error(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0, file_size=3 * MB)
    out = tmp_path / "small"
    out.mkdir()
    script = f'mount -t tmpfs -o size=1m tmpfs {out} && "$@"; code=$?; ls {out}; exit $code'
    result = _in_namespace(script, "download", "-o", str(out), f"muvi:{job}", env=env)
    assert result.returncode == 6
    [line] = lines(result.stderr)
    assert line.startswith(f"jobpoll: error: muvi:{job}: cannot write {out / f'muvi-{job}.mp4.part'}: "
                           "No space left on device; the ") and line.endswith("for a later resume")
    assert lines(result.stdout) == [f"muvi-{job}.mp4.part"]  # the ls: no file under its final name


@needs_mount
def test_a_read_only_directory_is_one_error_before_any_request(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0)
    out = tmp_path / "ro"
    out.mkdir()
    since = time.time()
    script = f'mount --bind {out} {out} && mount -o remount,bind,ro {out} && exec "$@"'
    result = _in_namespace(script, "download", "-o", str(out), f"muvi:{job}", env=env)
    assert result.returncode == 6
    assert lines(result.stderr) == [f"jobpoll: error: cannot save into {out}: read-only file system"]
    assert result.stdout == "" and list(out.iterdir()) == []
    assert file_requests(sim, since) == [] and sim.requests(origin="main", since=since) == []


def test_a_directory_that_cannot_be_made_is_one_error(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0)
    (tmp_path / "a-file").write_text("not a directory")
    result = download(env, "-o", str(tmp_path / "a-file" / "renders"), f"muvi:{job}")
    assert result.returncode == 6
    assert lines(result.stderr) == [f"jobpoll: error: cannot save into {tmp_path / 'a-file' / 'renders'}: Not a directory"]


def test_a_terminal_shows_a_progress_bar_per_file(sim, env, tmp_path):
    from ptyrun import PtyRun

    job = sim.add_job("pictory", queued=0, running=0)
    with PtyRun(["download", "--type", "audio", "--type", "video", "-o", str(tmp_path), f"pictory:{job}"],
                env, stdout_pty=False) as run:
        code, screen, out = run.finish(60)
    assert code == 0
    text = screen.decode("utf-8", "replace")
    assert f"pictory-{job}-video-1.mp4" in text and f"pictory-{job}-audio-2.mp3" in text
    assert "kB" in text  # bytes done / total
    assert len(lines(out.decode())) == 2


def test_a_link_refused_before_its_stated_expiry_is_asked_for_once_more(sim, env, tmp_path):
    job = sim.add_job("reelbot", queued=0, running=0)
    ref = f"reelbot:{job}"
    assert run_cli("status", ref, env=env).returncode == 0
    from jobpoll.history import connect_history  # the storage will say: signed too long ago

    history = connect_history(print, Path(env["JOBPOLL_HISTORY"]))
    old = history.get_many([("reelbot", job)])[("reelbot", job)]
    stale = re.sub(r"X-Amz-Date=\d{8}T\d{6}Z", "X-Amz-Date=20200101T000000Z", old.url)
    history.record([old.with_(url=stale, outputs=(Output("video", stale),))])
    history.close()

    since = time.time()
    result = download(env, "-o", str(tmp_path / "out"), ref)
    assert result.returncode == 0, result.stderr
    assert [g["status"] for g in file_requests(sim, since, job)] == [403, 200]
    assert len([r for r in sim.requests(origin="main", since=since) if "/video/download/" in r["path"]]) == 1
    assert file_digest(Path(result.stdout.strip())) == digest(served(sim, job_url(env, ref)))
    # The new link is in the history: the next run asks the provider for nothing new.
    since = time.time()
    assert download(env, "-o", str(tmp_path / "again"), ref).returncode == 0
    assert [r for r in sim.requests(origin="main", since=since) if "/video/download/" in r["path"]] == []


def test_ctrl_c_keeps_the_part_and_the_next_run_resumes_it(sim, env, tmp_path):
    import signal

    job = sim.add_job("muvi", queued=0, running=0, file_size=4 * MB,
                      file_faults=[{"kind": "slow", "rate": 1 * MB}])
    out = tmp_path / "out"
    part = out / f"muvi-{job}.mp4.part"
    proc = subprocess.Popen([sys.executable, "-m", "jobpoll", "download", "-o", str(out), f"muvi:{job}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while (not part.exists() or part.stat().st_size < 100_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and stdout == "" and lines(stderr) == ["jobpoll: interrupted"]
    kept = part.stat().st_size
    assert 100_000 <= kept < 4 * MB and not (out / f"muvi-{job}.mp4").exists()
    since = time.time()
    result = download(env, "-o", str(out), f"muvi:{job}")
    assert result.returncode == 0, result.stderr
    assert [g["headers"].get("range") for g in file_requests(sim, since, job)] == [f"bytes={kept}-"]
    assert file_digest(out / f"muvi-{job}.mp4") == digest(served(sim, job_url(env, f"muvi:{job}")))


# ----------------------------------------------------------------------------- watch --download / --exec

FAST = ("-i", "0.2", "--max-interval", "1")
HOOK_VARS = ("REF", "PROVIDER", "ID", "STATE", "URL", "FILES")
DUMP_ENV = (f"{sys.executable} -c \"import json, os, sys; json.dump({{k: os.environ.get(k) for k in "
            f"{['JOBPOLL_' + v for v in HOOK_VARS]!r}}}, open(sys.argv[1] + '/' + os.environ['JOBPOLL_ID'] "
            "+ '.json', 'w'))\"")


def watch(env, *args, timeout: float = 120):
    return run_cli("watch", *FAST, *args, env=env, timeout=timeout)


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_watch_download_saves_each_job_as_it_finishes(sim, env, tmp_path):
    out = tmp_path / "out"
    quick = sim.add_job("muvi", queued=0.1, running=0.3)
    slow = sim.add_job("muvi", queued=0.1, running=3.0)
    j2v = sim.add_job("json2video", queued=0.1, running=1.0, size=80_000)
    refs = [f"muvi:{quick}", f"muvi:{slow}", f"json2video:{j2v}"]
    since = time.time()
    result = watch(env, "--json", "--download", str(out), *refs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    finals = {f"{r['provider']}:{r['id']}": r for r in ndjson(result.stdout) if r["state"] == "done"}
    assert set(finals) == set(refs)
    for ref in refs:
        [path] = finals[ref]["files"]
        assert Path(path) == out / f"{ref.replace(':', '-')}.mp4"
        assert file_digest(Path(path)) == digest(served(sim, finals[ref]["url"]))
    # The quick job's file was fetched while the slow one was still being watched.
    fetched = min(r["t"] for r in file_requests(sim, since, quick))
    slow_polls = [r["t"] for r in sim.requests(origin="main", path=f"/v1/jobs/{slow}", since=since)]
    assert fetched < max(slow_polls)
    # Lines before the final one carry no files: only a finished job has them.
    assert all("files" not in r for r in ndjson(result.stdout) if r["state"] != "done")


def test_watch_exec_runs_once_per_final_job_with_its_environment(sim, env, tmp_path):
    out, hooks = tmp_path / "out", tmp_path / "hooks"
    hooks.mkdir()
    done = sim.add_job("muvi", queued=0.1, running=0.3)
    failed = sim.add_job("reelbot", queued=0.1, running=0.3, outcome="failed")
    result = watch(env, "--download", str(out), "--type", "all", "--exec", f"{DUMP_ENV} {hooks}; echo hook-ran",
                   f"muvi:{done}", f"reelbot:{failed}")
    assert result.returncode == 1  # the reelbot render failed
    assert result.stderr.count("hook-ran") == 2 and "hook-ran" not in result.stdout  # hook output: stderr
    seen = {p.stem: json.loads(p.read_text()) for p in hooks.iterdir()}
    files = [str(out / f"muvi-{done}-{kind}-{i}.{ext}")
             for i, (kind, ext) in enumerate([("video", "mp4"), ("thumbnail", "jpg"), ("image", "jpg")], 1)]
    assert seen[done] == {
        "JOBPOLL_REF": f"muvi:{done}", "JOBPOLL_PROVIDER": "muvi", "JOBPOLL_ID": done, "JOBPOLL_STATE": "done",
        "JOBPOLL_URL": seen[done]["JOBPOLL_URL"], "JOBPOLL_FILES": "\n".join(files),
    }
    assert seen[done]["JOBPOLL_URL"].startswith(sim.files_url) and all(Path(f).is_file() for f in files)
    assert seen[failed] == {
        "JOBPOLL_REF": f"reelbot:{failed}", "JOBPOLL_PROVIDER": "reelbot", "JOBPOLL_ID": failed,
        "JOBPOLL_STATE": "failed", "JOBPOLL_URL": "", "JOBPOLL_FILES": "",
    }


def test_a_failed_hook_is_one_line_exit_1_and_with_fail_fast_stops_the_watch(sim, env, tmp_path):
    done = sim.add_job("muvi", queued=0.1, running=0.2)
    endless = sim.add_job("muvi", queued=0.1, running=600)
    quick = watch(env, "--exec", "exit 3", f"muvi:{done}")
    assert quick.returncode == 1
    assert lines(quick.stderr) == [f"jobpoll: error: muvi:{done}: the --exec command exited with status 3"]
    started = time.monotonic()
    result = watch(env, "--fail-fast", "--exec", "exit 3", f"muvi:{done}", f"muvi:{endless}", timeout=60)
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert f"muvi:{done}: the --exec command exited with status 3" in result.stderr


def test_watch_download_that_fails_for_good_exits_6(sim, env, tmp_path):
    job = sim.add_job("muvi", queued=0.1, running=0.2, file_faults=[{"kind": "status", "code": 404, "times": -1}])
    result = watch(env, "--download", str(tmp_path / "out"), "--exec", "echo files=[$JOBPOLL_FILES]", f"muvi:{job}")
    assert result.returncode == 6
    assert "answered HTTP 404" in result.stderr and "files=[]" in result.stderr
    assert not (tmp_path / "out" / f"muvi-{job}.mp4").exists()


def test_watch_type_and_name_need_download(env):
    result = watch(env, "--type", "all", "muvi:job_000000000000")
    assert result.returncode == 2 and "--type and --name go with --download DIR" in result.stderr


def test_downloads_go_through_the_environments_proxy_without_the_key(sim, env, tmp_path):
    from nettools import Proxy

    proxy = Proxy()
    job = sim.add_job("muvi", queued=0, running=0)
    result = download({**env, "HTTP_PROXY": proxy.url()}, "-o", str(tmp_path / "out"), f"muvi:{job}")
    proxy.close()
    assert result.returncode == 0, result.stderr
    to_files = [h for h in proxy.heads if h.startswith(f"GET {sim.files_url}/".encode())]
    assert len(to_files) == 1 and f"/outputs/{job}/output_0.mp4".encode() in to_files[0]
    assert TEST_KEY.encode() not in to_files[0] and b"authorization" not in to_files[0].lower()


def test_at_a_terminal_hook_output_and_saved_files_print_above_the_live_rows(sim, env, tmp_path):
    from ptyrun import run_on_pty

    # Long enough for the live rows to be drawn before it ends, however slow the
    # start-up on a loaded machine (0.4 s was not, once).
    job = sim.add_job("muvi", queued=1.0, running=1.5)
    code, screen, _ = run_on_pty(["watch", *FAST, "--download", str(tmp_path), "--exec", "echo hook-says $JOBPOLL_ID",
                                  f"muvi:{job}"], env, timeout=60)
    assert code == 0
    text = screen.decode("utf-8", "replace")
    # Each line comes after the live rows were erased (ESC[2K), never written across them.
    assert f"\x1b[2Khook-says {job}\r\n" in text
    assert f"\x1b[2Kjobpoll: muvi:{job}: saved " in text and (tmp_path / f"muvi-{job}.mp4").is_file()
