"""The provider registry: name -> Provider.

Providers come from four places, in this order:
- built in, written in Python (json2video, Pictory, Muvi, Reelbot): registered
  in pyproject.toml's `jobpoll.providers` entry-point group exactly as an outside
  plugin is; BUILTIN_CODE below is a copy of that table (a test keeps the two
  equal) so a lookup of a built-in never reads package metadata (a few ms);
- built in, defined as data: definitions/NAME.toml inside this package;
- plugins: other distributions' entries in the `jobpoll.providers` group (a
  Provider subclass, or an instance);
- files: NAME.toml in the directories of JOBPOLL_PROVIDERS_PATH, then in the
  config directory's `providers/` folder (the first file of a name wins, as on
  PATH). A file that takes a built-in's name is a usage error, never an override.

A provider is imported or read only when it is used, so a `status` of one Muvi
job pays neither for the other providers nor for JMESPath.
"""

from __future__ import annotations

import os
import re
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from jobpoll.errors import UsageError

if TYPE_CHECKING:
    from jobpoll.providers.base import Provider

GROUP = "jobpoll.providers"
ENV_PATH = "JOBPOLL_PROVIDERS_PATH"

# name -> "module:attribute" (the same as pyproject.toml's entry points)
BUILTIN_CODE: dict[str, str] = {
    "json2video": "jobpoll.providers.json2video:Json2Video",
    "pictory": "jobpoll.providers.pictory:Pictory",
    "muvi": "jobpoll.providers.muvi:Muvi",
    "reelbot": "jobpoll.providers.reelbot:Reelbot",
}
BUILTIN_DATA = ("shotstack", "creatomate", "replicate", "runway", "luma")
NAMES = (*BUILTIN_CODE, *BUILTIN_DATA)  # every built-in, in the order they are listed
DEFINITIONS_DIR = Path(os.path.dirname(os.path.abspath(__file__))) / "definitions"

# A provider's name is also part of an environment variable (JOBPOLL_<NAME>_API_KEY).
# Matched with re.fullmatch (compiled on first use: most runs never need it).
NAME_PATTERN = r"[a-z][a-z0-9_]{0,39}"
BUILT_IN, PLUGIN, FILE = "built in", "plugin", "file"


class Source:
    """Where a provider comes from. A plain class, not a dataclass: this module is
    on every command's start-up path, and a dataclass costs a millisecond to make."""

    __slots__ = ("name", "kind", "where")

    def __init__(self, name: str, kind: str, where: str):
        self.name = name
        self.kind = kind  # BUILT_IN, PLUGIN or FILE
        self.where = where  # "module:attribute" for Python, a definition file's absolute path

    @property
    def is_definition(self) -> bool:
        return self.where.endswith(".toml")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and (self.name, self.kind, self.where) == (
            other.name, other.kind, other.where)

    def __hash__(self) -> int:
        return hash((self.name, self.kind, self.where))

    def __repr__(self) -> str:
        return f"Source({self.name!r}, {self.kind!r}, {self.where!r})"


_config_file: Path | None = None  # where definitions are looked for: beside this config file
_loaded: dict[str, "Provider"] = {}
_files: dict[str, Source] | None = None
_plugins: dict[str, Source] | None = None


def use_config(path: str | Path | None) -> None:
    """Look for user definitions beside this config file (--config, JOBPOLL_CONFIG or
    the platform default when None). Forgets what an earlier call found."""
    global _config_file, _files
    from jobpoll.config import config_path

    located = config_path(path)
    if located != _config_file:
        _config_file = located
        _files = None
        for name in [n for n, p in _loaded.items() if n not in NAMES]:
            del _loaded[name]


def definition_dirs() -> list[Path]:
    """Where user definitions are looked for, in order."""
    if _config_file is None:
        use_config(None)
    assert _config_file is not None
    dirs = [Path(os.path.abspath(os.path.expanduser(part)))
            for part in os.environ.get(ENV_PATH, "").split(os.pathsep) if part.strip()]
    return [*dirs, _config_file.parent / "providers"]


