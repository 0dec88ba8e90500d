"""The download engine alone: choosing outputs, naming files, and the downloader's
rules against answers a CDN might give (httpx's mock transport, no network)."""

from __future__ import annotations

import asyncio
import fcntl

import httpx
import pytest

from jobpoll.engine.download import Downloader, DownloadError
from jobpoll.engine.names import check_template, check_types, pick_outputs, plan, type_ext, url_ext
from jobpoll.errors import UsageError
from jobpoll.model import Job, Output, State

VIDEO = "https://cdn.example/r/abc/video.mp4?sig=1"
SUBS = "https://cdn.example/r/abc/subs.srt"
BODY = bytes(range(256)) * 40  # 10,240 bytes


def streamed(status: int, body: bytes = b"", headers: dict | None = None) -> httpx.Response:
    """An answer whose body streams, as a network answer does."""
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def done_job(outputs=(Output("video", VIDEO), Output("subtitles", SUBS)), sizes=None, url=VIDEO):
    extra = {"output_sizes": sizes} if sizes else {}
    return Job("muvi", "job_1", State.DONE, "completed", url=url, outputs=tuple(outputs), extra=extra)


# ----------------------------------------------------------------------------- names


def test_types_default_to_video_and_are_checked():
    assert check_types(None) == ("video",)
    assert check_types(["all"]) == ("all",)
    with pytest.raises(UsageError, match="'movie' is not an output type"):
        check_types(["movie"])


def test_outputs_are_picked_by_type_each_url_once():
    job = done_job(outputs=(Output("video", VIDEO), Output("thumbnail", SUBS), Output("image", SUBS)))
    assert pick_outputs(job, ["video"]) == [Output("video", VIDEO)]
    assert pick_outputs(job, ["all"]) == [Output("video", VIDEO), Output("thumbnail", SUBS)]
    assert pick_outputs(done_job(outputs=()), ["video"]) == [Output("video", VIDEO)]
    assert pick_outputs(done_job(outputs=(), url=None), ["all"]) == []


def test_default_names_for_one_output_and_for_several():
    job = done_job()
    [one] = plan(job, pick_outputs(job, ["video"]), None)
    assert one.name() == "muvi-job_1.mp4"
    many = plan(job, pick_outputs(job, ["all"]), None)
    assert [p.name() for p in many] == ["muvi-job_1-video-1.mp4", "muvi-job_1-subtitles-2.srt"]


@pytest.mark.parametrize("template,error", [
    ("{nope}", "unknown field {nope}"),
    ("{id!r}", "conversions"),
    ("{id.real}", "unknown field"),
    ("{id[0]}", "unknown field"),
    ("{index:q}", "--name"),
    ("{", "--name"),
])
def test_bad_templates_are_usage_errors(template, error):
    with pytest.raises(UsageError, match=error.replace("{", r"\{").replace("[", r"\[")):
        check_template(template)


@pytest.mark.parametrize("template", ["../{id}{ext}", "/abs/{id}", "{provider}/../../x", "a/", "."])
def test_a_name_outside_the_directory_is_refused(template):
    with pytest.raises(UsageError, match="not a file inside the output directory"):
        check_template(template)
    [item] = plan(done_job(), [Output("video", VIDEO)], template)
    with pytest.raises(UsageError, match="not a file inside the output directory"):
        item.name()


def test_a_name_made_unsafe_only_by_a_job_is_refused_for_that_job():
    [item] = plan(done_job(), [Output("video", "https://x/a.mp4")], check_template("{ext}"))
    assert item.name() == ".mp4"
    [item] = plan(done_job(), [Output("video", "https://x/a")], check_template("{ext}"))
    with pytest.raises(UsageError, match="gives '' for muvi:job_1"):
        item.name("")  # no extension in the URL, none from the Content-Type


def test_extensions_from_the_url_or_the_content_type():
    assert url_ext("https://x/a/b.MP4?x=1.y") == ".MP4"
    assert url_ext("https://x/preview/0a6b") is None
    assert url_ext("https://x/a.tar.gz") == ".gz"
    assert url_ext("https://x/a.<script>") is None
    assert type_ext("video/mp4") == ".mp4"
    assert type_ext("text/html; charset=utf-8") == ".html"
    assert type_ext("text/vtt") == ".vtt"
    assert type_ext(None) == "" and type_ext("application/x-unheard-of") == ""


# ----------------------------------------------------------------------------- the downloader


def run(handler, items, directory, **kw):
    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await Downloader(client, directory, **kw).save(items)
    return asyncio.run(go())


async def no_sleep(_: float) -> None:
    pass


def items_for(job, types=("video",), template=None):
    return plan(job, pick_outputs(job, types), template)


def test_a_file_is_saved_and_no_part_remains(tmp_path):
    saved = run(lambda request: streamed(200, BODY), items_for(done_job()), tmp_path)
    assert saved.errors == [] and saved.files == [str(tmp_path / "muvi-job_1.mp4")]
    assert (tmp_path / "muvi-job_1.mp4").read_bytes() == BODY
    assert [p.name for p in tmp_path.iterdir()] == ["muvi-job_1.mp4"]


def test_a_size_the_provider_contradicts_never_completes(tmp_path):
    def handler(request):
        return httpx.Response(200, headers={"Content-Length": "100"}, content=BODY[:100])

    job = done_job(sizes={VIDEO: 50})
    saved = run(handler, items_for(job), tmp_path)
    assert "announces 100 bytes" in saved.errors[0].line() and "muvi says 50" in saved.errors[0].line()
    assert saved.files == [] and not (tmp_path / "muvi-job_1.mp4").exists()


