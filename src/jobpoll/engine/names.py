"""Which outputs of a job to save, and under what file names (`--type`, `--name`).

Pure: no I/O. A name comes from a template with `{provider}`, `{id}`, `{type}`,
`{index}` (1-based, among the job's outputs being saved) and `{ext}` (from the URL
path, else from the answer's Content-Type); it may hold subdirectories but never
leaves the output directory.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterable
from urllib.parse import unquote, urlsplit

from jobpoll.errors import NotFoundError, UsageError
from jobpoll.model import OUTPUT_TYPES, Job, Output

FIELDS = ("provider", "id", "type", "index", "ext")
ONE_NAME = "{provider}-{id}{ext}"
MANY_NAME = "{provider}-{id}-{type}-{index}{ext}"
EXT = re.compile(r"\.[A-Za-z0-9]{1,10}")


def check_types(types: Iterable[str] | None) -> tuple[str, ...]:
    """The `--type` values (default: video), each an output type or `all`."""
    chosen = tuple(types or ("video",))
    for kind in chosen:
        if kind != "all" and kind not in OUTPUT_TYPES:
            raise UsageError(f"--type {kind!r} is not an output type; use one of {', '.join(OUTPUT_TYPES)} or all")
    return chosen


def pick_outputs(job: Job, types: Iterable[str]) -> list[Output]:
    """The job's outputs of the wanted types, each URL once, in the job's order."""
    wanted = set(types)
    outputs = list(job.outputs) or ([Output("video", job.url)] if job.url else [])
    seen: set[str] = set()
    picked = []
    for output in outputs:
        if ("all" in wanted or output.type in wanted) and output.url not in seen:
            seen.add(output.url)
            picked.append(output)
    return picked


def check_template(template: str) -> str:
    """The template, or UsageError naming what is wrong with it."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"--name {template!r}: {exc} (write a literal brace as {{{{ or }}}})") from None
    for _, field, _, conversion in parts:
        if field is None:
            continue
        if field not in FIELDS:
            known = ", ".join("{" + f + "}" for f in FIELDS)
            raise UsageError(f"--name {template!r}: unknown field {{{field}}}; use {known}")
        if conversion:
            raise UsageError(f"--name {template!r}: conversions such as !{conversion} are not supported")
    sample = {"provider": "p", "id": "i", "type": "video", "index": 1, "ext": ".mp4"}
    try:
        inside_directory(template.format(**sample), template, "any job")
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--name {template!r}: {exc}") from None
    return template


def inside_directory(name: str, template: str, ref: str) -> str:
    """`name` as a relative path that stays inside the output directory, or UsageError."""
    path = PurePosixPath(name)
    if not name or name.endswith("/") or path.is_absolute() or ".." in path.parts \
            or "\x00" in name or str(path) == ".":
        raise UsageError(f"--name {template!r} gives {name!r} for {ref}, "
                         "which is not a file inside the output directory")
    return str(path)


def url_ext(url: str) -> str | None:
    """`.mp4` from `https://cdn/x/video.mp4?sig=...`; None when the path has none."""
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix
    return suffix if EXT.fullmatch(suffix) else None


def type_ext(content_type: str | None) -> str:
    """The extension for a Content-Type (`video/mp4` -> `.mp4`), or ''."""
    import mimetypes

    if not content_type:
        return ""
    kind = content_type.split(";")[0].strip().lower()
    ext = {"text/vtt": ".vtt", "application/x-subrip": ".srt", "text/plain": ".txt",
           "audio/mpeg": ".mp3", "image/jpeg": ".jpg"}.get(kind) or mimetypes.guess_extension(kind)
    return ext if ext and EXT.fullmatch(ext) else ""


@dataclass(frozen=True)
class Planned:
    """One output to save: where it comes from and (the fields of) its name."""

    job: Job
    output: Output
    index: int
    template: str
    ext: str | None  # None: the extension waits for the answer's Content-Type

    @property
    def needs_content_type(self) -> bool:
        return self.ext is None and "{ext" in self.template

    def name(self, ext: str | None = None) -> str:
        """The relative file name; UsageError if it would leave the directory."""
        fields = {"provider": self.job.provider, "id": self.job.id, "type": self.output.type,
                  "index": self.index, "ext": self.ext if self.ext is not None else (ext or "")}
        return inside_directory(self.template.format(**fields), self.template, self.job.ref)


def plan(job: Job, outputs: list[Output], template: str | None) -> list[Planned]:
    """Each output with its name fields; the default template depends on how many."""
    chosen = template or (ONE_NAME if len(outputs) == 1 else MANY_NAME)
    return [Planned(job, output, index, chosen, url_ext(output.url))
            for index, output in enumerate(outputs, start=1)]


def plan_job(job: Job, types: Iterable[str], template: str | None) -> list[Planned]:
    """What to save of a job: nothing unless it is done; NotFoundError (exit 4)
    when it is done without an output of the wanted types."""
    from jobpoll.model import State

    if job.state is not State.DONE:
        return []
    types = tuple(types)
    outputs = pick_outputs(job, types)
    if not outputs:
        has = sorted({o.type for o in job.outputs})
        raise NotFoundError(f"no {' or '.join(types)} output"
                            + (f" (it has: {', '.join(has)}; choose with --type)" if has else " at all"),
                            job=job.ref)
    return plan(job, outputs, template)