def definition_files() -> dict[str, Source]:
    """The user's definition files by name. A file whose name is a built-in's, or
    cannot be a provider's name, is a UsageError naming it."""
    global _files
    if _files is not None:
        return _files
    found: dict[str, Source] = {}
    for directory in definition_dirs():
        try:
            with os.scandir(directory) as listing:
                entries = sorted((e for e in listing if e.name.endswith(".toml")), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise UsageError(f"cannot read provider definitions in {directory}: {exc.strerror or exc}") from None
        for entry in entries:
            name, path = entry.name[: -len(".toml")], os.path.abspath(entry.path)
            if name in NAMES:
                raise UsageError(
                    f"provider definition {path} takes the name of the built-in provider "
                    f"{name!r}; rename the file (its name is the provider's name)")
            if not re.fullmatch(NAME_PATTERN, name):
                raise UsageError(
                    f"provider definition {path}: the file name is the provider's name and must be "
                    "a lower-case letter then lower-case letters, digits or '_' (at most 40)")
            found.setdefault(name, Source(name, FILE, path))
    _files = found
    return found


def plugins() -> dict[str, Source]:
    """Providers other distributions register in the entry-point group (read once)."""
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        found: dict[str, Source] = {}
        for point in entry_points(group=GROUP):
            if BUILTIN_CODE.get(point.name) == point.value:
                continue  # the built-ins' own registration
            dist = getattr(point.dist, "name", None) or "an installed package"
            if point.name in NAMES or not re.fullmatch(NAME_PATTERN, point.name):
                raise UsageError(
                    f"the plugin provider {point.name!r} from {dist} ({point.value}) "
                    + ("takes a built-in provider's name" if point.name in NAMES
                       else "has a name that cannot be a provider's (lower-case letters, digits, '_')")
                    + f"; uninstall or fix {dist}")
            found.setdefault(point.name, Source(point.name, PLUGIN, point.value))
        _plugins = found
    return _plugins


def find(name: str) -> Source:
    """Where the provider `name` comes from; UsageError when nothing defines it."""
    key = name.strip().lower()
    if key in BUILTIN_CODE:
        return Source(key, BUILT_IN, BUILTIN_CODE[key])
    if key in BUILTIN_DATA:
        return Source(key, BUILT_IN, str(DEFINITIONS_DIR / f"{key}.toml"))
    files = definition_files()
    if key in files:
        return files[key]
    found = plugins().get(key)
    if found is None:
        raise UsageError(f"unknown provider {name!r} (known: {', '.join(names())})")
    return found


def is_known(name: str) -> bool:
    try:
        find(name)
    except UsageError:
        return False
    return True


def sources() -> list[Source]:
    """Every provider: the built-ins, then plugins, then files (each group by name)."""
    files = definition_files()
    extra = {**plugins(), **files}  # a file shadows a plugin of its name: it is the user's choice
    return [find(n) for n in NAMES] + [extra[n] for n in sorted(extra)]


def names() -> list[str]:
    return [source.name for source in sources()]


def get_provider(name: str) -> "Provider":
    key = name.strip().lower() if isinstance(name, str) else name
    provider = _loaded.get(key)
    if provider is None:
        source = find(key)
        provider = _loaded[source.name] = _load(source)
    return provider


def _load(source: Source) -> "Provider":
    if source.is_definition:
        from jobpoll.providers.declarative import load_definition

        return load_definition(source.name, Path(source.where))
    module, _, attribute = source.where.partition(":")
    try:
        target = import_module(module)
        for part in attribute.split(".") if attribute else ():
            target = getattr(target, part)
    except Exception as exc:  # a broken plugin must not take jobpoll down with a traceback
        raise UsageError(f"the provider {source.name!r} ({source.where}) cannot be loaded: "
                         f"{type(exc).__name__}: {exc}") from None
    from jobpoll.providers.base import Provider

    provider = target() if isinstance(target, type) else target
    if not isinstance(provider, Provider):
        raise UsageError(f"the provider {source.name!r} ({source.where}) is not a jobpoll Provider")
    if source.kind == PLUGIN and provider.name != source.name:
        raise UsageError(f"the plugin provider {source.name!r} ({source.where}) calls itself "
                         f"{provider.name!r}; the two names must agree")
    return provider


def all_providers() -> list["Provider"]:
    return [get_provider(name) for name in names()]
