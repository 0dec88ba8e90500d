"""Saving finished jobs' outputs to files (`jobpoll download`, `watch --download`).

- A file is streamed to `NAME.part` and renamed to `NAME` only when complete: its
  length matches what the server announced and, where the provider gives one,
  the provider's own size. Answers that disagree never complete it. So a file
  under its final name is always whole, and one that exists is not fetched again.
- A dropped connection is resumed with `Range` at once when it had brought bytes;
  attempts that bring nothing back off (1, 2, 4, 8, 15 s: half a minute for the
  default 5 retries) before the file fails for good. A `.part` left by an earlier
  run (Ctrl-C, a full disk) is resumed the same way.
- Output URLs live on other origins (CDNs, pre-signed S3 links): the client that
  fetches them is made here and carries no provider's credentials at all.
- A bounded number of files travel at once (`connections`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from jobpoll.engine.names import EXT, Planned, type_ext
from jobpoll.errors import JobpollError, UnavailableError

if TYPE_CHECKING:
    import httpx

    from jobpoll.model import Job

CONNECTIONS = 4  # files fetched at once
RETRIES = 5  # attempts in a row that bring no byte, tolerated per file
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)  # seconds before retry n; the last repeats
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DownloadError(UnavailableError):
    """A file that cannot be saved (exit 6); the message names the file."""


class _Retry(Exception):
    """An attempt that failed in a way worth trying again (network, 5xx, cut short)."""


class _Refused(Exception):
    """A pre-signed link refused (401/403/410): it may have expired early."""


class Progress(Protocol):
    """Where byte counts go: bars at a terminal, nowhere otherwise."""

    def start(self, label: str, total: int | None, done: int) -> Any: ...
    def update(self, task: Any, *, advance: int = 0, total: int | None = None, done: int | None = None) -> None: ...
    def finish(self, task: Any) -> None: ...


class NoProgress:
    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, label: str, total: int | None, done: int) -> Any:
        return None

    def update(self, task: Any, *, advance: int = 0, total: int | None = None, done: int | None = None) -> None:
        pass

    def finish(self, task: Any) -> None:
        pass


def open_client(connections: int = CONNECTIONS) -> "httpx.AsyncClient":
    """The one client for output files, with the network settings of every jobpoll
    request (trust store, proxies, User-Agent: http.client_settings) and nothing
    else: no key of any provider, whatever its header, can reach a CDN. Redirects
    are followed (they carry nothing to protect); no compression is asked for, so
    lengths are the file's own; no total deadline: a big file takes its time, and
    the read timeout catches a stalled one."""
    import httpx

    from jobpoll.http import TIMEOUT_CONNECT, TIMEOUT_READ, client_settings

    settings = client_settings(
        asynchronous=True, max_connections=connections,
        timeout=httpx.Timeout(connect=TIMEOUT_CONNECT, read=TIMEOUT_READ, write=10.0, pool=None),
    )
    settings["headers"] = {**settings["headers"], "Accept-Encoding": "identity"}
    settings.update(follow_redirects=True, max_redirects=5)
    return httpx.AsyncClient(**settings)


@dataclass
class Saved:
    """What became of one job's outputs."""

    files: list[str] = field(default_factory=list)
    errors: list[JobpollError] = field(default_factory=list)


