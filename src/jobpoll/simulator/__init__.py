"""A local imitation of the providers' HTTP APIs, with injectable faults.

No machine here reaches the real json2video, Pictory, Muvi, Reelbot, Shotstack,
Creatomate, Replicate, Runway or Luma hosts, so
jobpoll ships this simulator. It serves, on 127.0.0.1, the endpoints jobpoll
uses, with the shapes, status words, errors and limits of each provider's own
documentation (shared/providers/*.txt) and of the quirks in SPEC.md. It is used
by the test-suite, by ``jobpoll simulate --port N`` (try scripts against it), by
``jobpoll demo`` and by benchmarks watching thousands of jobs. It imitates the
providers independently: nothing here imports jobpoll's own provider parsing.

Python API
==========

    from jobpoll.simulator import Simulator

    with Simulator(seed=1) as sim:            # start() on enter, stop() on exit
        jid = sim.add_job("pictory", queued=0.2, running=0.5)
        # point jobpoll at sim.base_url, e.g. JOBPOLL_PICTORY_BASE_URL=<sim.base_url>
        ...
        sim.requests()                        # every request received

``Simulator(*, seed=None, fault_rate=0.0, speed=1.0, clock=None)``
    seed: seeds the random faults (and the generated job IDs, for reproducible
    runs). fault_rate: 0..1, the share of provider requests that meet a random
    transient fault (500, 503, truncated, invalid_json, reset, slow, 429).
    speed: lifecycle speed-up for jobs added from now on (2.0 = twice as fast).
    clock: a ``SimClock`` (default: a new one), ``sim.clock``.
``start(host="127.0.0.1", port=0, *, foreign_port=0, files_port=0, ssl_context=None) -> str``
    Serves in a background thread with its own event loop; returns
    ``base_url`` ("http://127.0.0.1:PORT"; "https://..." when given a server
    ``ssl.SSLContext``, for tests and benchmarks of TLS). A second listener, the *foreign
    origin* (``foreign_url``), stands for "some other host" in redirect tests:
    it serves the same provider paths without checking keys, answers a
    valid-looking payload, and logs what it got (origin "foreign").
    A third, the *file origin* (``files_url``; ``files_port``), serves the
    jobs' outputs as a CDN would: see ``jobpoll.simulator._files``.
    Raises OSError when the port is taken.
``stop()``: idempotent.
``add_job(provider, job_id=None, *, queued=1.0, running=3.0, outcome="done", age=0.0, faults=None, **variant) -> str``
    Adds (or replaces) a job; returns its ID, generated in the provider's real
    shape when None (json2video 16 alphanumerics, Pictory a UUID4, Muvi
    "job_" + 12 hex, Reelbot 12 lower-case alphanumerics). Given IDs must have
    that shape for json2video (16 [A-Za-z0-9]) and Pictory (UUID); else ValueError.
``add_jobs(specs) -> list[str]``
    Specs are dicts {"provider": ..., "id" (or "job_id"; optional), other
    add_job keywords, "speed" (optional: this job's own speed-up)}. All or
    nothing: one bad spec raises ValueError and adds none.
``remove_job(provider, job_id) -> bool``; ``jobs(provider=None) -> ["provider:id", ...]``;
``phase(provider, job_id) -> str`` (queued, running, done, failed, cancelled, cleaned).
``advance(seconds) -> float``
    Moves the simulator's clock forward, as if ``seconds`` had passed: jobs
    progress (``seconds * speed`` of lifecycle), retentions run out, Reelbot's
    rate windows reset. Timestamps in answers stay on the real clock: what the
    simulator holds is back-dated instead (a job aged this way says it was
    created ``seconds`` earlier), so a client's clock agrees with them. Tests
    use it instead of sleeping. Returns the clock's total offset.
``requests(*, origin=None, path=None, since=None) -> list[dict]``
    The request log, oldest first, at most ``log_size`` (200,000) entries:
    {"t": epoch float, "origin": "main"|"foreign", "method", "path" (decoded),
    "query": dict, "headers": dict (lower-case names, values VERBATIM, keys
    included: tests assert on them), "status": int or None (connection reset)}.
    The optional filters: origin, a path prefix, t >= since. /_sim/* calls are
    not logged. Each call builds fresh dicts (the log itself keeps compact
    entries with shared header sets: about 400 bytes a request).
``clear_log()``; ``reset(*, jobs=True, log=True, limits=True)``.
``configure(**settings) -> dict`` and ``settings() -> dict``. Settings:
    fault_rate (0..1), seed (re-seeds the fault RNG), speed (new jobs),
    latency (seconds added before every provider answer; default 0),
    reelbot_status_budget (n, seconds) = (60, 60.0),
    reelbot_download_budget (n, seconds) = (30, 3600.0) (changing a budget
    restarts its windows), pictory_bot_protection = True,
    json2video_bad_key_status = 401 (400 and 403 have been seen live),
    json2video_unknown_project = 200 (or 400: the "internal error" quirk),
    muvi_wrapped = False (every Muvi answer as {success, data, requestId}),
    creatomate_budget (n, seconds) = (30, 10.0), replicate_page_size = 100,
    log_size = 200000, random_slow_delay = 1.0 (the delay of fault_rate's
    "slow" faults; their 429s say Retry-After: 1), file_origin = True (output
    URLs in answers point at the file origin), file_rate = 0 (bytes a second
    for every file served; 0: no limit).
Thread safety: jobs and settings may be changed from any thread while serving.

Jobs and their lifecycle
========================
A job's virtual clock starts ``age`` seconds in the past (``created_at`` is
back-dated by ``age`` wall-clock seconds) and from the moment it is added runs
``speed`` times faster than real time. It is queued for ``queued`` seconds,
then running for ``running`` seconds (progress linear 0 -> 100 where the
provider reports progress), then ``outcome``:

    done       every provider
    failed     every provider (the documented error shape; variant
               error_message / error_code change the texts)
    stuck      never finishes: stays running (progress frozen below 100); with
               a large ``age`` this is json2video's "running for more than 15
               minutes" case (the server keeps saying "running")
    cancelled  Muvi only
    cleaned    Pictory only: completed, then status "cleaned" after variant
               ``retention`` seconds (default 30)

Variants (add_job keywords; unknown ones raise ValueError):
    all        error_message, error_code, owner (only this API key sees the job;
               other keys get the provider's not-found answer), file_size (bytes
               of the main output on the file origin), file_faults (faults of
               the file origin: drop, wrong_length, slow, no_range, status,
               reset; see _files.py)
    json2video message (informational), progress=True (adds a "progress"
               field; the documented API has none), client_data, duration,
               size, width, height, subtitles (False: "ass" stays false),
               consumed_credits
    pictory    ai_studio=True ("url" instead of "videoURL"), video_duration,
               retention
    muvi       progress="linear" (0 -> 100 while processing; by default the
               documented 0 pending / 50 processing / 100 completed),
               wrapped=True ({success, data, requestId}), model, output_type
               (video, image, audio, text)
    reelbot    (none beyond the common ones)

Endpoints (main origin; paths as the real APIs)
===============================================
Auth, all providers: any non-empty key works except keys starting "bad" (the
provider's 401). Missing key: 401. json2video: a key starting "quota" gets 401
"Quota exceeded...". Muvi: "inactive..." 401 API_KEY_INACTIVE, "expired..."
401 API_KEY_EXPIRED, "noip..." 403 IP_NOT_WHITELISTED, "noscope..." 403
OPERATION_NOT_ALLOWED; a header that is not "Bearer KEY" 401 UNAUTHORIZED.

GET /v2/movies (json2video; x-api-key)
    ?project=ID or ?id=ID: {"success": true, "movie": {...}, "remaining_quota":
    {...}} with the documented movie fields (status pending|running|done|error;
    url null, ass false, ended_at null until done; duration, size and
    rendering_time null until done; on error movie.success false and
    movie.message the reason). Timestamps like 2026-05-12T07:41:41.946Z.
    A malformed ID: 400 "Project ID must be a 16-character string. Received
    ID: '...' (length: N)". An unknown project: 200 with movie.status "error"
    and a message (setting json2video_unknown_project=400: a 400 instead).
    No project: list mode. date_start/from, date_end/to (a date, or an
    ISO-8601 datetime; a date as the end means the end of that day; default the
    first day of this month .. the end of today, UTC), limit 1..100 (default
    100; out of range is clamped, unreadable means 100), next_token. Movies
    whose created_at lies in [from, to], newest first; {"success", "from",
    "to", "count" (movies on this page), "limit", "has_next", "has_prev",
    "next_token" (opaque, carries the date range: later pages need only
    next_token; null on the last page), "movies", "remaining_quota"}.
    to - from over 93 days (measured exactly): 400 "Maximum date range is 3
    months."; unreadable dates: 400 "Invalid start date" / "Invalid end date".
GET /pictoryapis/v1/jobs/{id} (Pictory; "Authorization: KEY", the raw key)
    in-progress (queued: data {status} only; running adds renderProgress,
    renderProgressMessage, renderState "RUNNING"), completed (progress 100 and
    the output URLs, "url" for AI Studio jobs), failed (success false,
    error_code, error_message), cleaned (data {status} only). Unknown job: 404
    {"job_id", "success": false, "data": {"error_code": "5000",
    "error_message": "JOB_NOT_FOUND"}}. Bad/missing key: 401 {"message":
    "Unauthorized"}. Bot protection (before anything else): a User-Agent that
    does not start with "jobpoll/" and is generic (python-httpx,
    python-requests, curl, aiohttp, Python-urllib, wget, Go-http-client, ...,
    empty or missing) gets a 403 Cloudflare "Sorry, you have been blocked" HTML
    page; browser-like and other agents pass.
GET /v1/jobs/{jobId} (Muvi; "Authorization: Bearer KEY")
    {jobId, status (pending|processing|completed|failed|cancelled), progress,
    output, outputs [{url, type, thumbnail, posterImage}], error {code,
    message}, createdAt, completedAt}, timestamps without milliseconds. Errors
    {"success": false, "error": {code, message, details}, "requestId"}; 404
    JOB_NOT_FOUND.
GET /v1/jobs (Muvi list)
    limit (default 20, 1..100, else 400 VALIDATION_ERROR), cursor, status,
    modelId. {"jobs": [{jobId, status, progress, model, createdAt,
    completedAt}], "nextCursor", "hasMore"}, newest first; the cursor is a
    keyset position, so jobs created between pages are neither missed nor
    repeated.
GET /api/v1/video/status/{projectId} (Reelbot; X-API-Key)
    {status (queued|processing|completed|failed), message (the documented
    texts), createdAt, updatedAt (not while queued), outputKey (completed),
    error (failed)}. 404 NOT_FOUND, 401 UNAUTHORIZED, 400 INVALID_PROJECT_ID
    as documented. Rate limit per key: a fixed window opened by the first
    request, 60 per 60 s (setting reelbot_status_budget). Every keyed answer
    carries X-RateLimit-Remaining and X-RateLimit-Reset (ISO-8601); over budget:
    429, Retry-After (whole seconds, rounded up) and {"success": false,
    "message": "Rate limit exceeded. Please reduce polling frequency.", "code":
    "RATE_LIMITED", "details": {"resetAt": ISO}}.
GET /api/v1/video/download/{projectId} (Reelbot)
    Its own budget, 30 an hour per key (reelbot_download_budget). Completed:
    {"success": true, "downloadUrl": "<base>/_files/<id>.mp4?X-Amz-...
    &X-Amz-Expires=3600&X-Amz-Signature=...", "expiresAt": now + 1 h}; a new URL
    on every call. Not completed: 400 VIDEO_NOT_READY; failed: 404
    OUTPUT_NOT_FOUND; unknown: 404 NOT_FOUND.
GET /_files/<id>.mp4?...: a tiny fake MP4 (403 AccessDenied XML once expired);
    with file_origin on, the links point at the file origin instead, which
    serves the job's file there.

The five below are written from their documentation (shared/providers/more.md;
_renderapis.py), never from jobpoll's definition files. Their base URLs carry
a path: ``sim.url_for(provider)`` (or BASE_PATHS) gives the one to configure.
Keys: missing or starting "bad" are refused in each API's style (Shotstack 403,
the others 401). Outcomes: done, failed, stuck for all; cancelled for Runway and
Replicate ("canceled"), aborted for Replicate (never started).
GET /edit/{v1|stage}/render/{id} (Shotstack; x-api-key)
    {success, message, response: {id, owner, plan, status, error, duration,
    billable, renderTime, url, poster, thumbnail, data, created, updated}};
    status queued, then fetching, preprocessing, rendering, saving through the
    running phase, done or failed; url/poster/thumbnail null until done.
GET /v1/renders/{id} and /v2/renders/{id} (Creatomate; Bearer)
    The render object: status planned (variant waiting=True: "waiting"), then
    transcribing (variant transcribe=True, first 40% of running) and rendering,
    succeeded or failed; `url` always present, `snapshot_url` once succeeded,
    `error_message` once failed. 30 requests per 10 s per key (setting
    creatomate_budget), then 429 with no Retry-After (none is documented).
GET /v1/predictions/{id} (Replicate; Bearer)
    {id, model, version, input, logs, output, data_removed, error, status,
    source, created_at, started_at, completed_at, urls, metrics}; status
    starting, processing, succeeded, failed, canceled, aborted; output by
    variant output = "string" (default) | "list" | "object"; variant
    data_removed=True: succeeded with output null and data_removed true.
    Errors as {title, detail, status}.
GET /v1/predictions (Replicate list)
    Newest first, ``replicate_page_size`` (100) a page: {previous, next (a URL
    on the simulator with ?cursor=), results}.
GET /v1/tasks/{id} (Runway; Bearer and X-Runway-Version 2024-11-06 or
    2024-09-13, else 400) {id, createdAt, status}; PENDING (variant
    throttled=True: THROTTLED), RUNNING with progress 0..1, SUCCEEDED with
    output [url], FAILED with failure and failureCode (variants error_message,
    error_code; error_code "" leaves it out), CANCELLED. Errors {"error"}.
GET /dream-machine/v1/generations/{id} (Luma; Bearer)
    {id, generation_type, state, failure_reason, created_at, assets, model,
    request}; state queued, dreaming, completed, failed; assets null until
    completed, then {video, progress_video} (variant image=True: {image}).
    Errors {"detail"}.
GET /dream-machine/v1/generations?limit=&offset= (Luma list)
    Newest first: {generations, has_more, count, limit, offset}.

Faults
======
Per job: add_job(..., faults=[{"kind": K, "times": 1, "after": 0, "on":
"status", ...params}, ...]); a bare "K" is short for {"kind": "K"}. Each
status lookup of the job (the n-th, counted from 0) meets the first fault in
the list with times left (-1 = forever) and ``after`` <= n. ``on`` picks the endpoint: "status" (default), "download"
(Reelbot) or "any". At random: fault_rate draws, with random.Random(seed),
among 500, 503, truncated, invalid_json, reset, slow (random_slow_delay,
1 s) and 429 (Retry-After 1 s) for
any provider request (before the key is checked).

    "500" "502" "503"  nginx-style HTML error page (param retry_after: a
                       Retry-After header)
    "429"              Retry-After: seconds (param seconds, default 2, or the
                       time to reset_at when only that is given; param
                       http_date=True sends an HTTP-date; retry_after=False
                       omits the header) and a reset time in the body (param
                       reset_at: seconds from now or an ISO string; default
                       now + seconds). Reelbot: the documented body and
                       X-RateLimit-Remaining 0; others a plausible JSON body.
    "401" "404"        the provider's own 401 / not-found answer
    "truncated"        the real JSON cut in half (Content-Length of the half;
                       param close=True announces the full length and drops
                       the connection midway instead)
    "invalid_json"     the real JSON with a trailing ",}" (param body: send
                       exactly that text)
    "wrong_shape"      param shape: array ([payload]), null, number (42),
                       strings (every number as a string), missing (status and
                       ID fields dropped), html (200 text/html sign-in page)
    "unknown_status"   the status word replaced by "rendering-v2" (param status)
    "slow"             param delay seconds (default 5) before the real answer
    "reset"            the connection dropped (RST) without any response
    "drip"             the real answer, param chunk bytes (16) every param
                       pause seconds (0.05)
    "huge"             a valid JSON document of param size bytes (default
                       20 MiB): the real payload plus a "padding" string,
                       streamed chunked (param content_length=True: with a
                       Content-Length)
    "redirect"         302 (param status, e.g. 307) to the same path and query
                       on the FOREIGN origin
    "redirect_same"    302 to the same path and query on the main origin plus
                       ``_sim_redirected=1``; that second hit skips the job's
                       faults and answers normally

HTTP control API (main origin; drives a ``jobpoll simulate`` subprocess)
=======================================================================
    GET  /_sim                 {"base_url", "foreign_url", "files_url", "jobs": counts,
                               "requests": log size, "config"}
    POST /_sim/jobs            one spec or a list (as add_jobs) -> {"ids",
                               "refs": ["provider:id", ...]}; 400 {"error"}
    GET  /_sim/jobs            {"jobs": ["provider:id", ...]} (?provider=)
    GET  /_sim/requests        {"requests": [...]} (?origin=, ?path= prefix,
                               ?since= epoch, ?clear=1 empties the log after)
    POST /_sim/reset           optional body {"jobs", "log", "limits": bool}
    GET|POST /_sim/config      settings as in configure() (budgets as [n, s])
    GET  /_sim/clock           {"offset": seconds the clock was advanced}
    POST /_sim/clock           {"advance": SECONDS}: as advance(); {"offset"}

Entry points
============
``serve(port=8765, host="127.0.0.1", *, seed=None, fault_rate=0.0, out=None)``
    Blocking, for ``jobpoll simulate``: starts the server, adds sample jobs
    (per provider one done, one running for ten minutes, one that finishes
    in about 30 s, one failed), prints the base URL (first line), export lines
    for every provider's base URL and key (``sim-key``), sample commands, and
    serves until KeyboardInterrupt, then returns. ``out`` defaults to
    sys.stdout at call time.
``seed_demo_jobs(sim) -> list[str]``
    "provider:id" refs for ``jobpoll demo``: eleven jobs, two per Python
    provider and one each of Shotstack (its fetching/preprocessing/rendering/
    saving steps), Runway (THROTTLED, then progress) and Replicate, all finished
    within ~5-15 s. Progress shows for Pictory (renderProgress)
    and Muvi (one linear, one with the documented 0/50/100 steps); json2video
    and Reelbot report none. One json2video job fails with a message. One
    Reelbot job answers its second status lookup with a documented 429
    (Retry-After 3 s, details.resetAt): a rate limit the demo shows being
    waited out, whatever pace jobpoll keeps. The budgets are left as
    documented.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from ._jobs import FAULT_KINDS, PROVIDERS, TRANSIENT_KINDS, SimClock
from ._renderapis import BASE_PATHS

if TYPE_CHECKING:
    from ._server import Simulator

__all__ = ["Simulator", "SimClock", "serve", "seed_demo_jobs", "PROVIDERS", "FAULT_KINDS",
           "TRANSIENT_KINDS", "SIM_KEY", "BASE_PATHS"]

SIM_KEY = "sim-key"


def __getattr__(name: str) -> Any:
    # aiohttp is imported only when the simulator is actually used.
    if name == "Simulator":
        from ._server import Simulator
        return Simulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def seed_demo_jobs(sim: "Simulator") -> list[str]:
    """A handful of jobs of every provider for ``jobpoll demo``; returns "provider:id" refs."""
    specs: list[dict[str, Any]] = [
        {"provider": "json2video", "queued": 1.0, "running": 6.0,
         "client_data": {"demo": True}},
        {"provider": "json2video", "queued": 1.5, "running": 5.0, "outcome": "failed",
         "error_message": "Error rendering scene #3: the image "
                          "'https://example.com/assets/logo.png' could not be downloaded (404)"},
        {"provider": "pictory", "queued": 2.0, "running": 9.0},
        {"provider": "pictory", "queued": 1.0, "running": 6.0, "ai_studio": True},
        {"provider": "muvi", "queued": 1.0, "running": 11.0, "progress": "linear"},
        {"provider": "muvi", "queued": 1.5, "running": 6.0},
        {"provider": "reelbot", "queued": 2.0, "running": 8.0,
         "faults": [{"kind": "429", "after": 1, "seconds": 3}]},
        {"provider": "reelbot", "queued": 1.0, "running": 5.0},
        {"provider": "shotstack", "queued": 1.0, "running": 8.0},
        {"provider": "runway", "queued": 1.5, "running": 7.0, "throttled": True},
        {"provider": "replicate", "queued": 1.0, "running": 6.0},
    ]
    ids = sim.add_jobs(specs)
    return [f"{s['provider']}:{i}" for s, i in zip(specs, ids)]


def _sample_jobs(sim: "Simulator") -> list[tuple[str, str]]:
    """(ref, description) of the sample jobs serve() adds."""
    out = []
    for provider in PROVIDERS:
        for desc, spec in (
            ("done", {"queued": 5, "running": 60, "age": 3600}),
            ("running for ten minutes", {"queued": 0, "running": 600, "age": 30}),
            ("finishes in about 30 s", {"queued": 5, "running": 25}),
            ("failed", {"queued": 5, "running": 20, "age": 1800, "outcome": "failed"}),
        ):
            if provider == "muvi" and desc != "failed":
                spec = dict(spec, progress="linear")
            job_id = sim.add_job(provider, **spec)
            out.append((f"{provider}:{job_id}", desc))
    return out


def serve(port: int = 8765, host: str = "127.0.0.1", *, seed: int | None = None,
          fault_rate: float = 0.0, out: TextIO | None = None) -> None:
    """Run the simulator until KeyboardInterrupt (``jobpoll simulate``)."""
    from ._server import Simulator

    out = out if out is not None else sys.stdout
    sim = Simulator(seed=seed, fault_rate=fault_rate)
    base = sim.start(host, port)
    try:
        samples = _sample_jobs(sim)
        lines = [f"jobpoll simulator listening on {base}", ""]
        for provider in PROVIDERS:
            env = provider.upper()
            lines.append(f"export JOBPOLL_{env}_BASE_URL={sim.url_for(provider)}")
            lines.append(f"export JOBPOLL_{env}_API_KEY={SIM_KEY}")
        lines += ["", "Sample jobs:"]
        width = max(len(ref) for ref, _ in samples)
        for ref, desc in samples:
            lines.append(f"  jobpoll status {ref.ljust(width)}   # {desc}")
        lines += [
            "",
            "Keys starting with 'bad' are rejected. Control API: POST /_sim/jobs, "
            "GET /_sim/requests, POST /_sim/reset, POST /_sim/config "
            "(see: python -c 'import jobpoll.simulator as s; help(s)').",
            f"Foreign origin (redirect tests): {sim.foreign_url}",
            f"File origin (the outputs, as a CDN would serve them): {sim.files_url}",
            f"fault_rate={fault_rate} seed={seed}. Press Ctrl-C to stop.",
        ]
        out.write("\n".join(lines) + "\n")
        out.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
