"""The local job history: every job `status`, `watch` and `list` have seen, with
its last known state and outputs, in one SQLite file.

Where: `platformdirs.user_state_dir("jobpoll")/history.sqlite3`, or the file named
by the JOBPOLL_HISTORY environment variable (tests point it into a temporary
directory; users can too, e.g. to keep one history per project).

Why SQLite: several jobpoll processes (a `watch` in CI, a `status` from a shell
loop, a cron `list`) write it at once. WAL mode lets readers go on while one
writes, a busy timeout makes a writer wait for another instead of failing, every
`record()` is one short BEGIN IMMEDIATE transaction (so a row is written whole or
not at all), and a writer that still finds the file locked tries again.

The history is a convenience, never a reason to fail: a file that cannot be
opened, is not a database, or stays locked draws one warning on stderr and the
command goes on answering from the providers' APIs.

sqlite3 and platformdirs are imported where they are used: commands that never
open the history do not pay for them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from jobpoll.model import Job, State, compact_json, iso_utc, normalize_time, utcnow

if TYPE_CHECKING:
    import sqlite3

Warn = Callable[[str], None]
T = TypeVar("T")

ENV_HISTORY = "JOBPOLL_HISTORY"
FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT = 10.0  # seconds a statement waits for another process's lock
LOCK_RETRIES = 3  # further attempts when the lock outlasts the busy timeout anyway
_CHUNK = 400  # keys per `IN (...)`, well under SQLite's variable limit

# Each schema version's statements; a file at version N gets N+1.. applied in order.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE IF NOT EXISTS jobs (
            provider   TEXT NOT NULL,
            id         TEXT NOT NULL,
            state      TEXT NOT NULL,
            created_at TEXT,           -- ISO-8601 UTC with Z: compares as text
            checked_at TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            ended_at   TEXT,
            job        TEXT NOT NULL,  -- Job.to_dict(raw=False) as JSON
            extra      TEXT NOT NULL DEFAULT '{}',  -- Job.extra as JSON
            PRIMARY KEY (provider, id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (coalesce(created_at, first_seen))",
    ),
}
# An index of version 1 files that no query uses (prune compares checked_at as a
# time, julianday(), which no index serves) and every write updated: a fifth to
# two fifths of a watch's history writes. Dropped where found; the schema is
# otherwise the same, so older jobpolls still read and write these files.
_UNUSED_INDEXES = ("jobs_by_check",)

_SORT_KEY = "coalesce(created_at, first_seen)"


def history_path() -> Path:
    """JOBPOLL_HISTORY, else the platform's user state directory."""
    chosen = os.environ.get(ENV_HISTORY, "").strip()
    if chosen:
        return Path(os.path.abspath(os.path.expanduser(chosen)))
    from platformdirs import user_state_dir

    return Path(user_state_dir("jobpoll")) / FILE_NAME


def open_history(warn: Warn, path: Path | None = None) -> "History | None":
    """The history, ready to use; or None (after one warning) when it cannot be used."""
    path = path or history_path()
    try:
        return connect_history(warn, path)
    except HistoryUnavailable as exc:
        warn(f"cannot use the job history at {path}: {exc.reason}; going on without it")
        return None


class HistoryUnavailable(Exception):
    """The history cannot be used; `reason` says why in a few words."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot use the job history at {path}: {reason}")
        self.path = path
        self.reason = reason


def connect_history(warn: Warn, path: Path | None = None) -> "History":
    """The history, or HistoryUnavailable: for commands that exist only for the
    history (`history prune`), where going on without it makes no sense."""
    import sqlite3

    path = path or history_path()
    try:
        return History(_connect(path), path, warn)
    except (sqlite3.Error, OSError, _Unusable) as exc:
        raise HistoryUnavailable(path, _reason(exc)) from None


class _Unusable(Exception):
    """The file exists but is not something jobpoll may use as its history."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    if text == "file is not a database":
        return "the file is not a jobpoll history (not an SQLite database)"
    if _is_locked(exc):
        return f"{text} (another jobpoll process held it for more than {BUSY_TIMEOUT:.0f}s)"
    return text


def _connect(path: Path) -> "sqlite3.Connection":
    import sqlite3

    _prepare_file(path)
    # isolation_level=None: no implicit transactions; record() opens its own.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        # The first statement that reads the file: a file that is not a database fails here.
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no committed row's integrity
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare_file(path: Path) -> None:
    """Create the directory (0700) and the file (0600) before SQLite does, so the
    file never exists with a wider mode; SQLite gives its -wal and -shm files the
    database file's mode."""
    if path.is_dir():
        raise _Unusable("it is a directory, not a file")
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