class _PartFile:
    """One output on its way to disk: the locked `.part`, the bytes in it, the size
    the server announced, and the checks that decide when it is whole."""

    def __init__(self, item: Planned, progress: Progress):
        self.item = item
        self.progress = progress
        self.part: Path | None = None
        self.fh: Any = None
        self.have = 0  # bytes in the .part
        self.total: int | None = None  # the size the server announced first
        self.task: Any = None
        self.renewed = False  # the link was asked for anew once already

    @property
    def final(self) -> Path | None:
        return self.part.with_name(self.part.name[:-len(".part")]) if self.part else None

    def open(self, path: Path) -> None:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        self.part = path.with_name(path.name + ".part")
        # Unbuffered: what write() accepted is in the .part, so a full disk or a
        # Ctrl-C leaves exactly the bytes counted, ready for a resume.
        self.fh = open(os.open(self.part, os.O_RDWR | os.O_CREAT, 0o666), "r+b", buffering=0)
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"{self.part} is being written by another jobpoll") from None
        self.have = os.fstat(self.fh.fileno()).st_size
        expected = _provider_size(self.item)
        if expected is not None and self.have > expected:
            self.restart()
        self.fh.seek(self.have)

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.have = 0
        self.total = None
        if self.task is not None:
            self.progress.update(self.task, done=0)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()  # also releases the lock
            if self.have == 0 and self.part is not None and self.part.exists():
                self.part.unlink()  # nothing to resume: no empty .part left behind
        if self.task is not None:
            self.progress.finish(self.task)

    def range_past_end(self, response: Any) -> bool:
        """Whether a 416 means the .part already holds the whole file (else it restarts)."""
        match = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("content-range", "").strip())
        if match and int(match.group(1)) == self.have:
            self.total = self.have
            return True
        self.restart()
        return False

    def announced(self, response: Any) -> int | None:
        """The whole file's size as this answer states it; a 200 to a resume restarts."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
            if not match or int(match.group(1)) != self.have:
                self.restart()
                raise _Retry("the server answered a different range than asked for")
            return int(match.group(3)) if match.group(3) != "*" else None
        if self.have:
            self.restart()  # the server ignored Range: the whole file again
        length = response.headers.get("content-length")
        return int(length) if length and length.isdigit() else None

    def check_sizes(self, path: Path, announced: int | None) -> None:
        host, expected = _host(self.item.output.url), _provider_size(self.item)
        if announced is not None and expected is not None and announced != expected:
            raise DownloadError(f"{host} announces {announced} bytes for {path} "
                                f"but {self.item.job.provider} says {expected}; not saved")
        if announced is not None and self.total is not None and announced != self.total:
            raise DownloadError(f"{host} announced {self.total} bytes for {path}, then {announced}; not saved")
        if self.total is None:
            self.total = announced if announced is not None else expected
        if self.task is None:
            self.task = self.progress.start(path.name, self.total, self.have)
        else:
            self.progress.update(self.task, total=self.total, done=self.have)

    def write(self, chunk: bytes, path: Path) -> None:
        view = memoryview(chunk)
        while view:
            written = self.fh.write(view)
            self.have += written
            view = view[written:]
        if self.total is not None and self.have > self.total:
            raise DownloadError(f"{_host(self.item.output.url)} sent more than the {self.total} "
                                f"bytes it announced for {path}; not saved")
        self.progress.update(self.task, advance=len(chunk))

    def finish(self, path: Path) -> None:
        expected = _provider_size(self.item)
        if expected is not None and self.have != expected:
            raise DownloadError(f"{path} came to {self.have} bytes but {self.item.job.provider} "
                                f"says {expected}; not saved")
        os.fsync(self.fh.fileno())
        assert self.part is not None
        os.replace(self.part, path)

    def local_error(self, directory: Path, exc: OSError) -> DownloadError:
        target = self.part or directory
        reason = exc.strerror or str(exc)
        if exc.errno in _DISK_FULL:
            kept = f"; the {self.have} bytes saved so far stay in it for a later resume" if self.part else ""
            return DownloadError(f"cannot write {target}: {reason}{kept}", job=self.item.job.ref)
        where = Path(exc.filename) if exc.filename else target
        return DownloadError(f"cannot write in {where}: {reason}", job=self.item.job.ref)


class Downloader:
    """Fetches planned outputs into `directory` (see the module docstring)."""

    def __init__(self, client: "httpx.AsyncClient", directory: Path, *, retries: int = RETRIES,
                 connections: int = CONNECTIONS, progress: Progress | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 log: Callable[[str], None] | None = None,
                 renew: "Callable[[Job], Awaitable[Job]] | None" = None):
        self._client = client
        self._dir = directory
        self._retries = retries
        self._gate = asyncio.Semaphore(connections)
        self._progress = progress or NoProgress()
        self._sleep = sleep
        self._log = log
        self._renew = renew  # a fresh lookup, for a refused pre-signed link
        self._claimed: set[Path] = set()  # names taken in this run (two outputs, one name)

    async def save(self, items: list[Planned]) -> Saved:
        """Every item of one job, at once; the files saved (in item order) and the errors."""
        if not items:
            return Saved()
        results = await asyncio.gather(*(self._save_one(item) for item in items), return_exceptions=True)
        saved = Saved()
        for result in results:
            if isinstance(result, JobpollError):
                saved.errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                saved.files.append(str(result))
        return saved

    async def _save_one(self, item: Planned) -> Path:
        state = _PartFile(item, self._progress)
        try:
            if not item.needs_content_type:
                path = self._claim(item, item.name())
                if self._complete_already(item, path):
                    return path
                state.open(path)
            else:
                saved_before = self._saved_under_some_ext(item)
                if saved_before is not None:
                    return saved_before
                path = None  # the answer's Content-Type completes the name
            return await self._fetch(state, path)
        except OSError as exc:
            raise state.local_error(self._dir, exc) from None
        except JobpollError as exc:
            raise exc.for_job(item.job.ref)
        finally:
            state.close()

    def _claim(self, item: Planned, name: str) -> Path:
        path = self._dir / name
        if path in self._claimed:
            raise DownloadError(f"two outputs would be saved as {path}; put {{index}} or {{type}} in --name")
        self._claimed.add(path)
        return path

    def _complete_already(self, item: Planned, path: Path) -> bool:
        """A file under its final name is whole (only complete files are renamed
        there): kept, not fetched again, unless the provider's size says it is not
        this output."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        expected = _provider_size(item)
        if expected is not None and size != expected:
            raise DownloadError(f"{path} exists with {size} bytes, not the {expected} of this output; "
                                "not overwritten (move it away or choose another --name)")
        return True

    def _saved_under_some_ext(self, item: Planned) -> Path | None:
        """For a URL without an extension: the one file an earlier run saved under
        the name with the extension its Content-Type gave, so that it is not asked
        for again."""
        if not item.template.endswith("{ext}"):
            return None
        import glob

        stem = self._dir / item.name("")
        found = [Path(p) for p in glob.glob(glob.escape(str(stem)) + ".*")
                 if EXT.fullmatch(Path(p).suffix) and Path(p).name == stem.name + Path(p).suffix]
        if len(found) != 1 or self._complete_already(item, found[0]) is False:
            return None
        self._claimed.add(found[0])
        return found[0]

    async def _fetch(self, state: _PartFile, path: Path | None) -> Path:
        failures = 0
        while True:
            before = state.have
            try:
                async with self._gate:
                    path = await self._attempt(state, path)
                if path is not None and state.fh is None:  # found complete on disk
                    return path
                break
            except _Refused as exc:
                if state.renewed or self._renew is None:
                    raise DownloadError(str(exc)) from None
                state.renewed = True
                state.item = await self._renewed(state.item)
                continue
            except _Retry as exc:
                reason = str(exc)
            except Exception as exc:  # the HTTP library's network errors
                if not _is_network_error(exc):
                    raise
                reason = _describe(exc)
            if state.have > before:
                failures = 0  # it moved: resume at once
                continue
            failures += 1
            if failures > self._retries:
                where = path or state.final or state.item.output.url
                raise DownloadError(f"could not fetch {where} after {_attempts(failures)}: {reason}"
                                    + (f"; {state.have} bytes kept in {state.part} for a later resume"
                                       if state.have and state.part else ""))
            await self._sleep(BACKOFF[min(failures, len(BACKOFF)) - 1])
        assert path is not None
        state.finish(path)
        return path

    async def _attempt(self, state: _PartFile, path: Path | None) -> Path | None:
        """One request; returns the final path once it is known. Raises _Retry."""
        item = state.item
        headers = {"Range": f"bytes={state.have}-"} if state.have else {}
        if self._log:
            self._log(f"> GET {item.output.url}" + (f" ({headers['Range']})" if headers else ""))
        async with self._client.stream("GET", item.output.url, headers=headers) as response:
            code = response.status_code
            if self._log:
                self._log(f"< {code} {response.headers.get('content-type', '')} "
                          f"{response.headers.get('content-length', '?')} bytes")
            if path is None and state.part is not None:  # named by an earlier attempt
                path = state.final
            if path is None:  # the name waited for the Content-Type
                path = self._claim(item, item.name(type_ext(response.headers.get("content-type"))))
                if self._complete_already(item, path):
                    return path
                state.open(path)
                if state.have:
                    state.restart()  # this answer is the whole file, not the rest
            if code == 416:
                if state.range_past_end(response):
                    return path
                raise _Retry("the partial file did not fit the server's; starting over")
            if code in (408, 425, 429) or code >= 500:
                raise _Retry(f"HTTP {code} from {_host(item.output.url)}")
            if code in (401, 403, 410) and "url_expires_at" in item.job.extra:
                raise _Refused(f"{_host(item.output.url)} refused the download link for {path} (HTTP {code})")
            if code not in (200, 206):
                raise DownloadError(f"{_host(item.output.url)} answered HTTP {code} for {path}")
            state.check_sizes(path, state.announced(response))
            # As the bytes arrive (no re-chunking): a drop loses nothing already received.
            async for chunk in response.aiter_raw():
                state.write(chunk, path)
        if state.total is not None and state.have < state.total:
            raise _Retry(f"the connection ended after {state.have} of {state.total} bytes")
        return path

    async def _renewed(self, item: Planned) -> Planned:
        """The item with the link a fresh lookup gives (the same output of the job)."""
        job = await self._renew(item.job)  # type: ignore[misc]
        same = [o for o in job.outputs if o.type == item.output.type]
        mine = [o for o in item.job.outputs if o.type == item.output.type]
        before = mine.index(item.output) if item.output in mine else 0
        if before >= len(same):
            raise DownloadError(f"{item.job.ref} no longer has this {item.output.type} output")
        return replace(item, job=job, output=same[before])


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _provider_size(item: Planned) -> int | None:
    sizes = item.job.extra.get("output_sizes") or {}
    size = sizes.get(item.output.url)
    return size if isinstance(size, int) and size >= 0 else None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


def _is_network_error(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, (httpx.TransportError, asyncio.TimeoutError, ConnectionError))


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    text = str(exc)
    return f"{name}: {text}" if text else name


def prepare_directory(directory: str | os.PathLike) -> Path:
    """The output directory, made if missing; DownloadError if it cannot take files.
    Checked before any request, so nothing is looked up (or spent from a budget)
    for a download that could not be written."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot save into {path}: {exc.strerror or exc}") from None
    # access() also reports a read-only file system, even to root.
    if not os.access(path, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_mount(path) else "permission denied"
        raise DownloadError(f"cannot save into {path}: {reason}")
    return path


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


async def save_all(downloader: Downloader, plans: list[list[Planned]]) -> list[Saved]:
    """Every job's planned files at once (the downloader bounds the connections)."""
    return list(await asyncio.gather(*(downloader.save(p) for p in plans)))
