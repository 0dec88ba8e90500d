"""How finished results reach stdout: a rich table at a terminal, tab-separated
plain lines in a pipe, NDJSON with --json, one bare value per line with --field.

The mode is chosen once, from the options and "is stdout a terminal?". Text that
came from a provider is untrusted: it is shown as text, never as markup or escape
sequences.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import Any, Iterable, TextIO

from jobpoll.errors import UsageError, inert
from jobpoll.model import JOB_FIELDS, Job, State, compact_json

# JSON escapes C0 controls but may leave DEL, the C1 range (U+009B is an 8-bit
# CSI to many terminals) and the bidirectional controls (U+202E) raw: they are
# escaped too, which decodes the same.
_JSON_C1 = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
EXTRA_FIELDS = ("ref", "source")


class Mode(Enum):
    TABLE = "table"
    PLAIN = "plain"
    JSON = "json"
    FIELD = "field"


def choose_mode(*, json_: bool, field: str | None, stream: TextIO | None = None,
                raw: bool = False) -> Mode:
    """The output mode; two options that ask for different outputs are a usage
    error rather than one of them silently winning."""
    asked = [name for name, on in (("--json", json_), ("--raw", raw), ("--field", field)) if on]
    if field and len(asked) > 1:
        raise UsageError(f"{' and '.join(asked)} cannot be used together: "
                         "--field prints one plain value per job, --json and --raw whole JSON objects")
    if raw:
        return Mode.JSON
    if field:
        return Mode.FIELD
    if json_:
        return Mode.JSON
    return Mode.TABLE if is_terminal(stream or sys.stdout) else Mode.PLAIN


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def check_field(name: str | None, extra: Iterable[str] = ()) -> None:
    if name is None:
        return
    known = tuple(dict.fromkeys((*JOB_FIELDS, "ref", *extra)))
    if name not in known:
        raise UsageError(f"unknown field {name!r} (fields: {', '.join(known)})")


def safe_text(value: Any) -> str:
    """Untrusted text made printable on one line, reading as it is: C0/C1 controls,
    DEL and bidirectional controls become '?', line breaks and tabs spaces."""
    return inert("" if value is None else str(value))


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of a JSON value with every secret replaced (for --raw payloads)."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    return value


def job_record(job: Job, *, raw: bool = False, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data = job.to_dict(raw=raw)
    if extra:
        data.update(extra)
    return data


def json_text(value: Any) -> str:
    """Compact JSON, UTF-8 kept, with no control character left unescaped."""
    return _escape_c1(compact_json(value))


def _escape_c1(text: str) -> str:
    return _JSON_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(record: dict[str, Any]) -> str:
    return json_text(record)


def job_line(job: Job, extra: dict[str, Any] | None = None) -> str:
    """A job's NDJSON line, `extra` fields after its own; without them, the JSON the
    job keeps (Job.record_json: the history writes it too)."""
    if extra:
        return json_line(job_record(job, extra=extra))
    return _escape_c1(job.record_json)


def plain_value(value: Any) -> str:
    """A field's bare value: empty for null, integers without '.0', JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json_text(value)
    return safe_text(value)


def field_value(record: dict[str, Any], name: str) -> str:
    if name == "ref":
        return f"{record['provider']}:{record['id']}"
    return plain_value(record.get(name))


def summary_text(job: Job) -> str:
    """What a person most wants to read about a job: its error, URL or message."""
    if job.error:
        code = f"[{job.error.code}] " if job.error.code else ""
        return safe_text(code + job.error.message)
    if job.url:
        return safe_text(job.url)
    return safe_text(job.message or "")


def progress_text(job: Job) -> str:
    return "" if job.progress is None else f"{job.progress:.0f}%"


def plain_line(job: Job, extra: dict[str, Any] | None = None) -> str:
    """ref, state, progress, url-or-error-or-message (+ source for list): '-' for
    empty so `read` and `cut` keep their columns."""
    cells = [job.ref, job.state.value, progress_text(job) or "-", summary_text(job) or "-"]
    if extra and "source" in extra:
        cells.append(str(extra["source"]))
    return "\t".join(c.replace("\t", " ") for c in cells)


