"""Whatever a provider answers, its parser returns a Job or raises a JobpollError.

Two kinds of bodies: any JSON value at all, and dicts shaped like the documented
payloads whose field values are fuzzed (wrong types, numbers as strings, odd
timestamps), which reach much deeper into the parsers than random JSON does.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobpoll.errors import JobpollError
from jobpoll.model import OUTPUT_TYPES, Job, State
from jobpoll.providers.base import Answer
from jobpoll.providers.json2video import Json2Video
from jobpoll.providers.muvi import Muvi
from jobpoll.providers.pictory import Pictory
from jobpoll.providers.reelbot import Reelbot

from .payloads import J2V_ID, MUVI_ID, PICTORY_ID, REELBOT_ID

PROVIDERS = {
    "json2video": (Json2Video(), J2V_ID),
    "pictory": (Pictory(), PICTORY_ID),
    "muvi": (Muvi(), MUVI_ID),
    "reelbot": (Reelbot(), REELBOT_ID),
}
STATUS_CODES = st.sampled_from([200, 400, 401, 403, 404, 429, 500])
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# ---- strategies -------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(10**400)  # too big for a float
    | st.floats()  # NaN and infinities included: json.dumps writes them
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(
    timezone
)
timestamps = st.one_of(
    st.datetimes(timezones=offsets).map(datetime.isoformat),  # incl. year 1 with +offsets
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["", "Z", "yesterday", "2026-13-45T99:00:00Z", "2026-05-12",
                     # out of datetime's range once converted to UTC
                     "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]),
)
numeric_strings = st.one_of(
    st.floats(allow_nan=True).map(str), st.integers().map(str), st.sampled_from(["42", " 7 ", "1e999"])
)
urls = st.one_of(
    st.sampled_from(["https://x/v.mp4", "https://x/i.PNG?a=1", "https://x/a.mp3", "http://[::1",
                     "https://x/", "", " "]),
    st.text(max_size=15),
)


def fuzz(*strategies):
    """A field's value: sometimes plausible, sometimes any JSON at all."""
    return st.one_of(*strategies, json_values)


def mostly(strategy):
    """A structural field: usually well formed, so fuzzing reaches the fields
    inside it, and now and then any JSON at all."""
    return st.one_of(strategy, strategy, strategy, json_values)


def shaped(required=None, **optional):
    return st.fixed_dictionaries(required or {}, optional=optional)


def words(*documented):
    return mostly(st.sampled_from(documented) | st.text(max_size=12))


numbers = fuzz(
    st.integers(-50, 250), st.floats(), numeric_strings,
    st.sampled_from([10**400, -(10**400), "nan", "-inf", True]),
)

j2v_movie = shaped(
    {"status": words("pending", "running", "done", "error", "timeout")},
    created_at=fuzz(timestamps), ended_at=fuzz(timestamps), url=fuzz(urls), ass=fuzz(urls, st.just(False)),
    progress=numbers, duration=numbers, message=fuzz(st.text(max_size=30)), project=fuzz(st.just(J2V_ID)),
)
j2v_body = st.one_of(
    shaped({"movie": mostly(j2v_movie)}, success=st.booleans(), message=fuzz(st.text())),
    shaped({"movies": mostly(st.lists(mostly(j2v_movie), max_size=3))}, next_token=fuzz(st.text()),
           has_next=fuzz(st.booleans())),
)

pictory_data = shaped(
    {"status": words("in-progress", "completed", "failed", "cleaned")},
    renderState=fuzz(st.just("RUNNING")), renderProgress=numbers, renderProgressMessage=fuzz(st.text()),
    progress=numbers, videoURL=fuzz(urls), url=fuzz(urls), audioURL=fuzz(urls), thumbnail=fuzz(urls),
    srtFile=fuzz(urls), vttFile=fuzz(urls), txtFile=fuzz(urls), videoShareURL=fuzz(urls),
    videoEmbedURL=fuzz(urls), videoDuration=numbers,
    error_code=fuzz(st.sampled_from(["5000", "4001"]), st.integers()),
    error_message=fuzz(st.sampled_from(["JOB_NOT_FOUND", "bad voice"])),
)
pictory_body = shaped(
    {"data": mostly(pictory_data)},
    job_id=fuzz(st.just(PICTORY_ID)), success=fuzz(st.booleans()),
    error_code=fuzz(st.just("5000")), error_message=fuzz(st.just("JOB_NOT_FOUND")),
)

muvi_output = shaped(url=fuzz(urls), type=words("video", "image", "audio", "text"),
                     thumbnail=fuzz(urls), posterImage=fuzz(urls))
muvi_job = shaped(
    {"status": words("pending", "processing", "completed", "failed", "cancelled"),
     "jobId": mostly(st.just(MUVI_ID))},
    progress=numbers, output=fuzz(urls), outputs=mostly(st.lists(mostly(muvi_output), max_size=3)),
    error=fuzz(shaped(code=fuzz(st.text()), message=fuzz(st.text()))),
    createdAt=fuzz(timestamps), completedAt=fuzz(timestamps),
)
muvi_error = shaped(
    {"success": mostly(st.just(False))},
    error=mostly(shaped(code=words("UNAUTHORIZED", "INVALID_API_KEY", "IP_NOT_WHITELISTED",
                                 "JOB_NOT_FOUND"), message=fuzz(st.text()))),
    requestId=fuzz(st.text()),
)
muvi_body = st.one_of(
    muvi_job,
    shaped({"data": mostly(muvi_job)}, success=fuzz(st.booleans()), requestId=fuzz(st.text())),
    muvi_error,
    shaped({"jobs": mostly(st.lists(mostly(muvi_job), max_size=3))}, nextCursor=fuzz(st.text()),
           hasMore=fuzz(st.booleans())),
)

