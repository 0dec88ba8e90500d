"""Simulated jobs: identity, lifecycle by the clock, timestamps, fault specs.

Pure Python, no aiohttp: the job record and its clock arithmetic live here so the
HTTP layer (_server.py, _handlers.py, _faults.py) and the payload builders
(_providers.py) stay thin. The store of jobs is _jobtable.py.
"""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# The first four have Python providers in jobpoll; the last five are imitated
# from their documentation in _renderapis.py.
PROVIDERS = ("json2video", "pictory", "muvi", "reelbot",
             "shotstack", "creatomate", "replicate", "runway", "luma")
UUID_PROVIDERS = frozenset({"pictory", "shotstack", "creatomate", "runway", "luma"})

# Phases of a simulated job (the simulator's own words, mapped to each provider's
# status word by _providers.py).
QUEUED, RUNNING, DONE, FAILED, CANCELLED, CLEANED = (
    "queued", "running", "done", "failed", "cancelled", "cleaned")

OUTCOMES = {
    "json2video": {"done", "failed", "stuck"},
    "pictory": {"done", "failed", "stuck", "cleaned"},
    "muvi": {"done", "failed", "stuck", "cancelled"},
    "reelbot": {"done", "failed", "stuck"},
    "shotstack": {"done", "failed", "stuck"},
    "creatomate": {"done", "failed", "stuck"},
    # cancelled: "canceled" (by the user); aborted: its deadline passed before it started
    "replicate": {"done", "failed", "stuck", "cancelled", "aborted"},
    "runway": {"done", "failed", "stuck", "cancelled"},
    "luma": {"done", "failed", "stuck"},
}

# Variant keywords add_job accepts, per provider (anything else is a typo: ValueError).
_COMMON_VARIANTS = {"error_message", "error_code", "owner", "file_size"}
VARIANTS = {
    "json2video": _COMMON_VARIANTS | {
        "message", "progress", "client_data", "duration", "size", "width", "height",
        "subtitles", "consumed_credits"},
    "pictory": _COMMON_VARIANTS | {"ai_studio", "video_duration", "retention"},
    "muvi": _COMMON_VARIANTS | {"progress", "wrapped", "model", "output_type"},
    "reelbot": _COMMON_VARIANTS | set(),
    "shotstack": _COMMON_VARIANTS | set(),
    "creatomate": _COMMON_VARIANTS | {"waiting", "transcribe"},
    "replicate": _COMMON_VARIANTS | {"output", "data_removed"},
    "runway": _COMMON_VARIANTS | {"throttled"},
    "luma": _COMMON_VARIANTS | {"image"},
}

FAULT_KINDS = frozenset({
    "500", "502", "503", "429", "401", "404", "truncated", "invalid_json",
    "wrong_shape", "unknown_status", "slow", "reset", "drip", "huge", "redirect",
    "redirect_same",
})
# What fault_rate draws from (never the ones that change a job's meaning).
TRANSIENT_KINDS = ("500", "503", "truncated", "invalid_json", "reset", "slow", "429")
WRONG_SHAPES = frozenset({"array", "null", "number", "strings", "missing", "html"})
FAULT_ENDPOINTS = frozenset({"status", "download", "any"})

J2V_ID = re.compile(r"[A-Za-z0-9]{16}")
UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
GENERIC_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


# --------------------------------------------------------------------------- time

class SimClock:
    """The simulator's time: the real monotonic clock plus an offset that tests move
    forward (Simulator.advance, POST /_sim/clock), so a job finishes, a retention
    ends or a rate window resets without anyone waiting for it.

    Lifecycles and rate windows read this clock. Timestamps in answers stay on the
    real wall clock (advancing back-dates what the simulator holds), so a client's
    own clock agrees with what it reads."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        seconds = float(seconds)
        if not seconds >= 0:  # also refuses NaN
            raise ValueError("the clock only moves forward: seconds >= 0")
        self.offset += seconds


def iso_ms(ts: float) -> str:
    """2026-05-12T07:41:41.946Z (json2video, Reelbot)."""
    ms = int(round(ts * 1000))
    sec, ms = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"


def iso_s(ts: float) -> str:
    """2026-02-18T15:00:00Z (Muvi: whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(ts)))


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def iso_epoch(text: str) -> float:
    """Epoch seconds of an ISO-8601 datetime (naive means UTC); ValueError if unreadable."""
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# --------------------------------------------------------------------------- ids

def new_id(provider: str, rng: random.Random) -> str:
    """An ID in the provider's real shape."""
    if provider == "json2video":
        return "".join(rng.choice(_ALNUM) for _ in range(16))
    if provider in UUID_PROVIDERS:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if provider == "replicate":
        return "".join(rng.choice(_LOWER_ALNUM) for _ in range(26))
    if provider == "muvi":
        return "job_%012x" % rng.getrandbits(48)
    if provider == "reelbot":
        return "".join(rng.choice(_LOWER_ALNUM) for _ in range(12))
    raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")


