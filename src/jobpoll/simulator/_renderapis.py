"""Shotstack, Creatomate, Replicate, Runway and Luma: what each answers, as their
documentation describes it (shared/providers/more.md and the sources it names).

Written from the documentation, not from jobpoll's definition files: an imitation
that shared the client's reading would share its mistakes. Pure functions of a
SimJob and the clock, like _providers.py; error bodies the documentation does not
show are plausible ones in each API's documented error style.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, SimJob, iso_ms

RENDER_APIS = ("shotstack", "creatomate", "replicate", "runway", "luma")
# Where each API lives under its host (the simulator serves it under its own base URL).
BASE_PATHS = {"shotstack": "/edit/v1", "luma": "/dream-machine/v1"}
RUNWAY_VERSIONS = ("2024-11-06", "2024-09-13")


def _digest(job: SimJob, n: int = 12) -> str:
    return hashlib.sha1(f"{job.provider}:{job.id}".encode()).hexdigest()[:n]


def _iso_us(ts: float) -> str:
    """2024-05-04T11:22:33.123456Z (Replicate writes microseconds)."""
    return iso_ms(ts)[:-1] + f"{int(ts * 1_000_000) % 1000:03d}Z"


def _ended(job: SimJob, phase: str) -> float | None:
    return job.wall(job.end) if phase in (DONE, FAILED, CANCELLED) else None


def _started(job: SimJob, phase: str) -> float | None:
    return job.wall(job.queued) if phase != QUEUED else None


# =========================================================================== Shotstack

SHOTSTACK_RUNNING = (("fetching", 0.2), ("preprocessing", 0.35), ("rendering", 0.85), ("saving", 1.01))
SHOTSTACK_ERROR = "Asset could not be fetched: https://example.com/assets/intro.mp4 returned 404"


def shotstack_word(phase: str, frac: float) -> str:
    if phase == RUNNING:
        return next(word for word, upto in SHOTSTACK_RUNNING if frac < upto)
    return {QUEUED: "queued", DONE: "done"}.get(phase, "failed")


def shotstack_render(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    """GET /edit/{version}/render/{id}: {success, message, response: RenderResponseData}."""
    done = phase == DONE
    host = "https://shotstack-api-v1-output.s3-ap-southeast-2.amazonaws.com/owner"
    data: dict[str, Any] = {
        "id": job.id, "owner": "owner" + _digest(job, 6), "plan": "basic",
        "status": shotstack_word(phase, frac),
        "error": (job.variant.get("error_message") or SHOTSTACK_ERROR) if phase == FAILED else "",
        "duration": 8.5, "billable": 9, "renderTime": round(job.running * 1000, 2),
        "url": f"{host}/{job.id}.mp4" if done else None,
        "poster": f"{host}/{job.id}-poster.jpg" if done else None,
        "thumbnail": f"{host}/{job.id}-thumb.jpg" if done else None,
        "data": {"timeline": {"tracks": []}, "output": {"format": "mp4", "resolution": "sd"}},
        "created": iso_ms(job.created), "updated": iso_ms(_ended(job, phase) or job.created),
    }
    return {"success": True, "message": "OK", "response": data}


def shotstack_error(status: int, message: str) -> tuple[int, Any]:
    return status, {"success": False, "message": message, "response": {}}


# =========================================================================== Creatomate

CREATOMATE_ERROR = "The source 'https://example.com/assets/clip.mp4' could not be downloaded."


def creatomate_word(job: SimJob, phase: str, frac: float) -> str:
    if phase == QUEUED:
        return "waiting" if job.variant.get("waiting") else "planned"
    if phase == RUNNING:
        return "transcribing" if job.variant.get("transcribe") and frac < 0.4 else "rendering"
    return {DONE: "succeeded"}.get(phase, "failed")


def creatomate_render(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    """The render object: `url` always (valid once succeeded), `snapshot_url` after
    completion, `error_message` only when failed."""
    body: dict[str, Any] = {
        "id": job.id, "status": creatomate_word(job, phase, frac),
        "url": f"https://cdn.creatomate.com/renders/{job.id}.mp4",
        "template_id": "f5b5b9a4-0b7d-4c5a-9d6f-" + _digest(job, 12),
        "template_name": "Promo", "template_tags": [], "output_format": "mp4",
        "render_scale": 1, "width": 1280, "height": 720, "frame_rate": 25, "duration": 12.5,
        "modifications": {},
    }
    if phase == DONE:
        body["snapshot_url"] = f"https://cdn.creatomate.com/snapshots/{job.id}.jpg"
        body["file_size"] = 1_843_200
    if phase == FAILED:
        body["error_message"] = job.variant.get("error_message") or CREATOMATE_ERROR
    return body


def creatomate_error(status: int, message: str) -> tuple[int, Any]:
    return status, {"hint": message, "message": message}


# =========================================================================== Replicate

REPLICATE_ERROR = "CUDA out of memory. Tried to allocate 2.00 GiB"


def replicate_word(job: SimJob, phase: str) -> str:
    if job.outcome == "aborted" and phase == RUNNING:
        phase = QUEUED  # an aborted prediction never started
    if phase == CANCELLED:
        return "aborted" if job.outcome == "aborted" else "canceled"
    return {QUEUED: "starting", RUNNING: "processing", DONE: "succeeded"}.get(phase, "failed")


def replicate_output(job: SimJob) -> Any:
    base = f"https://replicate.delivery/xezq/{_digest(job, 20)}"
    kind = job.variant.get("output", "string")
    if kind == "list":
        return [f"{base}/out-0.png", f"{base}/out-1.png"]
    if kind == "object":
        return {"video": f"{base}/video.mp4", "audio": f"{base}/audio.wav"}
    return f"{base}/output.mp4"


def replicate_prediction(job: SimJob, phase: str, frac: float, base_url: str) -> dict[str, Any]:
    word = replicate_word(job, phase)
    removed = phase == DONE and bool(job.variant.get("data_removed"))
    started, ended = _started(job, phase), _ended(job, phase)
    if job.outcome == "aborted":
        started = None  # aborted: its deadline passed before it started
    get_url = f"{base_url}/v1/predictions/{job.id}"
    return {
        "id": job.id, "model": "replicate/hello-video",
        "version": hashlib.sha256(b"hello-video").hexdigest(),
        "input": None if removed else {"prompt": "a lighthouse at dawn"},
        "logs": None if removed else ("" if phase == QUEUED else f"Generating frames... {int(frac * 100)}%"),
        "output": replicate_output(job) if phase == DONE and not removed else None,
        "data_removed": removed,
        "error": (job.variant.get("error_message") or REPLICATE_ERROR) if phase == FAILED else None,
        "status": word, "source": "api",
        "created_at": _iso_us(job.created),
        "started_at": _iso_us(started) if started else None,
        "completed_at": _iso_us(ended) if ended else None,
        "urls": {"get": get_url, "cancel": f"{get_url}/cancel", "web": f"https://replicate.com/p/{job.id}"},
        "metrics": {"predict_time": round(job.running, 3)} if phase == DONE else {},
    }


def replicate_error(status: int, title: str, detail: str) -> tuple[int, Any]:
    return status, {"title": title, "detail": detail, "status": status}


# =========================================================================== Runway

RUNWAY_FAILURE = ("The output was flagged by content moderation.", "SAFETY.OUTPUT.VIDEO")


def runway_task(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    """GET /v1/tasks/{id}: `progress` 0..1 only while RUNNING, `output` once SUCCEEDED,
    `failure` and `failureCode` once FAILED."""
    word = {QUEUED: "THROTTLED" if job.variant.get("throttled") else "PENDING",
            RUNNING: "RUNNING", DONE: "SUCCEEDED", CANCELLED: "CANCELLED"}.get(phase, "FAILED")
    body: dict[str, Any] = {"id": job.id, "createdAt": iso_ms(job.created), "status": word}
    if phase == RUNNING:
        body["progress"] = round(min(frac, 0.99), 4)
    if phase == DONE:
        body["output"] = [f"https://dnznrvs05pmza.cloudfront.net/{job.id}.mp4?_jwt={_digest(job, 16)}"]
    if phase == FAILED:
        body["failure"] = job.variant.get("error_message") or RUNWAY_FAILURE[0]
        if job.variant.get("error_code", RUNWAY_FAILURE[1]):
            body["failureCode"] = job.variant.get("error_code", RUNWAY_FAILURE[1])
    return body


def runway_error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": message}


# =========================================================================== Luma

LUMA_FAILURE = "400: prompt not allowed because advanced moderation failed"


def luma_generation(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    image = bool(job.variant.get("image"))
    word = {QUEUED: "queued", RUNNING: "dreaming", DONE: "completed"}.get(phase, "failed")
    cdn = f"https://storage.cdn-luma.com/dream_machine/{job.id}"
    assets = None
    if phase == DONE:
        assets = ({"image": f"{cdn}/image_0.jpg"} if image else
                  {"video": f"{cdn}/video_0.mp4", "progress_video": f"{cdn}/video_0_progress.mp4"})
    return {
        "id": job.id, "generation_type": "image" if image else "video", "state": word,
        "failure_reason": (job.variant.get("error_message") or LUMA_FAILURE) if phase == FAILED else None,
        "created_at": iso_ms(job.created), "assets": assets,
        "model": "photon-1" if image else "ray-2",
        "request": {"prompt": "a lighthouse at dawn", "aspect_ratio": "16:9"},
    }


def luma_error(status: int, detail: str) -> tuple[int, Any]:
    return status, {"detail": detail}


# =========================================================================== shared

def unauthorized(provider: str) -> tuple[int, Any]:
    """A rejected key, in each API's style."""
    if provider == "shotstack":
        return shotstack_error(403, "Forbidden")
    if provider == "creatomate":
        return creatomate_error(401, "Invalid API key. Find your key in the project settings.")
    if provider == "replicate":
        return replicate_error(401, "Unauthenticated", "You did not pass a valid authentication token")
    if provider == "runway":
        return runway_error(401, "Invalid API key")
    return luma_error(401, "Invalid API key")


def not_found(provider: str, job_id: str) -> tuple[int, Any]:
    if provider == "shotstack":
        return shotstack_error(404, "Render not found")
    if provider == "creatomate":
        return creatomate_error(404, f"The render '{job_id}' was not found.")
    if provider == "replicate":
        return replicate_error(404, "Not found", "Not found.")
    if provider == "runway":
        return runway_error(404, "Task not found")
    return luma_error(404, "Generation not found")


def rate_limited(provider: str, seconds: int) -> Any:
    if provider == "replicate":  # documented
        return {"detail": f"Request was throttled. Your rate limit resets in ~{seconds}s.", "status": 429}
    if provider == "shotstack":
        return {"success": False, "message": "rate_limit_error", "response": {}}
    return {"luma": {"detail": "Too many requests"}, "runway": {"error": "Too many requests"}}.get(
        provider, {"hint": "Too many requests; at most 30 requests per 10 seconds", "message": "Too many requests"})
