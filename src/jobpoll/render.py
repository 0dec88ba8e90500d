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

from jobpoll.errors import UsageError
from jobpoll.model import JOB_FIELDS, Job, State

# C0/C1 control characters and DEL: a provider's message must not move the cursor,
# set the window title or ring the bell on the user's terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# JSON escapes C0 controls but may leave DEL and the C1 range (U+009B is an 8-bit
# CSI to many terminals) raw: they are escaped too, which decodes the same.
_JSON_C1 = re.compile(r"[\x7f-\x9f]")
EXTRA_FIELDS = ("ref", "source")


class Mode(Enum):
    TABLE = "table"
    PLAIN = "plain"
    JSON = "json"
    FIELD = "field"


def choose_mode(*, json_: bool, field: str | None, stream: TextIO | None = None) -> Mode:
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
    known = (*JOB_FIELDS, "ref", *extra)
    if name not in known:
        raise UsageError(f"unknown field {name!r} (fields: {', '.join(known)})")


def safe_text(value: Any) -> str:
    """Untrusted text made printable on one line: controls become spaces or '?'."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "?", text)


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


def jobs_table(rows: list[tuple[Job, dict[str, Any] | None]], *, title: str | None = None):
    """A rich Table of jobs; every cell a Text, so provider text is never parsed as markup."""
    from rich.table import Table
    from rich.text import Text

    with_source = any(extra and "source" in extra for _, extra in rows)
    table = Table(title=title, header_style="bold", box=None, pad_edge=False)
    table.add_column("JOB", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("PROGRESS", justify="right", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    table.add_column("URL / ERROR / MESSAGE", overflow="fold")
    if with_source:
        table.add_column("SOURCE", no_wrap=True)
    for job, extra in rows:
        cells = [
            Text(safe_text(job.ref)),
            Text(job.state.value, style=STATE_STYLE.get(job.state, "")),
            Text(progress_text(job)),
            Text((job.created_at or "")[:19].replace("T", " ")),
            Text(summary_text(job), style="red" if job.error else ""),
        ]
        if with_source:
            cells.append(Text(str((extra or {}).get("source", ""))))
        table.add_row(*cells)
    return table


class JobPrinter:
    """Prints finished results for status and list in the chosen mode."""

    def __init__(self, mode: Mode, *, field: str | None = None, raw: bool = False,
                 secrets: Iterable[str] = (), color: bool = True, stream: TextIO | None = None):
        self.mode, self.field, self.raw = mode, field, raw
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
            make_console(self.stream, color=self.color).print(jobs_table(self._rows))
        self.stream.flush()
