"""What each provider answers: payload builders and error bodies, as documented.

Pure functions of a SimJob and the clock; no HTTP here. Every builder returns
plain dicts in the key order of the provider's documentation examples.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from . import _renderapis as R
from ._jobs import CANCELLED, CLEANED, DONE, FAILED, QUEUED, RUNNING, SimJob, iso_ms, iso_s

_rid = random.Random()


def request_id() -> str:
    return "req_%016x" % _rid.getrandbits(64)


def _digest(job: SimJob, n: int = 8) -> str:
    return hashlib.sha1(f"{job.provider}:{job.id}".encode()).hexdigest()[:n]


def _num(job: SimJob, lo: int, hi: int) -> int:
    """A stable pseudo-random number per job (sizes, durations)."""
    return lo + int(_digest(job, 8), 16) % (hi - lo + 1)


# =========================================================================== json2video

J2V_QUOTA = {"movies": 0, "drafts": 0, "time": 1807}
J2V_LIST_QUOTA = {"time": 1807}
J2V_DEFAULT_ERROR = ("Error rendering scene #2: the source "
                     "'https://example.com/assets/missing-clip.mp4' answered 404 Not Found")


def j2v_movie(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    v = job.variant
    status = {QUEUED: "pending", RUNNING: "running", DONE: "done", FAILED: "error"}[phase]
    done = status == "done"
    ended = job.wall(job.end) if phase in (DONE, FAILED) else None
    base = f"https://assets.json2video.com/clients/{_digest(job)}/renders/" \
           f"{iso_ms(job.created)[:10]}-{_num(job, 10000, 99999)}"
    if status == "error":
        message = v.get("error_message", J2V_DEFAULT_ERROR)
    else:
        message = v.get("message", "")
    movie: dict[str, Any] = {
        "success": status != "error",
        "status": status,
        "message": message,
        "project": job.id,
        "url": base + ".mp4" if done else None,
        "ass": base + ".ass" if done and v.get("subtitles", True) else False,
        "created_at": iso_ms(job.created),
        "ended_at": iso_ms(ended) if ended is not None else None,
        "duration": v.get("duration", round(_num(job, 150, 1800) / 10, 1)) if done else None,
        "size": v.get("size", _num(job, 1_000_000, 40_000_000)) if done else None,
        "width": v.get("width", 1080),
        "height": v.get("height", 1920),
        "rendering_time": max(0, round(ended - job.created)) if done and ended else None,
        "client-data": v.get("client_data", {}),
        "consumed_credits": v.get("consumed_credits", []),
    }
    if v.get("progress"):
        movie["progress"] = 0 if phase == QUEUED else (100 if done else round(frac * 100))
    return movie


def j2v_single(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    return {"success": True, "movie": j2v_movie(job, phase, frac), "remaining_quota": dict(J2V_QUOTA)}


def j2v_unknown(project: str) -> dict[str, Any]:
    return {
        "success": True,
        "movie": {
            "success": False,
            "status": "error",
            "message": f"Movie with project ID '{project}' was not found",
            "project": project,
        },
        "remaining_quota": dict(J2V_QUOTA),
    }


def j2v_unknown_400(project: str) -> dict[str, Any]:
    # SPEC "Provider quirks": also seen live as a 400 with an internal error message.
    return {"success": False,
            "message": "Internal error: Cannot read properties of undefined (reading 'status')"}


def j2v_bad_id(project: str) -> dict[str, Any]:
    return {"success": False,
            "message": f"Project ID must be a 16-character string. Received ID: '{project}' "
                       f"(length: {len(project)})"}


def j2v_error(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


J2V_MISSING_KEY = "Missing API key: send it in the x-api-key header"
J2V_BAD_KEY = "Invalid API key"
J2V_QUOTA_EXCEEDED = ("Quota exceeded: your plan's rendering quota is used up. "
                      "Upgrade your plan or wait for it to renew")


# =========================================================================== pictory

PICTORY_DEFAULT_ERROR = ("4001", "Invalid voice name 'en-US-Imaginary'. "
                         "Choose a voice from the voice-over list and resubmit.")


def pictory_message(frac: float) -> str:
    if frac < 0.15:
        return "Preparing scenes"
    if frac < 0.3:
        return "Mixing audio"
    return "Generating video"


def pictory_payload(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    v = job.variant
    if phase == QUEUED:
        return {"job_id": job.id, "success": True, "data": {"status": "in-progress"}}
    if phase == RUNNING:
        return {"job_id": job.id, "success": True, "data": {
            "status": "in-progress",
            "renderProgress": int(frac * 100),
            "renderProgressMessage": pictory_message(frac),
            "renderState": "RUNNING",
        }}
    if phase == FAILED:
        code, message = PICTORY_DEFAULT_ERROR
        return {"job_id": job.id, "success": False, "data": {
            "status": "failed",
            "error_code": str(v.get("error_code", code)),
            "error_message": v.get("error_message", message),
        }}
    if phase == CLEANED:
        return {"job_id": job.id, "success": True, "data": {"status": "cleaned"}}
    base = f"https://pictory-static.pictorycontent.com/results/{job.id}"
    data: dict[str, Any] = {"status": "completed", "progress": 100}
    data["url" if v.get("ai_studio") else "videoURL"] = f"{base}/video.mp4"
    data.update({
        "videoShareURL": f"https://video.pictory.ai/v2/preview/{job.id}",
        "videoEmbedURL": f"https://video.pictory.ai/embed/{job.id}",
        "audioURL": f"{base}/audio.mp3",
        "thumbnail": f"{base}/thumbnail.jpg",
        "srtFile": f"{base}/subtitles.srt",
        "txtFile": f"{base}/transcript.txt",
        "vttFile": f"{base}/subtitles.vtt",
        "videoDuration": v.get("video_duration", round(_num(job, 150, 1800) / 10, 1)),
        "encodingDuration": round(job.running / job.speed, 1),
    })
    return {"job_id": job.id, "success": True, "data": data}


def pictory_not_found(job_id: str) -> dict[str, Any]:
    return {"job_id": job_id, "success": False,
            "data": {"error_code": "5000", "error_message": "JOB_NOT_FOUND"}}


PICTORY_UNAUTHORIZED = {"message": "Unauthorized"}

CLOUDFLARE_PAGE = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
  <div id="cf-wrapper">
    <div id="cf-error-details" class="cf-error-details-wrapper">
      <div class="cf-wrapper cf-header cf-error-overview">
        <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
        <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> api.pictory.ai</h2>
      </div>
      <div class="cf-section cf-wrapper">
        <h2 data-translate="blocked_why_headline">Why have I been blocked?</h2>
        <p data-translate="blocked_why_detail">This website is using a security service to protect itself from online attacks. The action you just performed triggered the security solution.</p>
      </div>
      <div class="cf-error-footer cf-wrapper">
        <p>Cloudflare Ray ID: <strong class="font-semibold">%s</strong></p>
      </div>
    </div>
  </div>
</body>
</html>
"""

