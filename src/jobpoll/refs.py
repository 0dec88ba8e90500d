"""Job references: "PROVIDER:ID" or a bare ID, from arguments or stdin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, TextIO

from jobpoll.errors import UsageError

if TYPE_CHECKING:
    from jobpoll.config import Config


@dataclass(frozen=True)
class JobRef:
    provider: str
    id: str

    @property
    def ref(self) -> str:
        return f"{self.provider}:{self.id}"

    def __str__(self) -> str:
        return self.ref


def read_stdin_refs(stream: TextIO) -> list[str]:
    """References from stdin: whitespace-separated words, or JSON objects one per
    line with "provider" and "id" (so `jobpoll list --json | jobpoll watch -` works)."""
    words: list[str] = []
    for lineno, line in enumerate(stream, 1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                obj = json.loads(text)
                provider, job_id = obj["provider"], obj["id"]
                if not isinstance(provider, str) or not isinstance(job_id, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise UsageError(
                    f"stdin line {lineno}: a JSON line needs string fields \"provider\" and \"id\""
                ) from None
            words.append(f"{provider}:{job_id}")
        else:
            words.extend(text.split())
    return words


def gather_args(args: Iterable[str], stdin: TextIO | None) -> list[str]:
    """The command line's references, with "-" (or none at all while stdin is not a
    terminal) replaced by the references read from stdin. An explicit "-" that
    reads nothing is no references at all (`list --state running --json | watch -`
    when nothing runs); with no "-", nothing anywhere is a usage error: an unset
    variable in `watch $ID` must not pass for a job that finished."""
    args = list(args)
    explicit = "-" in args
    use_stdin = explicit or (not args and stdin is not None and not _isatty(stdin))
    if use_stdin and stdin is not None:
        args = [a for a in args if a != "-"] + read_stdin_refs(stdin)
    if not args and not explicit:
        read = " (stdin had none)" if use_stdin else ""
        raise UsageError(f"no job given{read}: pass PROVIDER:ID arguments, or '-' to read them from stdin")
    return args


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def parse_ref(text: str, *, provider_opt: str | None, config: "Config | None") -> JobRef:
    """One reference, checked: a known provider and an ID it accepts. Sends nothing."""
    from jobpoll.providers import get_provider

    name, sep, job_id = text.partition(":")
    if sep:
        provider = get_provider(name)
    else:
        job_id = text
        provider = get_provider(_provider_for_bare_id(text, provider_opt, config))
    if not job_id:
        raise UsageError(f"{text!r}: the job ID is empty")
    provider.check_id(job_id)
    return JobRef(provider.name, job_id)


def _provider_for_bare_id(job_id: str, provider_opt: str | None, config) -> str:
    # Never guess from the ID's shape: a json2video lookup of a foreign ID answers
    # "error", which would be reported as a failed render.
    if provider_opt:
        return provider_opt
    from jobpoll.providers import names as provider_names

    names = provider_names()
    if config is not None:
        if config.default_provider:
            return config.default_provider
        with_keys = [n for n in names if config.has_key(n)]
        if len(with_keys) == 1:
            return with_keys[0]
    raise UsageError(
        f"{job_id!r}: which provider? write PROVIDER:{job_id}, pass -p PROVIDER, "
        f"or set one with 'jobpoll config set default_provider NAME' "
        f"(providers: {', '.join(names)})"
    )


def resolve_refs(
    args: Iterable[str],
    *,
    provider_opt: str | None,
    config: "Config | None",
    stdin: TextIO | None,
) -> list[JobRef]:
    """Every reference checked before any request, in the order given, repeats
    included (output lines pair with arguments; each job is looked up once)."""
    return [parse_ref(text, provider_opt=provider_opt, config=config) for text in gather_args(args, stdin)]