STATE_STYLE = {
    State.QUEUED: "cyan",
    State.RUNNING: "blue",
    State.DONE: "green",
    State.FAILED: "red",
    State.CANCELLED: "yellow",
    State.TIMEOUT: "red",
    State.EXPIRED: "yellow",
    State.UNKNOWN: "magenta",
}


def make_console(stream: TextIO, *, color: bool):
    from rich.console import Console

    return Console(file=stream, no_color=not color, highlight=False, soft_wrap=False)


def shorten_ref(ref: str, width: int) -> str:
    """A job reference in at most `width` characters. The jobs of one provider
    share the start of their IDs (muvi:job_…), so the provider and the end of the
    ID stay and the middle gives way: `muvi:…c1e7b3d`."""
    if len(ref) <= width:
        return ref
    provider, _, job_id = ref.rpartition(":") if ":" in ref else ("", "", ref)
    room = width - 1  # the ellipsis
    if provider and room - len(provider) - 1 >= 4:
        return f"{provider}:…{job_id[-(room - len(provider) - 1):]}"
    return "…" + ref[-room:] if room > 0 else ref[:width]


def created_text(job: Job, extra: dict[str, Any] | None) -> str:
    """When a job was created, to the minute; for a job whose provider gives no
    such time (Pictory, Reelbot), when jobpoll first saw it, marked '~'."""
    if job.created_at:
        return job.created_at[:16].replace("T", " ")
    seen = (extra or {}).get("first_seen")
    return f"~{seen[:16].replace('T', ' ')}" if seen else ""


# When the terminal is too narrow, in this order: SOURCE goes, job references
# keep only the end of their IDs (what tells one job from another), CREATED and
# then PROGRESS go, and references shrink further. The state always stays whole:
# a narrow terminal drops columns, not meaning.
# Each step is taken while the last column would be narrower than its number.
_NARROWING = (("SOURCE", 20), ("ID_TAIL", 10), ("CREATED", 10), ("PROGRESS", 10), ("JOB_MIN", 10))
ID_TAIL = 13  # characters of the ID kept at the second step
MIN_JOB = 14


def jobs_table(rows: list[tuple[Job, dict[str, Any] | None]], *, width: int, overview: bool = True):
    """A rich Table of jobs at most `width` columns wide; every cell a Text, so
    provider text is never parsed as markup. JOB and STATE come first and stay
    readable: where the width runs out, SOURCE, CREATED and PROGRESS are dropped,
    then job references lose the middle of their IDs. The last column holds
    errors and messages: one line per job in an overview (a listing), folded
    otherwise; URLs are printed whole after the table (print_jobs). Widths are
    computed here, not by rich, which squeezes a no-wrap cell to 'fail…'."""
    from rich.table import Table
    from rich.text import Text

    with_source = any(extra and "source" in extra for _, extra in rows)
    refs = [safe_text(job.ref) for job, _ in rows]
    columns: list[tuple[str, list[Text], str]] = [
        ("JOB", [Text(ref) for ref in refs], "left"),
        ("STATE", [Text(job.state.value, style=STATE_STYLE.get(job.state, "")) for job, _ in rows], "left"),
        ("PROGRESS", [Text(progress_text(job)) for job, _ in rows], "right"),
    ]
    if overview:
        columns.append(("CREATED", [Text(created_text(job, extra)) for job, extra in rows], "left"))
    if with_source:
        columns.append(("SOURCE", [Text(str((extra or {}).get("source", ""))) for _, extra in rows], "left"))
    last = [Text(summary_text(job) if job.error or not job.url else safe_text(job.message or ""),
                 style="red" if job.error else "") for job, _ in rows]

    def natural(header: str, cells: list[Text]) -> int:
        return max([len(header), *(cell.cell_len for cell in cells)])

    def spare() -> int:  # what is left for the last column, two spaces between columns
        return width - sum(natural(h, c) for h, c, _ in columns) - 2 * len(columns)

    def shrink_refs(limit: int, need: int) -> None:
        current = natural(*columns[0][:2])
        job_width = min(current, max(MIN_JOB, current - (need - spare()), limit))
        columns[0] = ("JOB", [Text(shorten_ref(ref, job_width)) for ref in refs], "left")

    for step, need in _NARROWING:
        if spare() >= need:
            continue
        if step == "ID_TAIL":  # the provider, an ellipsis and the end of the ID
            shrink_refs(max(len(ref.split(":", 1)[0]) + 2 + ID_TAIL for ref in refs), need)
        elif step == "JOB_MIN":
            shrink_refs(MIN_JOB, need)
        else:
            columns = [column for column in columns if column[0] != step]

    if spare() < 10:  # a very narrow terminal: the state stays whole, the reference gives
        job_width = max(6, natural(*columns[0][:2]) - (10 - spare()))
        columns[0] = ("JOB", [Text(shorten_ref(ref, job_width)) for ref in refs], "left")

    table = Table(header_style="bold", box=None, pad_edge=False)
    for header, cells, justify in columns:
        table.add_column(header, width=natural(header, cells), no_wrap=True, justify=justify)
    last_width = max(10, spare())
    table.add_column("ERROR / MESSAGE" if last_width >= 15 else "MESSAGE", width=last_width,
                     no_wrap=overview, overflow="ellipsis" if overview else "fold")
    for i in range(len(rows)):
        table.add_row(*(cells[i] for _, cells, _ in columns), last[i])
    return table