def test_a_206_for_another_range_starts_over(tmp_path):
    (tmp_path / "muvi-job_1.mp4.part").write_bytes(BODY[:1000])
    seen = []

    def handler(request):
        seen.append(request.headers.get("range"))
        if request.headers.get("range"):
            return streamed(206, BODY, {"Content-Range": f"bytes 0-{len(BODY) - 1}/{len(BODY)}"})
        return streamed(200, BODY)

    saved = run(handler, items_for(done_job()), tmp_path, sleep=no_sleep)
    assert saved.errors == [] and seen == ["bytes=1000-", None]
    assert (tmp_path / "muvi-job_1.mp4").read_bytes() == BODY


def test_a_part_already_whole_is_completed_by_a_416(tmp_path):
    (tmp_path / "muvi-job_1.mp4.part").write_bytes(BODY)

    def handler(request):
        assert request.headers["range"] == f"bytes={len(BODY)}-"
        return httpx.Response(416, headers={"Content-Range": f"bytes */{len(BODY)}"})

    saved = run(handler, items_for(done_job()), tmp_path)
    assert saved.errors == [] and (tmp_path / "muvi-job_1.mp4").read_bytes() == BODY


def test_an_existing_file_of_another_size_is_not_overwritten(tmp_path):
    (tmp_path / "muvi-job_1.mp4").write_bytes(b"mine")
    saved = run(lambda request: pytest.fail("nothing is fetched"), items_for(done_job(sizes={VIDEO: 10})), tmp_path)
    assert "exists with 4 bytes, not the 10 of this output; not overwritten" in saved.errors[0].line()
    assert (tmp_path / "muvi-job_1.mp4").read_bytes() == b"mine"


def test_a_part_being_written_by_another_process_is_left_alone(tmp_path):
    part = tmp_path / "muvi-job_1.mp4.part"
    with open(part, "wb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        saved = run(lambda request: pytest.fail("nothing is fetched"), items_for(done_job()), tmp_path)
    assert "is being written by another jobpoll" in saved.errors[0].line()


def test_a_client_error_fails_at_once_and_a_server_error_is_retried(tmp_path):
    calls = []

    def handler(request):
        calls.append(request.url.path)
        return httpx.Response(404 if "subs" in request.url.path else 502)

    saved = run(handler, items_for(done_job(), ["all"]), tmp_path, retries=3, sleep=no_sleep)
    lines = sorted(e.line() for e in saved.errors)
    assert "answered HTTP 404" in lines[0] and "after 4 attempts: HTTP 502" in lines[1]
    assert calls.count("/r/abc/subs.srt") == 1 and calls.count("/r/abc/video.mp4") == 4


def test_the_name_waits_for_the_content_type_when_the_url_has_no_extension(tmp_path):
    job = done_job(outputs=(Output("page", "https://cdn.example/preview/abc"),))
    saved = run(lambda request: streamed(200, b"<p>", {"Content-Type": "text/html"}),
                items_for(job, ["page"]), tmp_path)
    assert saved.files == [str(tmp_path / "muvi-job_1.html")]
    again = run(lambda request: pytest.fail("nothing is fetched"), items_for(job, ["page"]), tmp_path)
    assert again.files == saved.files


# ----------------------------------------------------------------------------- the library


def test_jobpoll_download_saves_and_reports_per_reference(sim, api_env, tmp_path):
    import jobpoll

    done = sim.add_job("pictory", queued=0, running=0)
    running = sim.add_job("muvi", queued=0, running=600)
    results = jobpoll.download([f"pictory:{done}", f"muvi:{running}"], tmp_path / "out",
                               types=["video", "subtitles"])
    first, second = results
    assert isinstance(first, jobpoll.Downloaded) and first.job.state is jobpoll.State.DONE
    assert [p.split("/")[-1] for p in first.files] == [
        f"pictory-{done}-video-1.mp4", f"pictory-{done}-subtitles-2.srt", f"pictory-{done}-subtitles-3.vtt"]
    assert all(open(p, "rb").read() == sim.file_bytes(o.url)
               for p, o in zip(first.files, pick_outputs(first.job, ["video", "subtitles"])))
    assert second.job.state is jobpoll.State.RUNNING and second.files == []


def test_jobpoll_download_raises_a_failed_download_or_puts_it_in_place(sim, api_env, tmp_path):
    import jobpoll

    bad = sim.add_job("muvi", queued=0, running=0, file_faults=[{"kind": "status", "code": 404, "times": -1}])
    good = sim.add_job("muvi", queued=0, running=0)
    with pytest.raises(jobpoll.DownloadError) as raised:
        jobpoll.download([f"muvi:{bad}", f"muvi:{good}"], tmp_path)
    assert raised.value.exit_code == 6 and raised.value.job == f"muvi:{bad}"
    error, saved = jobpoll.download([f"muvi:{bad}", f"muvi:{good}"], tmp_path, return_exceptions=True)
    assert isinstance(error, jobpoll.DownloadError) and saved.files == [str(tmp_path / f"muvi-{good}.mp4")]


def test_files_travel_at_once_within_the_connection_bound(tmp_path):
    in_flight, most = 0, 0

    async def handler(request):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return streamed(200, BODY)

    outputs = tuple(Output("video", f"https://cdn.example/r/{i}.mp4") for i in range(10))
    job = done_job(outputs=outputs)
    saved = run(handler, items_for(job, ["video"], "{index}{ext}"), tmp_path, connections=3)
    assert saved.errors == [] and len(saved.files) == 10
    assert most == 3