def _migrate(conn: "sqlite3.Connection", path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        _drop_unused_indexes(conn)
        return
    if version > SCHEMA_VERSION:
        raise _Unusable(f"it was written by a newer jobpoll (schema {version}; this one knows {SCHEMA_VERSION})")

    def upgrade() -> None:
        # Read again under the write lock: another process may have just done it.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[step]:
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    _transact(conn, upgrade)


def _drop_unused_indexes(conn: "sqlite3.Connection") -> None:
    """Where the file still has them; only a speed-up, so a file this process may
    not write (or one locked for long) keeps them, and is used as before."""
    import sqlite3

    marks = ",".join("?" * len(_UNUSED_INDEXES))
    found = conn.execute(f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                         _UNUSED_INDEXES).fetchall()
    for (name,) in found:
        try:
            _retry_locked(lambda: conn.execute(f"DROP INDEX IF EXISTS {name}"))
        except sqlite3.Error:
            return


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retry_locked(action: Callable[[], T]) -> T:
    """Run `action`, trying again when SQLite says the file is locked: the busy
    timeout covers most waits, but some (a WAL recovery in another process, a
    busy snapshot) are reported at once."""
    import sqlite3

    for attempt in range(LOCK_RETRIES + 1):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or attempt == LOCK_RETRIES:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _transact(conn: "sqlite3.Connection", body: Callable[[], T]) -> T:
    """`body` in one BEGIN IMMEDIATE transaction, rolled back on any failure (so a
    row is written whole or not at all), tried again while the file is locked."""
    import sqlite3

    def attempt() -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
            conn.execute("COMMIT")
        except BaseException:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return result

    return _retry_locked(attempt)


def merge_known(fresh: Job, stored: Job | None) -> Job:
    """`fresh` with what only `stored` knows: a newer lookup never loses data.

    A list item (Muvi's carry no URLs) or a Reelbot lookup that did not fetch the
    download link again says nothing about outputs: the known ones stay. The same
    for times and the duration, which some answers leave out."""
    if stored is None:
        return fresh
    changes: dict[str, Any] = {}
    if not fresh.url and not fresh.outputs and (stored.url or stored.outputs):
        changes.update(url=stored.url, outputs=stored.outputs)
    for name in ("created_at", "updated_at", "ended_at", "duration"):
        if getattr(fresh, name) is None and getattr(stored, name) is not None:
            if name == "ended_at" and not fresh.terminal:
                continue  # a job that is not finished has not ended
            changes[name] = getattr(stored, name)
    if stored.error is not None and fresh.state is stored.state and (
        fresh.error is None or (fresh.error.code is None and stored.error.code is not None)
    ):
        # Same ending, and the stored error says more (Muvi's list items carry only
        # "failed"; its status lookup gave the code and the message).
        changes["error"] = stored.error
    if stored.extra:
        changes["extra"] = {**stored.extra, **fresh.extra}
    return fresh.with_(**changes) if changes else fresh


class History:
    """The open history. Every method catches the history's own failures (warning
    once per reason) and answers as if it were empty: never a traceback."""

    def __init__(self, conn: "sqlite3.Connection", path: Path, warn: Warn):
        self._conn = conn
        self.path = path
        self._warn = warn
        self._warned: set[str] = set()
        self._lock = threading.Lock()  # one connection, possibly several threads
        # What this process last wrote for each job, and that row's checked_at: while
        # no other process has written the row since, the next write merges with it
        # instead of reading the stored JSON back (a watch writes each job many times).
        self._written: dict[tuple[str, str], tuple[str, Job]] = {}

    # ---- reading -------------------------------------------------------------
    def get(self, provider: str, job_id: str) -> Job | None:
        return self.get_many([(provider, job_id)]).get((provider, job_id))

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Job]:
        wanted = list(dict.fromkeys(keys))

        def read() -> dict[tuple[str, str], Job]:
            found: dict[tuple[str, str], Job] = {}
            for row in self._rows(wanted, "job, extra").values():
                job = _load(row)
                if job is not None:
                    found[(job.provider, job.id)] = job
            return found

        return self._guard("read", read, {}) if wanted else {}

    def query(
        self,
        provider: str | Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        state: State | str | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs newest first (by created_at, else when jobpoll first saw them)."""
        return [job for job, _ in self.query_dated(provider, since, until, state, limit)]

    def query_dated(
        self,
        provider: str | Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        state: State | str | None = None,
        limit: int | None = None,
    ) -> list[tuple[Job, str]]:
        """query() with each job's sort time (created_at, else first seen), for
        merging with jobs from elsewhere."""
        where, params = [], []
        if provider is not None:
            names = [provider] if isinstance(provider, str) else list(provider)
            where.append(f"provider IN ({','.join('?' * len(names))})")
            params.extend(names)
        if since is not None:
            where.append(f"{_SORT_KEY} >= ?")
            params.append(iso_utc(since))
        if until is not None:
            where.append(f"{_SORT_KEY} <= ?")
            params.append(iso_utc(until))
        if state is not None:
            where.append("state = ?")
            params.append(State(state).value)
        sql = f"SELECT job, extra, {_SORT_KEY} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {_SORT_KEY} DESC, provider, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))

        def read() -> list[tuple[Job, str]]:
            rows = ((_load(row), row[2]) for row in self._conn.execute(sql, params))
            return [(job, when) for job, when in rows if job is not None]

        return self._guard("read", read, [])

    # ---- writing -------------------------------------------------------------
    def record(self, jobs: Iterable[Job]) -> None:
        """Upsert every job (merged with what the history knows) in one transaction:
        the rows read with one query per provider, written with one statement."""
        latest: dict[tuple[str, str], Job] = {}
        for job in jobs:
            latest[(job.provider, job.id)] = job  # the last of duplicates wins
        if not latest:
            return
        now = iso_utc(utcnow())
        written: dict[tuple[str, str], tuple[str, Job]] = {}

        def write() -> None:
            written.clear()  # a retried transaction starts again
            stored = self._rows(latest, "job, extra, checked_at")
            rows = []
            for key, job in latest.items():
                checked, merged = self._merged(key, job, stored.get(key), now)
                written[key] = (checked, merged)
                rows.append(_row(merged, checked, now))
            self._conn.executemany(_UPSERT, rows)

        def committed() -> bool:
            _transact(self._conn, write)
            return True

        if self._guard("write", committed, False, count=len(latest)):
            self._written.update(written)

    def _rows(self, keys: Iterable[tuple[str, str]], columns: str) -> dict[tuple[str, str], tuple[Any, ...]]:
        """`columns` of each (provider, id) key's row, where there is one: one query
        per provider and _CHUNK IDs."""
        by_provider: dict[str, list[str]] = {}
        for provider, job_id in keys:
            by_provider.setdefault(provider, []).append(job_id)
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        for provider, ids in by_provider.items():
            for chunk in _chunks(ids, _CHUNK):
                marks = ",".join("?" * len(chunk))
                for job_id, *row in self._conn.execute(
                        f"SELECT id, {columns} FROM jobs WHERE provider = ? AND id IN ({marks})",
                        (provider, *chunk)):
                    found[(provider, job_id)] = tuple(row)
        return found

    def _merged(self, key: tuple[str, str], fresh: Job, row: tuple[str, str, str] | None,
                now: str) -> tuple[str, Job]:
        """The job to write for `key` over its stored `row`, and its checked_at."""
        mine = self._written.get(key)
        if row is None:
            stored = None
        elif mine is not None and mine[0] == row[2]:
            stored = mine[1]  # the row is what this process wrote last
        else:
            stored = _load(row[:2])
        if row and fresh.checked_at and row[2] > fresh.checked_at:
            # Another process recorded a newer lookup meanwhile: keep it, and add
            # only what this older one knows and that one does not.
            job = merge_known(stored, fresh) if stored else fresh
        else:
            job = merge_known(fresh, stored)
        return job.checked_at or now, job

    def prune(self, older_than: datetime) -> int:
        """Forget jobs last checked before `older_than`; how many were removed
        (-1 when the history could not be written)."""
        cutoff = iso_utc(older_than)

        def delete() -> int:
            # As times, not as text: a row whose time cannot be read is kept.
            return self._conn.execute(
                "DELETE FROM jobs WHERE julianday(checked_at) < julianday(?)", (cutoff,)
            ).rowcount

        return self._guard("write", lambda: _transact(self._conn, delete), -1)

    def count(self) -> int:
        return self._guard("read", lambda: self._conn.execute("SELECT count(*) FROM jobs").fetchone()[0], 0)

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except Exception:
                pass

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- failures ------------------------------------------------------------
    def _guard(self, action: str, work: Callable[[], T], fallback: T, *, count: int = 0) -> T:
        import sqlite3

        with self._lock:
            try:
                return work()
            except (sqlite3.Error, OSError) as exc:
                reason = _reason(exc)
                if action == "write":
                    what = f"{count} job(s) not recorded" if count else "nothing changed"
                    message = f"cannot write the job history at {self.path}: {reason}; {what}, going on"
                else:
                    message = f"cannot read the job history at {self.path}: {reason}; going on without it"
                if message not in self._warned:
                    self._warned.add(message)
                    self._warn(message)
                return fallback


_UPSERT = """
    INSERT INTO jobs (provider, id, state, created_at, checked_at, first_seen, ended_at, job, extra)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (provider, id) DO UPDATE SET
        state = excluded.state, created_at = excluded.created_at,
        checked_at = excluded.checked_at, ended_at = excluded.ended_at,
        job = excluded.job, extra = excluded.extra
"""


def _row(job: Job, checked: str, now: str) -> tuple[Any, ...]:
    """A job's row for _UPSERT (first_seen is `now`, kept by an existing row)."""
    return (
        job.provider, job.id, job.state.value, normalize_time(job.created_at), checked, now,
        normalize_time(job.ended_at),
        job.record_json,
        compact_json(job.extra) if job.extra else "{}",
    )


def _load(row: Any) -> Job | None:
    """A stored row as a Job; None for a row this jobpoll cannot read (skipped,
    not fatal: the history is a cache of what the providers said)."""
    try:
        job = Job.from_dict(json.loads(row[0]))
        extra = json.loads(row[1]) if row[1] else {}
        return job.with_(extra=extra) if isinstance(extra, dict) and extra else job
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
