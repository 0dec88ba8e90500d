"""The provider registry: name -> Provider."""

from __future__ import annotations

from jobpoll.errors import UsageError
from jobpoll.providers.base import Provider
from jobpoll.providers.json2video import Json2Video
from jobpoll.providers.muvi import Muvi
from jobpoll.providers.pictory import Pictory
from jobpoll.providers.reelbot import Reelbot

PROVIDERS: dict[str, Provider] = {p.name: p for p in (Json2Video(), Pictory(), Muvi(), Reelbot())}
NAMES = tuple(PROVIDERS)


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name.lower()]
    except KeyError:
        raise UsageError(
            f"unknown provider {name!r} (known: {', '.join(NAMES)})"
        ) from None