reelbot_body = st.one_of(
    shaped({"status": words("queued", "processing", "completed", "failed")}, message=fuzz(st.text()),
           createdAt=fuzz(timestamps), updatedAt=fuzz(timestamps), outputKey=fuzz(st.text()),
           error=fuzz(st.text())),
    shaped({"success": mostly(st.just(False))}, message=fuzz(st.text()),
           code=words("UNAUTHORIZED", "NOT_FOUND", "RATE_LIMITED", "QUOTA_EXCEEDED",
                      "VIDEO_NOT_READY", "OUTPUT_NOT_FOUND"),
           details=fuzz(shaped(resetAt=fuzz(timestamps)))),
    shaped({"downloadUrl": mostly(urls)}, success=fuzz(st.booleans()), expiresAt=fuzz(timestamps)),
)

SHAPED = {"json2video": j2v_body, "pictory": pictory_body, "muvi": muvi_body, "reelbot": reelbot_body}

headers = st.one_of(
    st.just({}),
    st.fixed_dictionaries({}, optional={"retry-after": st.text(max_size=30) | numeric_strings,
                                        "x-ratelimit-reset": fuzz(timestamps).map(str)}),
)
nows = st.one_of(
    st.just(datetime(2026, 5, 12, 8, tzinfo=timezone.utc)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # naive
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.just(timezone.utc)),
)


# ---- checks -----------------------------------------------------------------------
def make_answer(body, status, extra_headers=None) -> Answer:
    return Answer(status, headers=extra_headers or {}, body=json.dumps(body).encode())


def check_job(job: Job, provider: str) -> None:
    assert isinstance(job, Job)
    assert job.provider == provider
    assert isinstance(job.state, State)
    assert isinstance(job.status, str)
    assert job.progress is None or (isinstance(job.progress, float) and 0 <= job.progress <= 100)
    assert job.duration is None or (math.isfinite(job.duration) and job.duration >= 0)
    assert job.url is None or isinstance(job.url, str)
    for output in job.outputs:
        assert output.type in OUTPUT_TYPES and isinstance(output.url, str) and output.url
    if job.error is not None:
        assert isinstance(job.error.message, str) and job.error.message
        assert job.error.code is None or isinstance(job.error.code, str)
    for stamp in (job.created_at, job.updated_at, job.ended_at):
        assert stamp is None or (isinstance(stamp, str) and stamp.endswith("Z"))
    assert job.checked_at.endswith("Z")
    assert isinstance(job.raw, dict) and job.raw.get("status") == job.status
    json.dumps(job.to_dict(raw=True))  # printable as --json --raw


def check_error(err: JobpollError) -> None:
    assert isinstance(err.message, str) and err.message
    assert "\n" not in err.line()  # one line on stderr


def run(call):
    """call()'s result, or None when it raised a JobpollError (checked)."""
    try:
        result = call()
    except JobpollError as err:
        check_error(err)
        return None
    return result


# ---- properties ---------------------------------------------------------------------
def status_property(provider_name: str, body_strategy):
    provider, job_id = PROVIDERS[provider_name]

    @PROPERTY_SETTINGS
    @given(body=body_strategy, status=STATUS_CODES, extra=headers, now=nows)
    def prop(body, status, extra, now):
        job = run(lambda: provider.parse_status(job_id, make_answer(body, status, extra), now))
        if job is not None:
            check_job(job, provider_name)
            assert job.id == job_id

    return prop


test_json2video_any_json = status_property("json2video", json_values)
test_json2video_shaped = status_property("json2video", SHAPED["json2video"])
test_pictory_any_json = status_property("pictory", json_values)
test_pictory_shaped = status_property("pictory", SHAPED["pictory"])
test_muvi_any_json = status_property("muvi", json_values)
test_muvi_shaped = status_property("muvi", SHAPED["muvi"])
test_reelbot_any_json = status_property("reelbot", json_values)
test_reelbot_shaped = status_property("reelbot", SHAPED["reelbot"])


def list_property(provider_name: str):
    provider, _ = PROVIDERS[provider_name]

    @PROPERTY_SETTINGS
    @given(body=json_values | SHAPED[provider_name], status=STATUS_CODES, now=nows)
    def prop(body, status, now):
        page = run(lambda: provider.parse_list(make_answer(body, status), now))
        if page is not None:
            assert page.cursor is None or (isinstance(page.cursor, str) and page.cursor)
            for job in page.jobs:
                check_job(job, provider_name)

    return prop


test_json2video_list = list_property("json2video")
test_muvi_list = list_property("muvi")


@PROPERTY_SETTINGS
@given(body=json_values | SHAPED["reelbot"], status=STATUS_CODES, extra=headers, now=nows)
def test_reelbot_followup(body, status, extra, now):
    provider, job_id = PROVIDERS["reelbot"]
    done = provider.parse_status(
        job_id, make_answer({"status": "completed", "message": "ok"}, 200), now
    )
    job = run(lambda: provider.apply_followup(done, make_answer(body, status, extra), now))
    if job is not None:
        check_job(job, "reelbot")
        assert job.state is State.DONE
        if job.url is not None:
            assert job.outputs and job.extra.get("url_expires_at", "").endswith("Z")


def test_unreadable_bodies_are_jobpoll_errors():
    """Not JSON at all, including nesting too deep for the json module."""
    for provider_name, (provider, job_id) in PROVIDERS.items():
        for raw in (b"", b"\xff", b"{", b"[" * 100_000 + b"]" * 100_000):
            for status in (200, 401, 500):
                run(lambda: provider.parse_status(job_id, Answer(status, {}, raw),
                                                  datetime.now(timezone.utc)))
