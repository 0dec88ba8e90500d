"""The providers defined as data, fuzzed like the Python ones (test_parser_properties):
whatever an API answers, the declarative provider returns a sound Job or raises a
JobpollError, for single answers and list pages alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobpoll.errors import JobpollError
from jobpoll.model import Job
from jobpoll.providers import get_provider

from .test_parser_properties import (
    PROPERTY_SETTINGS,
    STATUS_CODES,
    check_error,
    fuzz,
    json_values,
    make_answer,
    mostly,
    nows,
    numbers,
    shaped,
    timestamps,
    urls,
    words,
)

IDS = {"shotstack": "d2b46ed6-998a-4d6b-9d91-b8cf0193a655", "creatomate": "a862048b-e45a-4ecd-8fbc-1e7c7f4e1b6a",
       "replicate": "gm3qorzdhgbfurvjtvhg6dckhu", "runway": "17f20503-6c24-4c16-946b-35dbbce2af2f",
       "luma": "7e4fe07f-1dfd-4921-bc97-4bcf5adea39a"}
url_lists = fuzz(urls, st.lists(fuzz(urls), max_size=3), st.dictionaries(st.text(max_size=5), fuzz(urls), max_size=3))
SHAPED = {
    "shotstack": shaped({"response": mostly(shaped(
        {"status": words("queued", "fetching", "preprocessing", "rendering", "saving", "done", "failed")},
        url=fuzz(urls), poster=fuzz(urls), thumbnail=fuzz(urls), error=fuzz(st.text()), duration=numbers,
        created=fuzz(timestamps), updated=fuzz(timestamps)))}, message=fuzz(st.text())),
    "creatomate": shaped({"status": words("planned", "waiting", "transcribing", "rendering", "succeeded", "failed")},
                         url=fuzz(urls), snapshot_url=fuzz(urls), error_message=fuzz(st.text()), duration=numbers),
    "replicate": st.one_of(
        shaped({"status": words("starting", "processing", "succeeded", "failed", "canceled", "aborted")},
               output=url_lists, error=fuzz(st.text()), data_removed=fuzz(st.booleans()),
               created_at=fuzz(timestamps, numbers), completed_at=fuzz(timestamps)),
        shaped({"results": mostly(st.lists(json_values, max_size=3))}, next=fuzz(urls, st.text()))),
    "runway": shaped({"status": words("PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")},
                     progress=numbers, output=url_lists, failure=fuzz(st.text()), failureCode=fuzz(st.text()),
                     createdAt=fuzz(timestamps)),
    "luma": st.one_of(
        shaped({"state": words("queued", "dreaming", "completed", "failed")},
               assets=fuzz(shaped(video=fuzz(urls), image=fuzz(urls))), failure_reason=fuzz(st.text()),
               created_at=fuzz(timestamps)),
        shaped({"generations": mostly(st.lists(json_values, max_size=3))}, has_more=fuzz(st.booleans()))),
}


def check_job(job: Job, provider: str) -> None:
    assert job.provider == provider and isinstance(job.status, str) and job.status
    assert job.progress is None or 0 <= job.progress <= 100
    assert job.duration is None or job.duration >= 0
    assert all(o.url and "://" in o.url for o in job.outputs)
    assert job.error is None or (job.error.message and isinstance(job.error.message, str))
    assert all(t is None or t.endswith("Z") for t in (job.created_at, job.updated_at, job.ended_at))
    assert isinstance(job.raw, dict)


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_any_answer_is_a_job_or_a_jobpoll_error(name):
    provider = get_provider(name)

    @PROPERTY_SETTINGS
    @given(body=st.one_of(json_values, SHAPED[name]), status=STATUS_CODES, now=nows)
    def run(body, status, now):
        answer = make_answer(body, status)
        try:
            check_job(provider.parse_status(IDS[name], answer, now), name)
        except JobpollError as err:
            check_error(err)
        if provider.supports_list:
            try:
                page = provider.parse_list(answer, now)
            except JobpollError as err:
                check_error(err)
            else:
                for job in page.jobs:
                    check_job(job, name)
                assert page.cursor is None or isinstance(page.cursor, str)

    run()
