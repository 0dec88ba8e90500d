"""A provider defined as data: reading and checking a definition file.

`read_definition(name, path)` turns a TOML file into a `Definition`, or raises a
`DefinitionError` carrying every problem found, each naming its key ("status.state:
not a JMESPath expression: ..."), so one run of `jobpoll providers check` shows them
all. The keys are documented in the README ("Providers defined as data").
Expressions are JMESPath; jmespath is imported here, and this module only when a
declarative provider is used.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from jobpoll.errors import UsageError
from jobpoll.model import OUTPUT_TYPES

JOB_STATES = ("queued", "running", "done", "failed", "cancelled", "timeout", "expired")
# What an acceptor may decide: a job state, or an error of an exit-code family.
OUTCOMES = (*JOB_STATES, "not_found", "auth", "retry")
FIELD_EXPRS = ("message", "url", "created_at", "updated_at", "ended_at", "duration")
TOP_KEYS = ("base_url", "auth", "headers", "id", "interval", "rate_limit", "status", "result", "list")
STATUS_KEYS = ("path", "params", "state", "progress", "outputs", "error", "states", "acceptors",
               "answer_error", *FIELD_EXPRS)
RESERVED_HEADERS = {"user-agent", "accept", "host", "content-length", "transfer-encoding", "cookie"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class DefinitionError(UsageError):
    """A definition that cannot be used; `problems` holds one line per problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(f"provider definition {path} is not valid: {shown}",
                         hint=f"see every problem with 'jobpoll providers check {path}'")


@dataclass(frozen=True)
class Expr:
    key: str  # where it was defined, e.g. "status.state"
    text: str
    compiled: Any = field(compare=False, repr=False)

    def search(self, data: Any) -> Any:
        try:
            return self.compiled.search(data)
        except (JMESPathError, TypeError, ValueError):  # a function met a value of another type
            return None


@dataclass(frozen=True)
class RequestSpec:
    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class Acceptor:
    outcome: str  # one of OUTCOMES
    http_status: int | None = None
    path: Expr | None = None
    expected: Any = None
    has_expected: bool = False
    message: str | None = None


@dataclass(frozen=True)
class Fields:
    """How to read a job object out of an answer (or a list item)."""

    state: Expr
    states: dict[str, str]  # provider word (lower case) -> jobpoll state
    progress: Expr | None = None
    scale: float = 1.0
    outputs: tuple[tuple[str, Expr], ...] = ()  # (output type or "auto", expression)
    error_code: Expr | None = None
    error_message: Expr | None = None
    exprs: dict[str, Expr] = field(default_factory=dict)  # FIELD_EXPRS that are defined


@dataclass(frozen=True)
class ResultSpec:
    request: RequestSpec
    when: tuple[str, ...]
    url: Expr | None
    outputs: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class ListSpec:
    request: RequestSpec
    items: Expr
    id: Expr
    max_limit: int
    cursor: Expr | None = None  # the next page's cursor (a value, or a URL carrying it)
    cursor_param: str = "cursor"
    offset_param: str | None = None  # offset paging: this parameter, advanced by a page's items
    more: Expr | None = None  # whether there is another page
    newest_first: bool = False  # documented newest first: paging stops at the first job older than --since


@dataclass(frozen=True)
class Definition:
    name: str
    path: Path
    base_url: str
    auth_header: str
    auth_format: str  # with {key}
    basic: bool  # send "Basic base64(auth_format)"
    headers: dict[str, str]
    id_pattern: "re.Pattern[str] | None"
    id_shape: str
    interval: float
    rate: tuple[int, float] | None
    status: RequestSpec
    fields: Fields
    acceptors: tuple[Acceptor, ...]
    answer_error: Expr | None
    result: ResultSpec | None
    listing: ListSpec | None


