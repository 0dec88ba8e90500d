"""How finished results reach stdout: a rich table at a terminal, tab-separated
plain lines in a pipe, NDJSON with --json, one bare value per line with --field.

The mode is chosen once, from the options and "is stdout a terminal?". Text that
came from a provider is untrusted: it is shown as text, never as markup or escape
sequences.
"""

from __future__ import annotations

import json
import re
import sys
from enum import Enum
from typing import Any, Iterable, TextIO

from jobpoll.errors import UsageError, inert
from jobpoll.model import JOB_FIELDS, Job, State

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
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _JSON_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(record: dict[str, Any]) -> str:
    return json_text(record)


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


def jobs_table(rows: list[tuple[Job, dict[str, Any] | None]], *, width: int, overview: bool = True):
    """A rich Table of jobs `width` columns wide; every cell a Text, so provider text
    is never parsed as markup. The overview (a listing) is one line per job with
    URLs cut short (`--field url` has them whole); otherwise the last column holds
    errors and messages, folded, and print_jobs prints the URLs whole after it.
    Widths are computed here, not by rich, which drops whole columns when a
    no-wrap cell is wider than the terminal."""
    from rich.table import Table
    from rich.text import Text

    with_source = any(extra and "source" in extra for _, extra in rows)
    columns: list[tuple[str, list[Text], str]] = [
        ("JOB", [Text(safe_text(job.ref)) for job, _ in rows], "left"),
        ("STATE", [Text(job.state.value, style=STATE_STYLE.get(job.state, "")) for job, _ in rows], "left"),
        ("PROGRESS", [Text(progress_text(job)) for job, _ in rows], "right"),
    ]
    if overview:
        columns.append(("CREATED", [Text((job.created_at or "")[:16].replace("T", " ")) for job, _ in rows], "left"))
    if with_source:
        columns.append(("SOURCE", [Text(str((extra or {}).get("source", ""))) for _, extra in rows], "left"))
    last_header = "URL / ERROR / MESSAGE" if overview else "ERROR / MESSAGE"
    last = [Text(summary_text(job) if overview or job.error or not job.url else safe_text(job.message or ""),
                 style="red" if job.error else "") for job, _ in rows]

    widths = [max([len(header), *(cell.cell_len for cell in cells)]) for header, cells, _ in columns]
    spare = width - sum(widths) - 2 * len(columns)  # one space either side of each gap
    if spare < 20:  # long job references give way first, down to 16 characters
        widths[0] = max(16, widths[0] - (20 - spare))
        spare = width - sum(widths) - 2 * len(columns)

    table = Table(header_style="bold", box=None, pad_edge=False)
    for (header, _, justify), column_width in zip(columns, widths):
        table.add_column(header, width=column_width, no_wrap=True, overflow="ellipsis", justify=justify)
    table.add_column(last_header, width=max(10, spare), no_wrap=overview,
                     overflow="ellipsis" if overview else "fold")
    for i in range(len(rows)):
        table.add_row(*(cells[i] for _, cells, _ in columns), last[i])
    return table


def print_jobs(console: Any, rows: list[tuple[Job, dict[str, Any] | None]]) -> None:
    """The jobs table, then each output URL whole on a line of its own: a URL folded
    inside a table cell cannot be copied or clicked."""
    from rich.text import Text

    console.print(jobs_table(rows, width=console.width, overview=False))
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
        self.overview = overview  # a listing: one line per job, URLs cut
        self.secrets = list(secrets)
        self.color = color
        self.stream = stream or sys.stdout
        self._rows: list[tuple[Job, dict[str, Any] | None]] = []

    def emit(self, job: Job, extra: dict[str, Any] | None = None) -> None:
        if self.mode is Mode.TABLE:
            self._rows.append((job, extra))
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
            if self.overview:
                console.print(jobs_table(self._rows, width=console.width))
            else:
                print_jobs(console, self._rows)
        self.stream.flush()