# A User-Agent Pictory's bot protection turns away (SPEC "Provider quirks"): the
# defaults of HTTP libraries and command-line tools.
_GENERIC_AGENT = re.compile(
    r"(?:^|[\s/(;])(?:python-httpx|python-requests|python-urllib|aiohttp|curl|wget|"
    r"go-http-client|okhttp|java|libwww-perl|httpie|axios|node-fetch|undici|python)(?:/|\b)",
    re.IGNORECASE)


def is_generic_agent(ua: str | None) -> bool:
    ua = (ua or "").strip()
    if ua.startswith("jobpoll/"):
        return False
    return not ua or bool(_GENERIC_AGENT.search(ua))


# =========================================================================== muvi

MUVI_MODEL = "google/veo-3.1-fast/text-to-video"
MUVI_DEFAULT_ERROR = ("GENERATION_FAILED",
                      "The model failed to generate the requested output. Credits have been refunded.")
MUVI_STATUS = {QUEUED: "pending", RUNNING: "processing", DONE: "completed",
               FAILED: "failed", CANCELLED: "cancelled"}
MUVI_STATUSES = frozenset(MUVI_STATUS.values())
_MUVI_EXT = {"video": "mp4", "image": "png", "audio": "mp3", "text": "txt"}


def muvi_progress(job: SimJob, phase: str, frac: float) -> int:
    if phase == DONE:
        return 100
    if phase == RUNNING:
        return int(frac * 100) if job.variant.get("progress") == "linear" else 50
    return 0


def muvi_completed_at(job: SimJob, phase: str) -> str | None:
    """When the job ended (completed, failed or cancelled); null while it has not."""
    return iso_s(job.wall(job.end)) if phase in (DONE, FAILED, CANCELLED) else None


