"""From job references to what can be looked up: checked references, each with
its provider's endpoint and the history's last known state. Shared by every
command and library call that looks jobs up, so all check and resolve alike,
before any request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TextIO

if TYPE_CHECKING:
    from jobpoll.config import Config, Endpoint
    from jobpoll.errors import JobpollError
    from jobpoll.model import Job
    from jobpoll.refs import JobRef


@dataclass(frozen=True)
class Target:
    ref: "JobRef"
    endpoint: "Endpoint"
    previous: "Job | None" = None  # from the history


@dataclass
class Gathered:
    refs: "list[JobRef]"  # every reference, in the order given
    targets: list[Target]  # those that can be looked up
    errors: "dict[JobRef, JobpollError]" = field(default_factory=dict)  # those that cannot (no key)
    history: Any = None  # the open History, or None without one


def gather(
    config: "Config",
    jobs: list[str] | None,
    provider: str | None,
    *,
    warn: Callable[[str], None],
    stdin: TextIO | None = None,
    use_history: bool = True,
) -> Gathered:
    """References from `jobs` (or `stdin`), checked; endpoints resolved; keys
    required; last known states read from the history (unless `use_history` is
    false). `refs` keeps repeats (output pairs with arguments); `targets` has
    each job once. No references at all ('-' reading an empty stdin) gives an
    empty Gathered, for the caller to call nothing to do."""
    from jobpoll.config import require_key, resolve_endpoint
    from jobpoll.errors import JobpollError
    from jobpoll.refs import resolve_refs

    if provider:
        from jobpoll.providers import get_provider

        provider = get_provider(provider).name
    refs = resolve_refs(jobs or [], provider_opt=provider, config=config, stdin=stdin)
    if not refs:
        return Gathered([], [])
    history = None
    if use_history:
        from jobpoll.history import open_history

        history = open_history(warn)
    known = history.get_many([(r.provider, r.id) for r in refs]) if history else {}
    endpoints = {name: resolve_endpoint(config, name) for name in {r.provider for r in refs}}
    gathered = Gathered(refs, [], history=history)
    for ref in dict.fromkeys(refs):  # each job once
        try:
            require_key(endpoints[ref.provider])
        except JobpollError as exc:
            gathered.errors[ref] = exc.for_job(ref.ref)
            continue
        gathered.targets.append(Target(ref, endpoints[ref.provider], known.get((ref.provider, ref.id))))
    return gathered
