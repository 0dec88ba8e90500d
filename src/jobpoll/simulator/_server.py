"""The Simulator: an aiohttp server imitating the four providers (see the package docstring)."""

from __future__ import annotations

import asyncio
import bisect
import collections
import math
import random
import threading
import time
from typing import Any, Iterable
from urllib.parse import parse_qsl

from aiohttp import web

from ._faults import REDIRECT_MARKER
from ._files import FileOrigin, normalize_file_faults
from ._handlers import ProviderHandlers
from ._renderapi_handlers import RenderApiHandlers
from ._jobs import PROVIDERS, TRANSIENT_KINDS, SimClock, SimJob, make_job

LOG_SIZE = 200_000

DEFAULT_SETTINGS: dict[str, Any] = {
    "fault_rate": 0.0,
    "speed": 1.0,
    "latency": 0.0,
    "reelbot_status_budget": (60, 60.0),
    "reelbot_download_budget": (30, 3600.0),
    "pictory_bot_protection": True,
    "json2video_bad_key_status": 401,
    "json2video_unknown_project": 200,
    "muvi_wrapped": False,
    "creatomate_budget": (30, 10.0),
    "replicate_page_size": 100,
    "log_size": LOG_SIZE,
    "random_slow_delay": 1.0,
    "file_origin": True,  # output URLs point at the file origin (_files.py)
    "file_rate": 0.0,  # bytes a second for every file the file origin serves; 0: no limit
}


def _unlist(order: list[tuple[float, str]], job: SimJob) -> None:
    """Take the job out of its provider's creation order (sorted (created, id))."""
    i = bisect.bisect_left(order, (job.created, job.id))
    if i < len(order) and order[i] == (job.created, job.id):
        del order[i]