def print_jobs(console: Any, rows: list[tuple[Job, dict[str, Any] | None]], *, overview: bool = False) -> None:
    """The jobs table, then each output URL whole on a line of its own: a URL cut
    or folded inside a table cell cannot be copied or clicked."""
    from rich.text import Text

    console.print(jobs_table(rows, width=console.width, overview=overview))
    if any(created_text(job, extra).startswith("~") for job, extra in rows):
        console.print(Text("~ when jobpoll first saw the job: its provider gives no creation time",
                           style="dim"), soft_wrap=True)
    with_url = [job for job, _ in rows if job.url and not job.error]
    if with_url:
        console.print()
        width = max(len(job.ref) for job in with_url)
        for job in with_url:
            console.print(Text(f"{safe_text(job.ref):<{width}}  {safe_text(job.url)}"), soft_wrap=True)


class JobPrinter:
    """Prints finished results for status and list in the chosen mode."""

    def __init__(self, mode: Mode, *, field: str | None = None, raw: bool = False,
                 secrets: Iterable[str] = (), color: bool = True, stream: TextIO | None = None,
                 overview: bool = False):
        self.mode, self.field, self.raw = mode, field, raw
        self.overview = overview  # a listing: one line per job, with CREATED
        self.secrets = list(secrets)
        self.color = color
        self.stream = stream or sys.stdout
        self._rows: list[tuple[Job, dict[str, Any] | None]] = []

    def emit(self, job: Job, extra: dict[str, Any] | None = None, *, first_seen: str | None = None) -> None:
        """Print (or, for a table, keep) one job. `first_seen`: when jobpoll first
        saw a job whose provider gives no creation time, for the table's CREATED."""
        if self.mode is Mode.TABLE:
            self._rows.append((job, {**(extra or {}), "first_seen": first_seen} if first_seen else extra))
            return
        if self.mode is Mode.PLAIN:
            line = plain_line(job, extra)
        else:
            record = job_record(job, raw=self.raw, extra=extra)
            if self.raw:
                record["raw"] = scrub(record.get("raw"), self.secrets)
            line = json_line(record) if self.mode is Mode.JSON else field_value(record, self.field or "")
        self.stream.write(line + "\n")

    def close(self) -> None:
        if self.mode is Mode.TABLE and self._rows:
            console = make_console(self.stream, color=self.color)
            print_jobs(console, self._rows, overview=self.overview)
        self.stream.flush()
