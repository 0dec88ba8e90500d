"""The provider registry: name -> Provider.

A provider's module is imported only when it is used, so a `status` of one
Muvi job does not pay for parsing code of the other three. Adding a provider is
one module and one line here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from jobpoll.errors import UsageError

if TYPE_CHECKING:
    from jobpoll.providers.base import Provider

# name -> (module, class)
REGISTRY: dict[str, tuple[str, str]] = {
    "json2video": ("jobpoll.providers.json2video", "Json2Video"),
    "pictory": ("jobpoll.providers.pictory", "Pictory"),
    "muvi": ("jobpoll.providers.muvi", "Muvi"),
    "reelbot": ("jobpoll.providers.reelbot", "Reelbot"),
}
NAMES = tuple(REGISTRY)
_loaded: dict[str, "Provider"] = {}


def get_provider(name: str) -> "Provider":
    key = name.lower()
    if key not in REGISTRY:
        raise UsageError(f"unknown provider {name!r} (known: {', '.join(NAMES)})")
    if key not in _loaded:
        module, cls = REGISTRY[key]
        _loaded[key] = getattr(import_module(module), cls)()
    return _loaded[key]


def all_providers() -> list["Provider"]:
    return [get_provider(name) for name in NAMES]
