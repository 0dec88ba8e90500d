"""The job object every provider's answer is turned into (SPEC.md, "The job object")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any


class State(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # a status word jobpoll does not know: not terminal, never done

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset({State.DONE, State.FAILED, State.CANCELLED, State.TIMEOUT, State.EXPIRED})
BAD_ENDINGS = frozenset({State.FAILED, State.CANCELLED, State.TIMEOUT, State.EXPIRED})
STATE_NAMES = [s.value for s in State]

OUTPUT_TYPES = ("video", "audio", "image", "subtitles", "thumbnail", "text", "page")

# The JSON keys of a job, in the order they are printed; a contract test pins them.
JOB_FIELDS = (
    "provider", "id", "state", "status", "progress", "message", "url", "outputs",
    "error", "created_at", "updated_at", "ended_at", "duration", "checked_at",
)


@dataclass(frozen=True)
class Output:
    type: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "url": self.url}


@dataclass(frozen=True)
class JobError:
    code: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Job:
    provider: str
    id: str
    state: State
    status: str
    progress: float | None = None
    message: str | None = None
    url: str | None = None
    outputs: tuple[Output, ...] = ()
    error: JobError | None = None
    created_at: str | None = None
    updated_at: str | None = None
    ended_at: str | None = None
    duration: float | None = None
    checked_at: str = ""
    raw: dict[str, Any] | None = field(default=None, compare=False)
    # Not printed: facts jobpoll keeps for itself (e.g. Reelbot's download URL expiry).
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.provider}:{self.id}"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @cached_property
    def record_json(self) -> str:
        """to_dict() as compact JSON, made once: a watch writes most jobs it sees
        twice, as an NDJSON line and as the history's row."""
        return compact_json(self.to_dict())

    def with_(self, **changes: Any) -> "Job":
        return replace(self, **changes)

    def to_dict(self, raw: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "provider": self.provider,
            "id": self.id,
            "state": self.state.value,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "url": self.url,
            "outputs": [o.to_dict() for o in self.outputs],
            "error": self.error.to_dict() if self.error else None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "checked_at": self.checked_at,
        }
        if raw:
            data["raw"] = self.raw
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        """Inverse of to_dict (used by the history)."""
        err = data.get("error")
        return cls(
            provider=data["provider"],
            id=data["id"],
            state=State(data["state"]),
            status=data.get("status") or "",
            progress=data.get("progress"),
            message=data.get("message"),
            url=data.get("url"),
            outputs=tuple(Output(o["type"], o["url"]) for o in data.get("outputs") or ()),
            error=JobError(err.get("code"), err.get("message") or "") if err else None,
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            ended_at=data.get("ended_at"),
            duration=data.get("duration"),
            checked_at=data.get("checked_at") or "",
            raw=data.get("raw"),
        )


# Compact JSON with UTF-8 kept, as job records are written (NDJSON lines, history
# rows): one encoder for all (json.dumps with options builds one a call, and a
# watch writes thousands); stateless, so the history's thread shares it.
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a Z suffix and millisecond precision."""
    global _last_iso
    last = _last_iso
    if last[0] is moment:  # a list page's hundred jobs were all checked at one moment
        return last[1]
    utc = moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)
    # isoformat pads the year to four digits (strftime's %Y writes year 931 as
    # "931", which sorts after "2026" as text), and is twice as fast.
    text = utc.isoformat(timespec="milliseconds")[:-6] + "Z"
    _last_iso = (moment, text)
    return text


_last_iso: tuple[datetime | None, str] = (None, "")


def parse_time(value: Any) -> datetime | None:
    """A provider's timestamp as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse_text(value)


# A watch reads the same timestamps again and again (each job's created_at at every
# list cycle and history write): each distinct text is parsed once. Enough for the
# 10,000 jobs of one big watch; datetimes are immutable, so sharing them is safe.
@lru_cache(maxsize=32768)
def _parse_text(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. year 1 at +05:00: before datetime.min once in UTC
        return None


def normalize_time(value: Any) -> str | None:
    """A provider's timestamp re-written as ISO-8601 UTC with Z, or None."""
    if not isinstance(value, str):
        return None
    return _normalize_text(value)


@lru_cache(maxsize=32768)
def _normalize_text(value: str) -> str | None:
    moment = parse_time(value)
    return iso_utc(moment) if moment else None