def muvi_job(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    v = job.variant
    status = MUVI_STATUS[phase]
    output = outputs = error = None
    if phase == DONE:
        kind = v.get("output_type", "video")
        base = f"https://cdn.muvi.video/outputs/{job.id}"
        url = f"{base}/output_0.{_MUVI_EXT.get(kind, 'bin')}"
        item: dict[str, Any] = {"url": url, "type": kind, "thumbnail": None, "posterImage": None}
        if kind in ("video", "image"):
            item["thumbnail"] = f"{base}/thumb_0.jpg"
        if kind == "video":
            item["posterImage"] = f"{base}/poster_0.jpg"
        output, outputs = url, [item]
    elif phase == FAILED:
        code, message = MUVI_DEFAULT_ERROR
        error = {"code": v.get("error_code", code), "message": v.get("error_message", message)}
    return {
        "jobId": job.id,
        "status": status,
        "progress": muvi_progress(job, phase, frac),
        "output": output,
        "outputs": outputs,
        "error": error,
        "createdAt": iso_s(job.created),
        "completedAt": muvi_completed_at(job, phase),
    }


def muvi_wrapped_job(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    return muvi_wrap(muvi_job(job, phase, frac))


def muvi_list_item(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    return {
        "jobId": job.id,
        "status": MUVI_STATUS[phase],
        "progress": muvi_progress(job, phase, frac),
        "model": job.variant.get("model", MUVI_MODEL),
        "createdAt": iso_s(job.created),
        "completedAt": muvi_completed_at(job, phase),
    }


def muvi_wrap(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "requestId": request_id()}


def muvi_error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details},
            "requestId": request_id()}


MUVI_AUTH = {
    "UNAUTHORIZED": (401, "Missing or malformed Authorization header. Expected 'Authorization: Bearer <api_key>'."),
    "INVALID_API_KEY": (401, "The API key provided is invalid."),
    "API_KEY_INACTIVE": (401, "This API key has been deactivated."),
    "API_KEY_EXPIRED": (401, "This API key has expired."),
    "IP_NOT_WHITELISTED": (403, "Requests from this IP address are not allowed for this API key."),
    "OPERATION_NOT_ALLOWED": (403, "This API key does not have the check_status scope."),
}


def muvi_key_problem(key: str) -> str | None:
    if key.startswith("bad"):
        return "INVALID_API_KEY"
    if key.startswith("inactive"):
        return "API_KEY_INACTIVE"
    if key.startswith("expired"):
        return "API_KEY_EXPIRED"
    if key.startswith("noip"):
        return "IP_NOT_WHITELISTED"
    if key.startswith("noscope"):
        return "OPERATION_NOT_ALLOWED"
    return None


# =========================================================================== reelbot

REELBOT_MESSAGES = {
    QUEUED: "Video is queued for processing",
    RUNNING: "Video is being processed",
    DONE: "Video generation completed successfully",
    FAILED: "Video generation failed",
}
REELBOT_DEFAULT_ERROR = "Failed to process B-roll asset: file not found"
REELBOT_STATUS = {QUEUED: "queued", RUNNING: "processing", DONE: "completed", FAILED: "failed"}


def reelbot_payload(job: SimJob, phase: str, frac: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": REELBOT_STATUS[phase],
        "message": REELBOT_MESSAGES[phase],
        "createdAt": iso_ms(job.created),
    }
    if phase == RUNNING:
        # Last update: the start of processing, then every ~15 s of progress.
        e = job.queued + int(frac * job.running / 15.0) * 15.0
        body["updatedAt"] = iso_ms(job.wall(e))
    elif phase in (DONE, FAILED):
        body["updatedAt"] = iso_ms(job.wall(job.end))
    if phase == DONE:
        body["outputKey"] = f"users/{_digest(job, 6)}/output/video-{job.id}.mp4"
    elif phase == FAILED:
        body["error"] = job.variant.get("error_message", REELBOT_DEFAULT_ERROR)
    return body


REELBOT_UNAUTHORIZED = {
    "success": False,
    "message": "Unauthorized. Please provide a valid API key via the X-API-Key header.",
    "code": "UNAUTHORIZED",
}
REELBOT_NOT_FOUND = {"success": False, "message": "Project not found", "code": "NOT_FOUND"}
REELBOT_RATE_MESSAGE = "Rate limit exceeded. Please reduce polling frequency."


def reelbot_rate_limited(reset_at: float) -> dict[str, Any]:
    return {"success": False, "message": REELBOT_RATE_MESSAGE, "code": "RATE_LIMITED",
            "details": {"resetAt": iso_ms(reset_at)}}


# =========================================================================== shared

def unauthorized(provider: str) -> tuple[int, Any]:
    """The provider's answer to a rejected key (fault "401" and keys starting 'bad')."""
    if provider in R.RENDER_APIS:
        return R.unauthorized(provider)
    if provider == "json2video":
        return 401, j2v_error(J2V_BAD_KEY)
    if provider == "pictory":
        return 401, dict(PICTORY_UNAUTHORIZED)
    if provider == "muvi":
        status, message = MUVI_AUTH["INVALID_API_KEY"]
        return status, muvi_error("INVALID_API_KEY", message)
    return 401, dict(REELBOT_UNAUTHORIZED)


def not_found(provider: str, job_id: str) -> tuple[int, Any]:
    """The provider's 404 (fault "404" and unknown jobs)."""
    if provider in R.RENDER_APIS:
        return R.not_found(provider, job_id)
    if provider == "json2video":
        return 404, j2v_error(f"Project '{job_id}' not found")
    if provider == "pictory":
        return 404, pictory_not_found(job_id)
    if provider == "muvi":
        return 404, muvi_error("JOB_NOT_FOUND", f"Job '{job_id}' was not found.", {"jobId": job_id})
    return 404, dict(REELBOT_NOT_FOUND)


def rate_limited(provider: str, reset_at: float, seconds: int) -> Any:
    """The provider's 429 body (Reelbot's is documented; the others are plausible)."""
    if provider in R.RENDER_APIS:
        return R.rate_limited(provider, seconds)
    if provider == "reelbot":
        return reelbot_rate_limited(reset_at)
    if provider == "json2video":
        return {"success": False, "message": "Too many requests. Please slow down.",
                "resetAt": iso_ms(reset_at)}
    if provider == "pictory":
        return {"message": "Too Many Requests", "resetAt": iso_ms(reset_at)}
    return muvi_error("RATE_LIMIT_EXCEEDED",
                      f"Too many requests. Retry after {seconds} seconds.",
                      {"resetAt": iso_s(reset_at), "retryAfter": seconds})
