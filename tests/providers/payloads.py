"""The providers' documented example payloads (shared/providers/*.txt) as Python dicts.

Reusable by any test (simulator, CLI, history). Payloads copied from a provider's
page are marked "documented"; the others are built from the fields a page documents
but gives no full example of ("derived"), and say where they come from.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

from jobpoll.providers.base import Answer

# A fixed "now" for tests: just after json2video's documented render ended.
NOW = datetime(2026, 5, 12, 8, 0, 0, tzinfo=timezone.utc)


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """An Answer carrying `body` as JSON (bytes are sent as they are)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, headers or {}, raw)


REMOVE = object()  # for variant(): drop the key


def variant(payload: dict[str, Any], *path: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of `payload` with `changes` applied to the dict at `path`
    (a value of REMOVE drops the key)."""
    result = copy.deepcopy(payload)
    target = result
    for key in path:
        target = target[key]
    for key, value in changes.items():
        if value is REMOVE:
            target.pop(key, None)
        else:
            target[key] = value
    return result


# ---------------------------------------------------------------- json2video
J2V_ID = "JkGxEoPRF9EgRb32"

# documented: "200 OK — single project"
J2V_DONE = {
    "success": True,
    "movie": {
        "success": True,
        "status": "done",
        "message": "",
        "project": "JkGxEoPRF9EgRb32",
        "url": "https://assets.json2video.com/clients/xxxxxxxx/renders/2026-05-12-36066.mp4",
        "ass": "https://assets.json2video.com/clients/xxxxxxxx/renders/2026-05-12-36066.ass",
        "created_at": "2026-05-12T07:41:41.946Z",
        "ended_at": "2026-05-12T07:44:57.108Z",
        "duration": 108.2,
        "size": 6876189,
        "width": 1080,
        "height": 1920,
        "rendering_time": 195,
        "client-data": {},
        "consumed_credits": [],
    },
    "remaining_quota": {"movies": 0, "drafts": 0, "time": 1807},
}

# derived from the status enum and the movie object fields (url null until done,
# ass false when none, ended_at null until done)
J2V_PENDING = variant(
    J2V_DONE, "movie", status="pending", url=None, ass=False, ended_at=None, duration=0,
    rendering_time=None, created_at="2026-05-12T07:59:30.000Z",
)

J2V_RUNNING = variant(J2V_PENDING, "movie", status="running")

J2V_ERROR = variant(
    J2V_PENDING, "movie", status="error", success=False,
    message="Source URL https://example.com/missing.mp4 could not be downloaded",
)

# documented: "A project that has not been found by the database returns a 200
# with movie.status = "error" and a descriptive message" (message text derived)
J2V_UNKNOWN_PROJECT = {
    "success": True,
    "movie": {"success": False, "status": "error", "message": "Project not found",
              "project": "AAAAAAAAAAAAAAAA"},
}

# documented: "200 OK — list of projects" (its movies[] holds "movie object as
# above": here the single-project example's movie)
J2V_LIST = {
    "success": True,
    "from": "2026-05-01T00:00:00.000Z",
    "to": "2026-05-12T23:59:59.999Z",
    "count": 25,
    "limit": 100,
    "has_next": False,
    "has_prev": False,
    "next_token": None,
    "movies": [copy.deepcopy(J2V_DONE["movie"])],
    "remaining_quota": {"time": 1807},
}

# documented error messages (the body's shape is not documented: {success, message}
# is what the live API sends for its other errors)
J2V_ERRORS = {
    "bad_id": (400, {"success": False, "message":
                     "Project ID must be a 16-character string. Received ID: 'abc' (length: 3)"}),
    "bad_start": (400, {"success": False, "message": "Invalid start date"}),
    "bad_end": (400, {"success": False, "message": "Invalid end date"}),
    "range": (400, {"success": False, "message": "Maximum date range is 3 months."}),
    "token": (403, {"success": False, "message": "Invalid token"}),
}

# ------------------------------------------------------------------- Pictory
PICTORY_ID = "265a7c1a-4985-4058-9208-68114f131a2b"

# documented: the in-progress example (queued: rendering not started)
PICTORY_QUEUED = {
    "job_id": "265a7c1a-4985-4058-9208-68114f131a2b",
    "success": True,
    "data": {"status": "in-progress"},
}

# derived from "In-Progress Response" fields and the render-stages table
PICTORY_RUNNING = {
    "job_id": PICTORY_ID,
    "success": True,
    "data": {
        "status": "in-progress",
        "renderProgress": 42,
        "renderProgressMessage": "Generating video",
        "renderState": "RUNNING",
    },
}

# derived from "Completed Response" fields
PICTORY_COMPLETED = {
    "job_id": PICTORY_ID,
    "success": True,
    "data": {
        "status": "completed",
        "progress": 100,
        "videoURL": "https://video.pictory.ai/renders/265a7c1a/video.mp4",
        "videoShareURL": "https://video.pictory.ai/share/265a7c1a",
        "videoEmbedURL": "https://video.pictory.ai/embed/265a7c1a",
        "audioURL": "https://video.pictory.ai/renders/265a7c1a/audio.mp3",
        "thumbnail": "https://video.pictory.ai/renders/265a7c1a/thumb.jpg",
        "srtFile": "https://video.pictory.ai/renders/265a7c1a/subtitles.srt",
        "txtFile": "https://video.pictory.ai/renders/265a7c1a/transcript.txt",
        "vttFile": "https://video.pictory.ai/renders/265a7c1a/subtitles.vtt",
        "videoDuration": 63.5,
        "encodingDuration": 41.2,
    },
}

# derived: SPEC, "AI-Studio jobs: url" instead of videoURL
PICTORY_COMPLETED_AI_STUDIO = {
    "job_id": PICTORY_ID,
    "success": True,
    "data": {"status": "completed", "progress": 100,
             "url": "https://video.pictory.ai/ai-studio/265a7c1a.mp4"},
}

# derived from "Failed Response" fields
PICTORY_FAILED = {
    "job_id": PICTORY_ID,
    "success": False,
    "data": {
        "status": "failed",
        "error_code": "4001",
        "error_message": "Invalid voice name: en-US-Nobody",
    },
}

# SPEC, "cleaned"→expired
PICTORY_CLEANED = {"job_id": PICTORY_ID, "success": True, "data": {"status": "cleaned"}}

# SPEC quirk: an unknown job, in data or at the top level, whatever the HTTP status
PICTORY_NOT_FOUND_IN_DATA = {
    "job_id": PICTORY_ID,
    "success": False,
    "data": {"error_code": "5000", "error_message": "JOB_NOT_FOUND"},
}
PICTORY_NOT_FOUND_TOP = {"success": False, "error_code": "5000", "error_message": "JOB_NOT_FOUND"}

# ---------------------------------------------------------------------- Muvi
MUVI_ID = "job_abc123def456"

# documented: the schema placeholder at the top of the page
MUVI_SCHEMA_PLACEHOLDER = {
    "jobId": "<string>",
    "status": "<string>",
    "progress": 123,
    "output": {},
    "outputs": {},
    "error": {},
    "createdAt": "<string>",
    "completedAt": {},
}

# documented: "Example Response (Completed)"
MUVI_COMPLETED = {
    "jobId": "job_abc123def456",
    "status": "completed",
    "progress": 100,
    "output": "https://cdn.muvi.video/outputs/job_abc123def456/output_0.mp4",
    "outputs": [
        {
            "url": "https://cdn.muvi.video/outputs/job_abc123def456/output_0.mp4",
            "type": "video",
            "thumbnail": "https://cdn.muvi.video/outputs/job_abc123def456/thumb_0.jpg",
            "posterImage": "https://cdn.muvi.video/outputs/job_abc123def456/poster_0.jpg",
        }
    ],
    "error": None,
    "createdAt": "2026-02-18T15:00:00Z",
    "completedAt": "2026-02-18T15:02:30Z",
}

# documented: "Example Response (Processing)"
MUVI_PROCESSING = {
    "jobId": "job_abc123def456",
    "status": "processing",
    "progress": 50,
    "output": None,
    "outputs": None,
    "error": None,
    "createdAt": "2026-02-18T15:00:00Z",
    "completedAt": None,
}

# documented: "Example Response (Failed)"
MUVI_FAILED = {
    "jobId": "job_abc123def456",
    "status": "failed",
    "progress": 0,
    "output": None,
    "outputs": None,
    "error": {
        "code": "GENERATION_FAILED",
        "message": "The model failed to generate the requested output. Credits have been refunded.",
    },
    "createdAt": "2026-02-18T15:00:00Z",
    "completedAt": "2026-02-18T15:01:15Z",
}

# derived from the status enum
MUVI_PENDING = variant(MUVI_PROCESSING, status="pending", progress=0)
MUVI_CANCELLED = variant(MUVI_PROCESSING, status="cancelled", progress=0)

# SPEC: "The body may come wrapped as {success, data, requestId}"
MUVI_WRAPPED_COMPLETED = {"success": True, "data": copy.deepcopy(MUVI_COMPLETED),
                          "requestId": "req_7f3a9c"}

# documented: muvi-list.txt example response
MUVI_LIST = {
    "jobs": [
        {"jobId": "job_abc123def456", "status": "completed", "progress": 100,
         "model": "google/veo-3.1-fast/text-to-video",
         "createdAt": "2026-02-18T15:00:00Z", "completedAt": "2026-02-18T15:02:30Z"},
        {"jobId": "job_xyz789ghi012", "status": "completed", "progress": 100,
         "model": "stability/stable-diffusion-xl/text-to-image",
         "createdAt": "2026-02-18T14:30:00Z", "completedAt": "2026-02-18T14:30:15Z"},
    ],
    "nextCursor": "eyJjcmVhdGVkQXQiOiIyMDI2LTAyLTE4VDE0OjMwOjAwWiJ9",
    "hasMore": True,
}


def muvi_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """The documented error envelope {success: false, error: {code, message, details}, requestId}."""
    return status, {"success": False, "error": {"code": code, "message": message, "details": {}},
                    "requestId": "req_0b1c2d"}


# documented codes (SPEC quirks / muvi pages); the message texts are derived
MUVI_ERRORS = {
    "UNAUTHORIZED": muvi_error(401, "UNAUTHORIZED", "Missing or malformed Authorization header"),
    "INVALID_API_KEY": muvi_error(401, "INVALID_API_KEY", "The API key provided is invalid"),
    "API_KEY_INACTIVE": muvi_error(401, "API_KEY_INACTIVE", "This API key has been deactivated"),
    "API_KEY_EXPIRED": muvi_error(401, "API_KEY_EXPIRED", "This API key has expired"),
    "IP_NOT_WHITELISTED": muvi_error(403, "IP_NOT_WHITELISTED", "Request IP 203.0.113.9 is not allowed"),
    "OPERATION_NOT_ALLOWED": muvi_error(403, "OPERATION_NOT_ALLOWED", "Key lacks the check_status scope"),
    "JOB_NOT_FOUND": muvi_error(404, "JOB_NOT_FOUND", "Job job_abc123def456 was not found"),
}

# ------------------------------------------------------------------- Reelbot
REELBOT_ID = "abc123def456"

# documented: "Success Response (200)"
REELBOT_SUCCESS_EXAMPLE = {
    "status": "processing",
    "message": "Video is being processed",
    "createdAt": "2025-01-21T16:30:00.000Z",
    "updatedAt": "2025-01-21T16:31:15.000Z",
}

# documented: "Response Examples"
REELBOT_QUEUED = {
    "status": "queued",
    "message": "Video is queued for processing",
    "createdAt": "2025-01-21T16:30:00.000Z",
}
REELBOT_PROCESSING = {
    "status": "processing",
    "message": "Video is being processed",
    "createdAt": "2025-01-21T16:30:00.000Z",
    "updatedAt": "2025-01-21T16:30:45.000Z",
}
REELBOT_COMPLETED = {
    "status": "completed",
    "message": "Video generation completed successfully",
    "createdAt": "2025-01-21T16:30:00.000Z",
    "updatedAt": "2025-01-21T16:33:22.000Z",
    "outputKey": "users/abc123/output/video-xyz789.mp4",
}
REELBOT_FAILED = {
    "status": "failed",
    "message": "Video generation failed",
    "createdAt": "2025-01-21T16:30:00.000Z",
    "updatedAt": "2025-01-21T16:31:05.000Z",
    "error": "Failed to process B-roll asset: file not found",
}

# documented error bodies
REELBOT_UNAUTHORIZED = {
    "success": False,
    "message": "Unauthorized. Please provide a valid API key via the X-API-Key header.",
    "code": "UNAUTHORIZED",
}
REELBOT_NOT_FOUND = {"success": False, "message": "Project not found", "code": "NOT_FOUND"}
REELBOT_RATE_LIMITED = {
    "success": False,
    "message": "Rate limit exceeded. Please reduce polling frequency.",
    "code": "RATE_LIMITED",
    "details": {"resetAt": "2025-01-21T16:35:00.000Z"},
}

# reelbot-download.txt (documented shapes; the URL and message texts are derived)
REELBOT_DOWNLOAD = {
    "success": True,
    "downloadUrl": "https://reelbot-outputs.s3.amazonaws.com/users/abc123/output/"
                   "video-xyz789.mp4?X-Amz-Expires=3600&X-Amz-Signature=abc",
    "expiresAt": "2025-01-21T17:33:30.000Z",
}
REELBOT_VIDEO_NOT_READY = {"success": False, "code": "VIDEO_NOT_READY",
                           "message": "Video is not ready yet"}
REELBOT_OUTPUT_NOT_FOUND = {"success": False, "code": "OUTPUT_NOT_FOUND",
                            "message": "No output found for this project"}

# the other documented codes, with the HTTP status each is documented with
REELBOT_OTHER_ERRORS = {
    "INVALID_PROJECT_ID": 400,
    "VALIDATION_ERROR": 400,
    "QUOTA_EXCEEDED": 402,
    "KEY_LIMIT_REACHED": 409,
    "INTERNAL_ERROR": 500,
    "CONFIG_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