def check_id(provider: str, job_id: str) -> None:
    if not isinstance(job_id, str) or not GENERIC_ID.fullmatch(job_id) or ".." in job_id:
        raise ValueError(f"bad {provider} job id {job_id!r}")
    if provider == "json2video" and not J2V_ID.fullmatch(job_id):
        raise ValueError(f"json2video project ids are 16 characters of [A-Za-z0-9]: {job_id!r}")
    if provider in UUID_PROVIDERS and not UUID_RE.fullmatch(job_id):
        raise ValueError(f"{provider} job ids are UUIDs: {job_id!r}")


# --------------------------------------------------------------------------- faults

def normalize_faults(faults: list[dict] | None) -> list[dict]:
    out = []
    for spec in faults or ():
        if isinstance(spec, str):
            spec = {"kind": spec}
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError(f"a fault is a dict with a 'kind': {spec!r}")
        f = dict(spec)
        f["kind"] = str(f["kind"])
        if f["kind"] not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {f['kind']!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        times = int(f.get("times", 1))
        f["times"] = times
        f["left"] = times  # countdown; -1 = forever
        f["after"] = int(f.get("after", 0))
        on = f.get("on", "status")
        if on not in FAULT_ENDPOINTS:
            raise ValueError(f"fault 'on' must be one of {sorted(FAULT_ENDPOINTS)}: {on!r}")
        f["on"] = on
        if f["kind"] == "wrong_shape":
            shape = f.setdefault("shape", "array")
            if shape not in WRONG_SHAPES:
                raise ValueError(f"wrong_shape shape must be one of {sorted(WRONG_SHAPES)}: {shape!r}")
        out.append(f)
    return out


# --------------------------------------------------------------------------- jobs

@dataclass(slots=True, eq=False)
class SimJob:
    provider: str
    id: str
    created: float          # wall-clock epoch seconds, rounded to the millisecond
    added_mono: float       # clock.monotonic() when added
    age: float              # seconds the job was back-dated by
    speed: float
    queued: float
    running: float
    outcome: str
    variant: dict[str, Any]
    faults: list[dict]
    seq: int = 0
    lookups: dict[str, int] = field(default_factory=dict)  # per endpoint
    clock: SimClock = field(default_factory=SimClock)

    # Virtual lifecycle time e: age seconds had already passed at 1x when the job
    # was added; from then on the clock runs `speed` times faster.
    def elapsed(self, mono: float | None = None) -> float:
        if mono is None:
            mono = self.clock.monotonic()
        return self.age + (mono - self.added_mono) * self.speed

    def wall(self, e: float) -> float:
        """Wall-clock epoch of virtual lifecycle time e."""
        if e <= self.age:
            return self.created + e
        return self.created + self.age + (e - self.age) / self.speed

    @property
    def end(self) -> float:
        return self.queued + self.running

    @property
    def retention(self) -> float:
        return float(self.variant.get("retention", 30.0))

    def phase(self, mono: float | None = None) -> tuple[str, float]:
        """(phase, fraction of the running phase done)."""
        e = self.elapsed(mono)
        if e < self.queued:
            return QUEUED, 0.0
        if self.outcome == "stuck":
            frac = (e - self.queued) / self.running if self.running > 0 else 0.5
            return RUNNING, min(frac, 0.99)
        if e < self.end:
            return RUNNING, (e - self.queued) / self.running
        if self.outcome == "done":
            return DONE, 1.0
        if self.outcome == "cleaned":
            return (DONE if e < self.end + self.retention else CLEANED), 1.0
        if self.outcome == "failed":
            return FAILED, 1.0
        return CANCELLED, 1.0

    def visible_to(self, key: str) -> bool:
        owner = self.variant.get("owner")
        return owner is None or owner == key


def make_job(provider: str, job_id: str | None, *, rng: random.Random, speed: float,
             queued: float = 1.0, running: float = 3.0, outcome: str = "done",
             age: float = 0.0, faults: list[dict] | None = None, seq: int = 0,
             clock: SimClock | None = None, **variant: Any) -> SimJob:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    if job_id is None:
        job_id = new_id(provider, rng)
    check_id(provider, job_id)
    if outcome not in OUTCOMES[provider]:
        raise ValueError(f"{provider} jobs cannot end {outcome!r}; "
                         f"choose from {', '.join(sorted(OUTCOMES[provider]))}")
    unknown = set(variant) - VARIANTS[provider]
    if unknown:
        raise ValueError(f"unknown {provider} variant option(s) {sorted(unknown)}; "
                         f"known: {', '.join(sorted(VARIANTS[provider]))}")
    queued, running, age = float(queued), float(running), float(age)
    if queued < 0 or running < 0 or age < 0 or speed <= 0:
        raise ValueError("queued, running and age must be >= 0 and speed > 0")
    clock = clock or SimClock()
    now = time.time()
    return SimJob(
        provider=provider, id=job_id, created=round(now - age, 3),
        added_mono=clock.monotonic(), age=age, speed=float(speed), queued=queued,
        running=running, outcome=outcome, variant=dict(variant),
        faults=normalize_faults(faults), seq=seq, clock=clock,
    )