class Simulator(RenderApiHandlers, ProviderHandlers):
    """A local imitation of the json2video, Pictory, Muvi, Reelbot, Shotstack,
    Creatomate, Replicate, Runway and Luma APIs.

    See the package docstring (``jobpoll.simulator``) for endpoints, jobs,
    faults, settings and the HTTP control API.
    """

    def __init__(self, *, seed: int | None = None, fault_rate: float = 0.0,
                 speed: float = 1.0, clock: SimClock | None = None) -> None:
        self._lock = threading.RLock()
        self.clock = clock or SimClock()
        self._seed = seed
        self._fault_rng = random.Random(seed)
        self._id_rng = random.Random(seed) if seed is not None else random.Random()
        self._settings: dict[str, Any] = dict(DEFAULT_SETTINGS)
        self._jobs: dict[str, dict[str, SimJob]] = {p: {} for p in PROVIDERS}
        self._order: dict[str, list[tuple[float, str]]] = {p: [] for p in PROVIDERS}
        self._seq = 0
        self._windows: dict[tuple[str, str], list[float]] = {}
        # Entries are compact lists [t, origin, method, path, query string, headers,
        # status]; header sets repeat, so they are shared through _header_cache.
        self._log: collections.deque[list] = collections.deque(maxlen=LOG_SIZE)
        self._header_cache: dict[tuple, tuple[tuple[str, str], ...]] = {}
        self._sig_counter = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runners: list[web.AppRunner] = []
        self.base_url = ""
        self.foreign_url = ""
        self.files = FileOrigin(self)
        self.configure(fault_rate=fault_rate, speed=speed)

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0, *, foreign_port: int = 0,
              files_port: int = 0, ssl_context: Any = None) -> str:
        """Serve in a background thread; returns the base URL ("http://127.0.0.1:PORT",
        or https with a server `ssl_context`, as real providers are; the foreign
        origin too, the file origin stays http)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        ready = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                box["ports"] = loop.run_until_complete(
                    self._setup(host, port, foreign_port, files_port, ssl_context))
            except BaseException as exc:  # reported to the caller of start()
                box["error"] = exc
                loop.run_until_complete(self._cleanup())
                loop.close()
                ready.set()
                return
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._cleanup())
                loop.close()

        thread = threading.Thread(target=run, name="jobpoll-simulator", daemon=True)
        thread.start()
        ready.wait()
        if "error" in box:
            thread.join()
            raise box["error"]
        self._thread = thread
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        if ":" in shown:
            shown = f"[{shown}]"
        main_port, foreign, files = box["ports"]
        scheme = "https" if ssl_context is not None else "http"
        self.base_url = f"{scheme}://{shown}:{main_port}"
        self.foreign_url = f"{scheme}://{shown}:{foreign}"
        self.files.base_url = f"http://{shown}:{files}"
        return self.base_url

    @property
    def files_url(self) -> str:
        """The file origin, where outputs are served (see _files.py)."""
        return self.files.base_url

    def file_bytes(self, url: str) -> bytes:
        """The whole file the file origin serves at `url`."""
        return self.files.file_bytes(url)

    def url_for(self, provider: str) -> str:
        """The base URL to give jobpoll for `provider` (JOBPOLL_<NAME>_BASE_URL): the
        simulator's, plus the path the API lives under (Shotstack /edit/v1, Luma
        /dream-machine/v1)."""
        from ._renderapis import BASE_PATHS

        return self.base_url + BASE_PATHS.get(provider, "")

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            fut = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
            fut.result(timeout=5)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = self._loop = None

    def __enter__(self) -> "Simulator":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def _setup(self, host: str, port: int, foreign_port: int,
                     files_port: int, ssl_context: Any = None) -> tuple[int, int, int]:
        ports = []
        for origin, wanted in (("main", port), ("foreign", foreign_port), ("files", files_port)):
            app = web.Application(handler_args={"max_field_size": 65536})
            self._routes(app, origin)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            self._runners.append(runner)
            tls = ssl_context if origin != "files" else None
            site = web.TCPSite(runner, host, wanted, backlog=2048, ssl_context=tls)
            await site.start()
            ports.append(runner.addresses[0][1])
        return ports[0], ports[1], ports[2]

    async def _cleanup(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            try:
                await runner.cleanup()
            except Exception:
                pass

    # ------------------------------------------------------------------ jobs

    def add_job(self, provider: str, job_id: str | None = None, *, queued: float = 1.0,
                running: float = 3.0, outcome: str = "done", age: float = 0.0,
                faults: list[dict] | None = None, **variant: Any) -> str:
        """Create (or replace) a job; returns its ID."""
        return self.add_jobs([dict(variant, provider=provider, id=job_id, queued=queued,
                                   running=running, outcome=outcome, age=age, faults=faults)])[0]

    def add_jobs(self, specs: Iterable[dict]) -> list[str]:
        """add_job for each spec: {"provider": ..., "id" or "job_id": ..., other add_job
        keywords}. All or nothing: one bad spec (ValueError) adds none."""
        with self._lock:
            made = []
            for spec in specs:
                if not isinstance(spec, dict) or "provider" not in spec:
                    raise ValueError(f"a job spec is a dict with a 'provider': {spec!r}")
                spec = dict(spec)
                provider = spec.pop("provider")
                job_id = spec.pop("id", None)
                job_id = spec.pop("job_id", None) if job_id is None else job_id
                self._seq += 1
                speed = spec.pop("speed", self._settings["speed"])
                file_faults = normalize_file_faults(spec.pop("file_faults", None))
                job = make_job(provider, job_id, rng=self._id_rng, speed=speed,
                               seq=self._seq, clock=self.clock, **spec)
                if file_faults:
                    job.variant["file_faults"] = file_faults
                made.append(job)
            for job in made:
                jobs, order = self._jobs[job.provider], self._order[job.provider]
                old = jobs.get(job.id)
                if old is not None:
                    _unlist(order, old)
                jobs[job.id] = job
                bisect.insort(order, (job.created, job.id))
            return [job.id for job in made]

    def remove_job(self, provider: str, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(provider, {}).pop(job_id, None)
            if job is None:
                return False
            _unlist(self._order[provider], job)
            return True

    def advance(self, seconds: float) -> float:
        """Move the simulator's clock `seconds` forward, as if that time had passed:
        jobs progress, retentions run out, rate windows reset. What the simulator
        holds is back-dated by as much, so the times in its answers stay on the
        real clock. Returns the clock's total offset."""
        with self._lock:
            self.clock.advance(seconds)
            for provider in PROVIDERS:
                jobs = self._jobs[provider]
                for job in jobs.values():
                    job.created = round(job.created - seconds, 3)
                self._order[provider] = sorted((job.created, job.id) for job in jobs.values())
            for window in self._windows.values():  # [start, count, wall-clock start (Reelbot)]
                window[2:] = [wall - seconds for wall in window[2:]]
            return self.clock.offset

    def phase(self, provider: str, job_id: str) -> str:
        """The job's phase now: queued, running, done, failed, cancelled or cleaned."""
        return self._jobs[provider][job_id].phase()[0]

    def jobs(self, provider: str | None = None) -> list[str]:
        """"provider:id" of every job (oldest first)."""
        with self._lock:
            return [f"{p}:{i}" for p in PROVIDERS if provider in (None, p)
                    for _, i in self._order[p]]

    # ------------------------------------------------------------------ log and settings

    def requests(self, *, origin: str | None = None, path: str | None = None,
                 since: float | None = None) -> list[dict]:
        """The request log, oldest first (optionally filtered: origin, path prefix, t >= since)."""
        with self._lock:
            entries = list(self._log)
        if origin is not None:
            entries = [e for e in entries if e[1] == origin]
        if path is not None:
            entries = [e for e in entries if e[3].startswith(path)]
        if since is not None:
            entries = [e for e in entries if e[0] >= since]
        return [{"t": t, "origin": o, "method": m, "path": p,
                 "query": dict(parse_qsl(qs, keep_blank_values=True)) if qs else {},
                 "headers": dict(h), "status": st}
                for t, o, m, p, qs, h, st in entries]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self, *, jobs: bool = True, log: bool = True, limits: bool = True) -> None:
        """Forget jobs, the request log and/or the rate-limit windows."""
        with self._lock:
            if jobs:
                for p in PROVIDERS:
                    self._jobs[p].clear()
                    self._order[p].clear()
            if log:
                self._log.clear()
            if limits:
                self._windows.clear()

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings (see the package docstring); returns them all."""
        with self._lock:
            new = dict(self._settings)
            for name, value in settings.items():
                if name == "seed":
                    self._seed = value
                    self._fault_rng = random.Random(value)
                    continue
                if name not in DEFAULT_SETTINGS:
                    raise ValueError(f"unknown setting {name!r}; known: "
                                     f"{', '.join(sorted(DEFAULT_SETTINGS) + ['seed'])}")
                new[name] = self._check_setting(name, value)
            for bucket in ("status", "download"):
                if f"reelbot_{bucket}_budget" in settings:
                    for k in [k for k in self._windows if k[0] == bucket]:
                        del self._windows[k]
            if new["log_size"] != self._settings["log_size"]:
                self._log = collections.deque(self._log, maxlen=new["log_size"])
            self._settings = new
            return self.settings()

    def settings(self) -> dict[str, Any]:
        out = dict(self._settings)
        out["seed"] = self._seed
        return out

    @staticmethod
    def _check_setting(name: str, value: Any) -> Any:
        if name == "fault_rate":
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise ValueError("fault_rate is between 0 and 1")
        elif name == "speed":
            value = float(value)
            if value <= 0:
                raise ValueError("speed must be > 0")
        elif name in ("latency", "random_slow_delay", "file_rate"):
            value = max(0.0, float(value))
        elif name.endswith("_budget"):
            n, seconds = value
            value = (int(n), float(seconds))
            if value[0] < 0 or value[1] <= 0:
                raise ValueError(f"{name} is (requests >= 0, seconds > 0)")
        elif name == "json2video_bad_key_status":
            value = int(value)
            if value not in (400, 401, 403):
                raise ValueError("json2video_bad_key_status is 400, 401 or 403")
        elif name == "json2video_unknown_project":
            value = int(value)
            if value not in (200, 400):
                raise ValueError("json2video_unknown_project is 200 or 400")
        elif name == "replicate_page_size":
            value = int(value)
            if value < 1:
                raise ValueError("replicate_page_size must be >= 1")
        elif name in ("pictory_bot_protection", "muvi_wrapped", "file_origin"):
            value = bool(value)
        elif name == "log_size":
            value = int(value)
            if value < 1:
                raise ValueError("log_size must be >= 1")
        return value

    # ------------------------------------------------------------------ plumbing

    def _routes(self, app: web.Application, origin: str) -> None:
        cache = self._header_cache

        def wrap(fn):
            async def handler(request: web.Request) -> web.StreamResponse:
                raw = request.raw_headers
                headers = cache.get(raw)
                if headers is None:
                    if len(cache) > 4096:
                        cache.clear()
                    headers = cache[raw] = tuple(
                        (k.decode("utf-8", "surrogateescape").lower(),
                         v.decode("utf-8", "surrogateescape")) for k, v in raw)
                entry = [time.time(), origin, request.method, request.path,
                         request.query_string, headers, None]
                self._log.append(entry)
                latency = self._settings["latency"]
                if latency and origin == "main":
                    await asyncio.sleep(latency)
                resp = await fn(request, origin == "main")
                entry[6] = resp.status
                return resp
            return handler

        r = app.router
        if origin == "files":
            r.add_get("/{tail:.*}", wrap(self.files.serve))
            return
        r.add_get("/v2/movies", wrap(self._json2video))
        r.add_get("/pictoryapis/v1/jobs/{job_id}", wrap(self._pictory))
        r.add_get("/v1/jobs", wrap(self._muvi_list))
        r.add_get("/v1/jobs/{job_id}", wrap(self._muvi))
        r.add_get("/api/v1/video/status/{job_id}", wrap(self._reelbot_status))
        r.add_get("/api/v1/video/download/{job_id}", wrap(self._reelbot_download))
        r.add_get("/_files/{name}", wrap(self._files))
        self._render_api_routes(r, wrap)
        if origin == "main":
            r.add_get("/_sim", self._sim_info)
            r.add_get("/_sim/jobs", self._sim_list_jobs)
            r.add_post("/_sim/jobs", self._sim_add_jobs)
            r.add_get("/_sim/requests", self._sim_requests)
            r.add_post("/_sim/reset", self._sim_reset)
            r.add_get("/_sim/config", self._sim_config)
            r.add_post("/_sim/config", self._sim_config)
            r.add_get("/_sim/clock", self._sim_clock)
            r.add_post("/_sim/clock", self._sim_clock)
        r.add_route("*", "/{tail:.*}", wrap(self._not_routed))

    def _random_fault(self, main: bool) -> dict | None:
        rate = self._settings["fault_rate"]
        if not main or rate <= 0:
            return None
        with self._lock:
            if self._fault_rng.random() >= rate:
                return None
            kind = self._fault_rng.choice(TRANSIENT_KINDS)
        return {"kind": kind, "random": True, "delay": self._settings["random_slow_delay"],
                "seconds": 1}

    def _job_fault(self, job: SimJob, endpoint: str, request: web.Request) -> dict | None:
        if REDIRECT_MARKER in request.query:
            return None
        with self._lock:
            n = job.lookups.get(endpoint, 0)
            job.lookups[endpoint] = n + 1
            for f in job.faults:
                if f["left"] == 0 or n < f["after"] or f["on"] not in ("any", endpoint):
                    continue
                if f["left"] > 0:
                    f["left"] -= 1
                return f
        return None

    def _take(self, bucket: str, key: str) -> tuple[bool, int, float, int]:
        """Count one request in Reelbot's fixed window: (allowed, remaining, reset epoch, retry-after)."""
        n, period = self._settings[f"reelbot_{bucket}_budget"]
        now_m = self.clock.monotonic()
        with self._lock:
            w = self._windows.get((bucket, key))
            if w is None or now_m >= w[0] + period:
                w = [now_m, 0, time.time()]
                self._windows[(bucket, key)] = w
            reset = w[2] + period
            if w[1] >= n:
                return False, 0, reset, max(1, math.ceil(w[0] + period - now_m))
            w[1] += 1
            return True, int(n - w[1]), reset, 0

    # ------------------------------------------------------------------ control API

    async def _sim_info(self, request: web.Request) -> web.Response:
        with self._lock:
            counts = {p: len(self._jobs[p]) for p in PROVIDERS}
        return self._json(200, {"base_url": self.base_url, "foreign_url": self.foreign_url,
                                "files_url": self.files_url,
                                "jobs": counts, "requests": len(self._log),
                                "config": self.settings()})

    async def _sim_list_jobs(self, request: web.Request) -> web.Response:
        return self._json(200, {"jobs": self.jobs(request.query.get("provider"))})

    async def _sim_add_jobs(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            specs = spec if isinstance(spec, list) else [spec]
            ids = self.add_jobs(specs)
        except (ValueError, TypeError) as exc:
            return self._json(400, {"error": str(exc)})
        refs = [f"{s['provider']}:{i}" for s, i in zip(specs, ids)]
        return self._json(200, {"ids": ids, "refs": refs})

    async def _sim_requests(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            since = float(q["since"]) if "since" in q else None
        except ValueError:
            return self._json(400, {"error": "since is an epoch number"})
        entries = self.requests(origin=q.get("origin"), path=q.get("path"), since=since)
        if q.get("clear") in ("1", "true"):
            self.clear_log()
        return self._json(200, {"requests": entries})

    async def _sim_reset(self, request: web.Request) -> web.Response:
        opts: dict = {}
        if request.can_read_body:
            try:
                opts = await request.json()
            except ValueError:
                return self._json(400, {"error": "the body is a JSON object"})
            if not isinstance(opts, dict):
                return self._json(400, {"error": "the body is a JSON object"})
        try:
            self.reset(**{k: bool(v) for k, v in opts.items()})
        except TypeError as exc:
            return self._json(400, {"error": str(exc)})
        return self._json(200, {"ok": True})

    async def _sim_config(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return self._json(200, {"config": self.settings()})
        try:
            settings = await request.json()
            if not isinstance(settings, dict):
                raise ValueError("the body is a JSON object of settings")
            return self._json(200, {"config": self.configure(**settings)})
        except (ValueError, TypeError) as exc:
            return self._json(400, {"error": str(exc)})

    async def _sim_clock(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict) or set(body) != {"advance"}:
                    raise ValueError('the body is {"advance": SECONDS}')
                self.advance(body["advance"])
            except (ValueError, TypeError) as exc:
                return self._json(400, {"error": str(exc)})
        return self._json(200, {"offset": self.clock.offset})