def read_definition(name: str, path: Path) -> Definition:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read provider definition {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DefinitionError(path, ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(path, [f"not TOML: {exc}"]) from None
    return parse_definition(name, path, data)


def parse_definition(name: str, path: Path, data: dict[str, Any]) -> Definition:
    reader = _Reader()
    definition = reader.definition(name, path, data)
    if reader.problems or definition is None:
        raise DefinitionError(path, reader.problems or ["nothing usable in it"])
    return definition


class _Reader:
    """Reads each part, noting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, key: str, problem: str) -> None:
        self.problems.append(f"{key}: {problem}")

    def known(self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                self.bad(f"{prefix}{key}", f"unknown key (known here: {', '.join(allowed)})")

    def table(self, data: dict[str, Any], key: str, dotted: str, *, required: bool = False) -> dict[str, Any] | None:
        value = data.get(key)
        if value is None:
            if required:
                self.bad(dotted, "missing (a table is required)")
            return None
        if not isinstance(value, dict):
            self.bad(dotted, f"must be a table, not {type(value).__name__}")
            return None
        return value

    def text(self, data: dict[str, Any], key: str, dotted: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.bad(dotted, "missing (a string is required)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.bad(dotted, "must be a non-empty string")
            return None
        return value

    def expr(self, data: dict[str, Any], key: str, dotted: str, *, required: bool = False) -> Expr | None:
        text = self.text(data, key, dotted, required=required)
        if text is None:
            return None
        try:
            return Expr(dotted, text, jmespath.compile(text))
        except JMESPathError as exc:
            self.bad(dotted, f"not a JMESPath expression: {_one_line(exc)}")
            return None

    def duration(self, data: dict[str, Any], key: str, dotted: str, default: float | None) -> float | None:
        from jobpoll.durations import parse_duration

        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.bad(dotted, 'must be a DURATION such as "5s" or 5')
            return default
        try:
            seconds = parse_duration(value, what=dotted)
        except UsageError as exc:
            self.bad(dotted, exc.message)
            return default
        if seconds <= 0:
            self.bad(dotted, "must be more than 0")
            return default
        return seconds

    def request(self, data: dict[str, Any], prefix: str, placeholders: tuple[str, ...]) -> RequestSpec:
        path = self.text(data, "path", f"{prefix}.path", required=True) or "/"
        if not path.startswith("/"):
            self.bad(f"{prefix}.path", f"must start with '/' (it goes after base_url): {path!r}")
        if "?" in path or "#" in path:
            self.bad(f"{prefix}.path", "must not hold a query; put parameters in params")
        self.check_placeholders(path, f"{prefix}.path", placeholders)
        params: dict[str, str] = {}
        table = self.table(data, "params", f"{prefix}.params") or {}
        for name, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self.bad(f"{prefix}.params.{name}", "must be a string or a number")
                continue
            params[name] = str(value)
            self.check_placeholders(params[name], f"{prefix}.params.{name}", placeholders)
        if placeholders == ("id",) and "{id}" not in path and not any("{id}" in v for v in params.values()):
            self.bad(f"{prefix}.path", "the job ID goes nowhere: put {id} in path or in a params value")
        return RequestSpec(path, params)

    def check_placeholders(self, text: str, dotted: str, allowed: tuple[str, ...]) -> None:
        for found in _PLACEHOLDER.findall(text):
            if found not in allowed:
                shown = ", ".join("{" + a + "}" for a in allowed) or "none"
                self.bad(dotted, f"unknown placeholder {{{found}}} (allowed: {shown})")

    def outputs(self, data: dict[str, Any], dotted: str) -> tuple[tuple[str, Expr], ...]:
        value = data.get("outputs")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.bad(dotted, "must be an array of { type, expr } tables")
            return ()
        found = []
        for index, item in enumerate(value):
            where = f"{dotted}[{index}]"
            if not isinstance(item, dict):
                self.bad(where, "must be a table { type, expr }")
                continue
            self.known(item, ("type", "expr"), f"{where}.")
            kind = item.get("type", "auto")
            if kind not in (*OUTPUT_TYPES, "auto"):
                self.bad(f"{where}.type", f"must be one of {', '.join(OUTPUT_TYPES)} or auto, not {kind!r}")
            expr = self.expr(item, "expr", f"{where}.expr", required=True)
            if expr is not None and kind in (*OUTPUT_TYPES, "auto"):
                found.append((kind, expr))
        return tuple(found)

    def definition(self, name: str, path: Path, data: dict[str, Any]) -> Definition | None:
        return _definition(self, name, path, data)


# ---- the parts of a definition (module functions over one _Reader) ---------------


def _definition(r: _Reader, name: str, path: Path, data: dict[str, Any]) -> Definition | None:
    from jobpoll.config import url_problem

    r.known(data, TOP_KEYS, "")
    base_url = r.text(data, "base_url", "base_url", required=True)
    if base_url is not None:
        problem = url_problem(base_url)
        if problem:
            r.bad("base_url", f"{problem}: {base_url!r}")
    header, fmt, basic = _auth(r, data)
    headers = _static_headers(r, data, header)
    id_pattern, id_shape = _id(r, data)
    interval = r.duration(data, "interval", "interval", 5.0)
    rate = _rate(r, data)
    status = r.table(data, "status", "status", required=True)
    if status is None:
        return None
    r.known(status, STATUS_KEYS, "status.")
    request = r.request(status, "status", ("id",))
    fields = _fields(r, status, "status")
    acceptors = _acceptors(r, status)
    answer_error = r.expr(status, "answer_error", "status.answer_error")
    result = _result(r, data)
    listing = _listing(r, data)
    if fields is None or base_url is None or r.problems:
        return None
    return Definition(
        name=name, path=path, base_url=base_url.rstrip("/"), auth_header=header, auth_format=fmt,
        basic=basic, headers=headers, id_pattern=id_pattern, id_shape=id_shape,
        interval=interval or 5.0, rate=rate, status=request, fields=fields,
        acceptors=acceptors, answer_error=answer_error, result=result, listing=listing,
    )


def _auth(r: _Reader, data: dict[str, Any]) -> tuple[str, str, bool]:
    auth = r.table(data, "auth", "auth") or {}
    r.known(auth, ("header", "format", "basic"), "auth.")
    basic = auth.get("basic", False)
    if not isinstance(basic, bool):
        r.bad("auth.basic", "must be true or false")
        basic = False
    header = r.text(auth, "header", "auth.header") or "Authorization"
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", header):
        r.bad("auth.header", f"is not an HTTP header name: {header!r}")
    if basic and header.lower() != "authorization":
        r.bad("auth.header", "Basic auth goes in the Authorization header")
    default = "{key}" if basic else "Bearer {key}"
    fmt = auth.get("format", default)
    if not isinstance(fmt, str) or "{key}" not in fmt:
        r.bad("auth.format", "must be a string holding {key}, e.g. \"Bearer {key}\"")
        fmt = default
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in fmt) or not fmt.isascii():
        r.bad("auth.format", "must be printable ASCII")
    else:
        r.check_placeholders(fmt, "auth.format", ("key",))
    return header, fmt, basic


def _static_headers(r: _Reader, data: dict[str, Any], auth_header: str) -> dict[str, str]:
    table = r.table(data, "headers", "headers") or {}
    headers: dict[str, str] = {}
    for name, value in table.items():
        where = f"headers.{name}"
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            r.bad(where, "is not an HTTP header name")
        elif name.lower() in RESERVED_HEADERS or name.lower() == auth_header.lower():
            r.bad(where, "jobpoll sets this header itself")
        elif not isinstance(value, str) or not value.isascii() or any(
                ord(ch) < 32 or ord(ch) == 127 for ch in value):
            r.bad(where, "must be a string of printable ASCII")
        elif "{key}" in value:
            r.bad(where, "the key goes in auth, which keeps it out of logs")
        else:
            headers[name] = value
    return headers


def _id(r: _Reader, data: dict[str, Any]) -> tuple["re.Pattern[str] | None", str]:
    table = r.table(data, "id", "id") or {}
    r.known(table, ("pattern", "shape"), "id.")
    text = r.text(table, "pattern", "id.pattern")
    pattern = None
    if text is not None:
        try:
            pattern = re.compile(text)
        except re.error as exc:
            r.bad("id.pattern", f"not a regular expression: {exc}")
    shape = r.text(table, "shape", "id.shape") or (f"ID matching {text}" if text else "")
    return pattern, shape


def _rate(r: _Reader, data: dict[str, Any]) -> tuple[int, float] | None:
    table = r.table(data, "rate_limit", "rate_limit")
    if table is None:
        return None
    r.known(table, ("requests", "per"), "rate_limit.")
    requests = table.get("requests")
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        r.bad("rate_limit.requests", "must be a whole number of at least 1")
        requests = None
    if "per" not in table:
        r.bad("rate_limit.per", 'missing (a DURATION such as "10s")')
    per = r.duration(table, "per", "rate_limit.per", None)
    return (requests, per) if requests and per else None


def _fields(r: _Reader, table: dict[str, Any], prefix: str) -> Fields | None:
    state = r.expr(table, "state", f"{prefix}.state", required=True)
    states = _states(r, table, prefix)
    progress, scale = None, 1.0
    value = table.get("progress")
    if isinstance(value, dict):
        r.known(value, ("expr", "scale"), f"{prefix}.progress.")
        progress = r.expr(value, "expr", f"{prefix}.progress.expr", required=True)
        scale = value.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            r.bad(f"{prefix}.progress.scale", "must be a number above 0 (100 where the API says 0..1)")
            scale = 1
    elif value is not None:
        progress = r.expr(table, "progress", f"{prefix}.progress")
    error = table.get("error")
    code = message = None
    if isinstance(error, dict):
        r.known(error, ("code", "message"), f"{prefix}.error.")
        code = r.expr(error, "code", f"{prefix}.error.code")
        message = r.expr(error, "message", f"{prefix}.error.message")
    elif error is not None:
        message = r.expr(table, "error", f"{prefix}.error")
    exprs = {key: e for key in FIELD_EXPRS if (e := r.expr(table, key, f"{prefix}.{key}"))}
    outputs = r.outputs(table, f"{prefix}.outputs")
    if state is None:
        return None
    return Fields(state, states, progress, float(scale), outputs, code, message, exprs)


def _states(r: _Reader, table: dict[str, Any], prefix: str) -> dict[str, str]:
    states = r.table(table, "states", f"{prefix}.states", required=True) or {}
    words: dict[str, str] = {}
    for state, listed in states.items():
        where = f"{prefix}.states.{state}"
        if state not in JOB_STATES:
            r.bad(where, f"not a jobpoll state (states: {', '.join(JOB_STATES)})")
            continue
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not all(isinstance(w, str) and w.strip() for w in listed):
            r.bad(where, "must be an array of the provider's status words")
            continue
        for word in listed:
            key = word.strip().lower()
            if key in words and words[key] != state:
                r.bad(where, f"the word {word!r} is already mapped to {words[key]}")
            words[key] = state
    if states and not any(s == "done" for s in words.values()):
        r.bad(f"{prefix}.states.done", "missing: no word means done, so no job would ever finish")
    return words


def _acceptors(r: _Reader, status: dict[str, Any]) -> tuple[Acceptor, ...]:
    value = status.get("acceptors")
    if value is None:
        return ()
    if not isinstance(value, list):
        r.bad("status.acceptors", "must be an array of tables ([[status.acceptors]])")
        return ()
    found = []
    for index, item in enumerate(value):
        where = f"status.acceptors[{index}]"
        if not isinstance(item, dict):
            r.bad(where, "must be a table")
            continue
        r.known(item, ("http_status", "path", "expected", "state", "message"), f"{where}.")
        outcome = item.get("state")
        if outcome not in OUTCOMES:
            r.bad(f"{where}.state", f"must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        code = item.get("http_status")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599):
            r.bad(f"{where}.http_status", "must be an HTTP status code (100-599)")
            code = None
        path = r.expr(item, "path", f"{where}.path")
        if "path" not in item and "http_status" not in item:
            r.bad(where, "needs a path (JMESPath), an http_status, or both")
        if "expected" in item and "path" not in item:
            r.bad(f"{where}.expected", "needs a path to compare with")
        message = item.get("message")
        if message is not None and not isinstance(message, str):
            r.bad(f"{where}.message", "must be a string")
            message = None
        if outcome in OUTCOMES:
            found.append(Acceptor(outcome, code, path, item.get("expected"), "expected" in item, message))
    return tuple(found)


def _result(r: _Reader, data: dict[str, Any]) -> ResultSpec | None:
    table = r.table(data, "result", "result")
    if table is None:
        return None
    r.known(table, ("path", "params", "when", "url", "outputs"), "result.")
    request = r.request(table, "result", ("id",))
    when = table.get("when", ["done"])
    if isinstance(when, str):
        when = [when]
    if not isinstance(when, list) or not when or any(w not in JOB_STATES for w in when):
        r.bad("result.when", f"must be an array of jobpoll states ({', '.join(JOB_STATES)})")
        when = ["done"]
    url = r.expr(table, "url", "result.url")
    outputs = r.outputs(table, "result.outputs")
    if url is None and not outputs:
        r.bad("result", "reads nothing: give url or outputs")
    return ResultSpec(request, tuple(when), url, outputs)


def _listing(r: _Reader, data: dict[str, Any]) -> ListSpec | None:
    table = r.table(data, "list", "list")
    if table is None:
        return None
    r.known(table, ("path", "params", "items", "id", "max_limit", "cursor", "offset", "newest_first"), "list.")
    newest_first = table.get("newest_first", False)
    if not isinstance(newest_first, bool):
        r.bad("list.newest_first", "must be true or false")
        newest_first = False
    request = r.request(table, "list", ("limit",))
    items = r.expr(table, "items", "list.items", required=True)
    ident = r.expr(table, "id", "list.id") or Expr("list.id", "id", jmespath.compile("id"))
    max_limit = table.get("max_limit", 100)
    if isinstance(max_limit, bool) or not isinstance(max_limit, int) or max_limit < 1:
        r.bad("list.max_limit", "must be a whole number of at least 1")
        max_limit = 100
    cursor = r.table(table, "cursor", "list.cursor")
    offset = r.table(table, "offset", "list.offset")
    if cursor is not None and offset is not None:
        r.bad("list", "give cursor or offset paging, not both")
    spec_cursor = more = None
    param, offset_param = "cursor", None
    if cursor is not None:
        r.known(cursor, ("next", "param"), "list.cursor.")
        spec_cursor = r.expr(cursor, "next", "list.cursor.next", required=True)
        param = r.text(cursor, "param", "list.cursor.param") or "cursor"
    if offset is not None:
        r.known(offset, ("param", "more"), "list.offset.")
        offset_param = r.text(offset, "param", "list.offset.param") or "offset"
        more = r.expr(offset, "more", "list.offset.more")
    if items is None:
        return None
    return ListSpec(request, items, ident, max_limit, spec_cursor, param, offset_param, more, newest_first)


def _one_line(exc: Exception) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()
