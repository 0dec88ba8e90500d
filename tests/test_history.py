"""The local job history (jobpoll.history): storing, merging, querying, pruning,
surviving a broken file, and several processes writing at once."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jobpoll import history as history_mod
from jobpoll.history import history_path, merge_known, open_history
from jobpoll.model import Job, JobError, Output, State, iso_utc


def at(minutes_ago: float) -> str:
    return iso_utc(datetime.now(timezone.utc) - timedelta(minutes=minutes_ago))


def job(provider="pictory", job_id="a", state=State.DONE, **kw) -> Job:
    kw.setdefault("status", state.value)
    kw.setdefault("checked_at", at(0))
    return Job(provider=provider, id=job_id, state=state, **kw)


class Warnings(list):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def warnings():
    return Warnings()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "history.sqlite3"


@pytest.fixture
def hist(path, warnings):
    opened = open_history(warnings, path)
    assert opened is not None, warnings
    yield opened
    opened.close()


# ---- where it lives ------------------------------------------------------------


def test_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JOBPOLL_HISTORY", str(tmp_path / "h.db"))
    assert history_path() == tmp_path / "h.db"


def test_default_path_is_the_user_state_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("JOBPOLL_HISTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from platformdirs import user_state_dir

    assert history_path() == Path(user_state_dir("jobpoll")) / "history.sqlite3"


def test_created_private(path, warnings):
    open_history(warnings, path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == history_mod.SCHEMA_VERSION
    conn.close()
    assert warnings == []


# ---- storing and merging ---------------------------------------------------------


def test_roundtrip_keeps_every_field_and_extra(hist):
    original = job(
        "reelbot", "r1", progress=100.0, message="ok", url="https://x/v.mp4",
        outputs=(Output("video", "https://x/v.mp4"),), created_at=at(10), ended_at=at(5),
        duration=12.5, extra={"url_expires_at": at(-60)},
    )
    hist.record([original])
    again = hist.get("reelbot", "r1")
    assert again == original
    assert again.extra == {"url_expires_at": original.extra["url_expires_at"]}


def test_failed_job_keeps_its_error(hist):
    hist.record([job(job_id="f", state=State.FAILED, error=JobError("5000", "boom"))])
    assert hist.get("pictory", "f").error == JobError("5000", "boom")


def test_a_newer_lookup_never_loses_the_url(hist):
    url = "https://cdn/video.mp4"
    hist.record([job("muvi", "m1", url=url, outputs=(Output("video", url),), checked_at=at(5))])
    # A list item: no URLs, but a newer check.
    hist.record([job("muvi", "m1", checked_at=at(0))])
    stored = hist.get("muvi", "m1")
    assert stored.url == url and stored.outputs == (Output("video", url),)


def test_an_older_lookup_does_not_overwrite_a_newer_one(hist):
    hist.record([job(job_id="o", state=State.DONE, checked_at=at(0))])
    hist.record([job(job_id="o", state=State.RUNNING, checked_at=at(5))])
    assert hist.get("pictory", "o").state is State.DONE


def test_a_row_another_process_wrote_since_is_merged_not_overwritten(hist, path, warnings):
    # This process remembers what it wrote last (to skip reading it back); a row
    # another process has written since must still be read and merged.
    url = "https://cdn/video.mp4"
    hist.record([job("muvi", "m2", state=State.RUNNING, checked_at=at(10))])
    other = open_history(warnings, path)
    other.record([job("muvi", "m2", url=url, outputs=(Output("video", url),), checked_at=at(5),
                      extra={"seen_by": "other"})])
    other.close()
    hist.record([job("muvi", "m2", checked_at=at(0))])  # a list item: no URLs
    stored = hist.get("muvi", "m2")
    assert stored.url == url and stored.extra == {"seen_by": "other"}
    assert stored.state is State.DONE


def test_merge_known_keeps_extra_and_times():
    stored = job(created_at=at(10), url="u", outputs=(Output("video", "u"),), extra={"url_expires_at": "x"})
    fresh = job(created_at=None)
    merged = merge_known(fresh, stored)
    assert merged.created_at == stored.created_at and merged.url == "u"
    assert merged.extra == {"url_expires_at": "x"}
    assert merge_known(fresh, None) is fresh


def test_get_many_over_many_keys(hist):
    jobs = [job("muvi", f"j{i}") for i in range(1000)]
    hist.record(jobs)
    found = hist.get_many([("muvi", f"j{i}") for i in range(1000)] + [("muvi", "nope")])
    assert len(found) == 1000 and ("muvi", "nope") not in found


def test_record_nothing_is_fine(hist):
    hist.record([])
    assert hist.count() == 0


# ---- querying ----------------------------------------------------------------------


def test_query_newest_first_with_filters(hist):
    hist.record([
        job("pictory", "p-old", State.DONE, created_at=at(300)),
        job("pictory", "p-new", State.FAILED, created_at=at(10)),
        job("reelbot", "r-mid", State.FAILED, created_at=at(100)),
        job("muvi", "m", State.DONE, created_at=at(50)),
    ])
    ids = lambda jobs: [j.id for j in jobs]  # noqa: E731
    assert ids(hist.query()) == ["p-new", "m", "r-mid", "p-old"]
    assert ids(hist.query(provider=["pictory", "reelbot"])) == ["p-new", "r-mid", "p-old"]
    assert ids(hist.query(provider="reelbot")) == ["r-mid"]
    assert ids(hist.query(state="failed")) == ["p-new", "r-mid"]
    assert ids(hist.query(state=State.DONE, provider="pictory")) == ["p-old"]
    now = datetime.now(timezone.utc)
    assert ids(hist.query(since=now - timedelta(minutes=120))) == ["p-new", "m", "r-mid"]
    assert ids(hist.query(until=now - timedelta(minutes=60))) == ["r-mid", "p-old"]
    assert ids(hist.query(limit=2)) == ["p-new", "m"]


def test_query_without_created_at_uses_first_seen(hist):
    hist.record([job("reelbot", "old", created_at=at(60 * 24))])
    hist.record([job("reelbot", "undated", created_at=None)])
    assert [j.id for j in hist.query()] == ["undated", "old"]


# ---- pruning -----------------------------------------------------------------------


def test_prune_removes_rows_checked_before(hist):
    hist.record([job(job_id="old", checked_at=at(60 * 24 * 100)), job(job_id="new")])
    removed = hist.prune(datetime.now(timezone.utc) - timedelta(days=90))
    assert removed == 1
    assert hist.get("pictory", "old") is None and hist.get("pictory", "new") is not None


# ---- a history that cannot be used --------------------------------------------------


def test_garbage_file_warns_and_gives_none(path, warnings):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    assert open_history(warnings, path) is None
    [message] = warnings
    assert message.startswith(f"cannot use the job history at {path}: ")
    assert "not an SQLite database" in message and message.endswith("going on without it")
    assert path.read_bytes().startswith(b"this is not a database")  # never overwritten


def test_directory_warns_and_gives_none(path, warnings):
    path.mkdir(parents=True)
    assert open_history(warnings, path) is None
    assert "is a directory" in warnings[0]


def test_parent_is_a_file_warns(tmp_path, warnings):
    (tmp_path / "afile").write_text("x")
    assert open_history(warnings, tmp_path / "afile" / "history.sqlite3") is None
    assert warnings and "going on without it" in warnings[0]


def test_newer_schema_warns(path, warnings):
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert open_history(warnings, path) is None
    assert "newer jobpoll" in warnings[0]


def test_locked_beyond_timeout_warns_on_write_and_writes_nothing(hist, path, warnings, monkeypatch):
    monkeypatch.setattr(history_mod, "LOCK_RETRIES", 0)
    hist._conn.execute("PRAGMA busy_timeout = 100")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        hist.record([job(job_id="blocked")])  # must not raise
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert any("cannot write the job history" in w and "1 job(s) not recorded" in w for w in warnings)
    assert hist.get("pictory", "blocked") is None
    hist.record([job(job_id="later")])
    assert hist.get("pictory", "later") is not None


def test_reads_on_a_file_corrupted_after_opening_do_not_raise(hist, path, warnings):
    hist.record([job(job_id=f"x{i}") for i in range(50)])
    hist.close()
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 7):  # keep the header page, wreck the rest
        data[offset] = 0xFF
    path.write_bytes(bytes(data))
    for name in ("history.sqlite3-wal", "history.sqlite3-shm"):
        (path.parent / name).unlink(missing_ok=True)
    again = open_history(warnings, path)
    if again is not None:  # opened: every call still answers, with warnings
        assert isinstance(again.query(), list)
        again.record([job(job_id="y")])
        again.close()
    assert warnings


# ---- several processes at once --------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from jobpoll.history import open_history
    from jobpoll.model import Job, State, iso_utc, utcnow

    path, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    warnings = []
    hist = open_history(warnings.append, path)
    assert hist is not None, warnings
    for i in range(0, count, 3):  # many small transactions, interleaved with the other writer
        hist.record([
            Job(provider="reelbot", id=f"{name}-{k}", state=State.RUNNING, status="processing",
                checked_at=iso_utc(utcnow()))
            for k in range(i, min(i + 3, count))
        ])
        hist.get_many([("reelbot", f"{name}-{i}")])
    hist.close()
    if warnings:
        print("\\n".join(warnings), file=sys.stderr)
        sys.exit(1)
""")


def test_two_processes_writing_at_once_lose_no_row(path, warnings):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "300"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    hist = open_history(warnings, path)
    assert hist.count() == 600
    found = hist.get_many([("reelbot", f"{n}-{i}") for n in "ab" for i in range(300)])
    assert len(found) == 600
    hist.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# ---- start-up --------------------------------------------------------------------------


def test_the_cli_does_not_import_sqlite_or_platformdirs_at_start():
    code = "import sys, jobpoll.cli; print(sorted(m for m in ('sqlite3', 'platformdirs') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_list_item_keeps_the_error_details_a_lookup_gave():
    from jobpoll.model import JobError

    looked_up = Job("muvi", "job_1", State.FAILED, "failed",
                    error=JobError("GENERATION_FAILED", "The model failed to generate the output."))
    listed = Job("muvi", "job_1", State.FAILED, "failed", error=JobError(None, "generation failed"))
    assert merge_known(listed, looked_up).error == looked_up.error
    retried = Job("muvi", "job_1", State.RUNNING, "processing")
    assert merge_known(retried, looked_up).error is None  # a new state: the old error is not its own


def test_prune_compares_times_as_times_for_any_year(hist):
    # Written as text, "931-10-05..." sorts after "2026-..." and would remove everything.
    hist.record([job(job_id="recent"), job(job_id="old", checked_at=at(60 * 24 * 400))])
    assert hist.prune(datetime(931, 10, 5, tzinfo=timezone.utc)) == 0
    assert hist.prune(datetime(99, 1, 1, tzinfo=timezone.utc)) == 0
    assert hist.count() == 2
    assert iso_utc(datetime(931, 10, 5, 1, 2, 3, tzinfo=timezone.utc)) == "0931-10-05T01:02:03.000Z"


def test_a_file_with_the_unused_check_index_loses_it_and_keeps_its_rows(tmp_path):
    """Version 1 files made before carry an index on checked_at that no query uses
    and every write updates: it goes at the next open; rows, prune and older
    jobpolls (same schema version) are unaffected."""
    from jobpoll.history import SCHEMA_VERSION, connect_history

    path = tmp_path / "history.sqlite3"
    with connect_history(print, path) as history:
        history.record([job("muvi", "job_1")])
    conn = sqlite3.connect(path)
    conn.execute("CREATE INDEX jobs_by_check ON jobs (checked_at)")  # as version 1 made it
    conn.commit()
    conn.close()

    with connect_history(print, path) as history:
        assert history.get("muvi", "job_1").state is State.DONE
    conn = sqlite3.connect(path)
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert "jobs_by_check" not in indexes and "jobs_by_time" in indexes
    assert version == SCHEMA_VERSION == 1
