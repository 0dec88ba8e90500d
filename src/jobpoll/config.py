"""The config file: locating, reading, validating and writing it; resolving each
provider's endpoint (base URL, key, interval) with the environment beating the file.

Start-up matters (`jobpoll status` runs from shell loops): only the stdlib at module
top, nothing computed at import; tomllib, tomli_w, platformdirs and the provider
registry are imported where they are needed.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from jobpoll.errors import AuthError, ConfigError, UsageError

if TYPE_CHECKING:
    from jobpoll.providers.base import Provider

Warn = Callable[[str], None]

ENV_CONFIG = "JOBPOLL_CONFIG"
PROVIDER_SETTINGS = ("api_key", "base_url", "interval", "ca_bundle")
TOP_SETTINGS = ("default_provider", "providers")

# Paths already warned about in this process (the warning is said once).
_warned: set[str] = set()


# ---- locating --------------------------------------------------------------------


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("jobpoll")) / "config.toml"


def config_path(override: str | Path | None) -> Path:
    """--config, else JOBPOLL_CONFIG, else the platform's config directory. A Path
    is taken as already located (e.g. by a caller that checked it exists)."""
    if isinstance(override, Path):
        return override
    chosen = override or os.environ.get(ENV_CONFIG) or None
    if chosen is None:
        return default_config_path()
    return Path(os.path.abspath(os.path.expanduser(chosen)))


def env_var(provider: str, setting: str) -> str:
    """JOBPOLL_<PROVIDER>_<SETTING>, e.g. JOBPOLL_MUVI_API_KEY."""
    return f"JOBPOLL_{provider.upper()}_{setting.upper()}"


def env_value(name: str) -> str | None:
    # An empty variable counts as unset: `JOBPOLL_MUVI_API_KEY= jobpoll ...` is how
    # people switch one off for a single command.
    value = os.environ.get(name, "").strip()
    return value or None


# ---- the loaded file -------------------------------------------------------------


@dataclass
class Config:
    path: Path
    data: dict[str, Any]
    exists: bool

    @property
    def default_provider(self) -> str | None:
        value = self.data.get("default_provider")
        return value if isinstance(value, str) and value else None

    def provider_settings(self, name: str) -> dict[str, Any]:
        """The [providers.NAME] table, or {}."""
        providers = self.data.get("providers")
        table = providers.get(name) if isinstance(providers, dict) else None
        return table if isinstance(table, dict) else {}

    def key(self, name: str) -> tuple[str | None, str | None]:
        """(key, source) for a provider: source "env", "file" or None."""
        value = env_value(env_var(name, "api_key"))
        if value:
            return value, "env"
        stored = self.provider_settings(name).get("api_key")
        if isinstance(stored, str) and stored.strip():
            return stored.strip(), "file"
        return None, None

    def has_key(self, name: str) -> bool:
        return self.key(name)[0] is not None

    # Editing (under edit_config's lock). `provider` None: a top-level setting.
    def set_value(self, provider: str | None, setting: str, value: Any) -> None:
        self._table(provider, create=True)[setting] = value

    def remove_value(self, provider: str | None, setting: str) -> bool:
        """Remove a setting (and a provider table left empty); False if it was not there."""
        table = self._table(provider, create=False)
        if table is None or setting not in table:
            return False
        del table[setting]
        if provider is not None and not table:
            del self.data["providers"][provider]
            if not self.data["providers"]:
                del self.data["providers"]
        return True

    def _table(self, provider: str | None, *, create: bool) -> dict[str, Any] | None:
        if provider is None:
            return self.data
        table: Any = self.data
        dotted = []
        for part in ("providers", provider):
            dotted.append(part)
            if part not in table:
                if not create:
                    return None
                table[part] = {}
            table = table[part]
            if not isinstance(table, dict):
                raise ConfigError(f"config file {self.path}: {'.'.join(dotted)} must be a table")
        return table


def load_config(
    override: str | Path | None, *, warn: Warn | None = None, validate: bool = True
) -> Config:
    """The config at --config / JOBPOLL_CONFIG / the default path.

    A missing file is an empty config. An unreadable or malformed file is a
    ConfigError naming it (and the line). With `validate`, settings of the wrong
    type are ConfigErrors too; mutating commands load without it so that
    `config set` can repair a bad value (a file that is not TOML still stops them).
    """
    path = config_path(override)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
            mode = os.fstat(fh.fileno()).st_mode
    except FileNotFoundError:
        _find_definitions(path)
        return Config(path, {}, False)
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    _warn_if_exposed(path, mode, warn)
    data = _parse(path, raw)
    _find_definitions(path)
    if validate:
        validate_config(path, data)
    return Config(path, data, True)


def _find_definitions(path: Path) -> None:
    """User provider definitions live beside the config file in use (its folder's
    providers/) and in JOBPOLL_PROVIDERS_PATH; finding them (file names only, no
    parsing) is where a file named like a built-in is refused, for every command."""
    from jobpoll.providers import definition_files, use_config

    use_config(path)
    definition_files()


def _warn_if_exposed(path: Path, mode: int, warn: Warn | None) -> None:
    if not mode & 0o077 or str(path) in _warned:
        return
    _warned.add(str(path))
    what = "readable" if mode & 0o044 else "writable"
    (warn or _stderr_warning)(
        f"config file {path} is {what} by other users; run: chmod 600 {path}"
    )


def _stderr_warning(message: str) -> None:
    from jobpoll.errors import clip_line, inert

    print(clip_line(f"jobpoll: warning: {inert(message)}"), file=sys.stderr)


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    import re
    import tomllib

    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is malformed at line {line}: not UTF-8 text; fix or remove it"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno; the position is in the message.
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
        if where:
            message = message[: where.start()]
            place = f"line {where.group(1)}, column {where.group(2)}"
        else:
            message = re.sub(r"\s*\(at end of document\)\s*$", "", message)
            place = f"line {max(1, len(text.splitlines()))} (the end)"
        message = message[:1].lower() + message[1:]
        raise ConfigError(
            f"config file {path} is malformed at {place}: {message}; fix or remove it"
        ) from None


# ---- validation ------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why `url` is not usable as a base URL, or None when it is."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL with a host"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def key_problem(key: str) -> str | None:
    """Why `key` cannot be sent in an HTTP header, or None. A line break would split
    the request's header (a header injection); anything but printable ASCII (a
    pasted "…" or a typographic quote) cannot be sent at all. The key itself is never
    quoted: the reason is printed."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        return "contains control characters (a pasted line break?)"
    if not key.isascii():
        return "contains characters other than ASCII (a pasted '…' or quote?)"
    return None


def check_key(key: str) -> str:
    """A key as it will be stored: whitespace around it stripped, nothing else changed."""
    key = key.strip()
    if not key:
        raise UsageError("the API key is empty")
    problem = key_problem(key)
    if problem:
        raise UsageError(f"the API key {problem}")
    return key


def interval_problem(value: Any, dotted: str) -> str | None:
    """Why a configured interval is unusable, or None. The file obeys the command
    line's limits: an interval of 0 would be a request loop."""
    from jobpoll.durations import parse_duration

    try:
        seconds = parse_duration(value, what=dotted)
    except UsageError as exc:
        return f"is invalid ({exc.message})"
    if seconds <= 0:
        return f"must be more than 0, as on the command line (e.g. \"500ms\", \"5s\"), not {value!r}"
    return None


def validate_config(path: Path, data: dict[str, Any]) -> None:
    """ConfigError naming the file and the setting for anything jobpoll cannot use."""
    from jobpoll.providers import is_known, names

    def known() -> str:  # every provider's name: only needed for an error message
        return ", ".join(names())

    def bad(setting: str, problem: str) -> ConfigError:
        return ConfigError(f"config file {path}: {setting} {problem}")

    for name in data:
        if name not in TOP_SETTINGS:
            raise bad(name, f"is not a setting (known: {', '.join(TOP_SETTINGS)}, [providers.NAME])")
    default = data.get("default_provider")
    if default is not None and (not isinstance(default, str) or not is_known(default)):
        raise bad("default_provider", f"must be one of {known()}, not {default!r}")
    providers = data.get("providers", {})
    if not isinstance(providers, dict):
        raise bad("providers", "must be a table of [providers.NAME] tables")
    for name, table in providers.items():
        if not is_known(name):
            raise bad(f"[providers.{name}]", f"is not a known provider (known: {known()})")
        if not isinstance(table, dict):
            raise bad(f"providers.{name}", "must be a table")
        for setting, value in table.items():
            dotted = f"providers.{name}.{setting}"
            if setting not in PROVIDER_SETTINGS:
                raise bad(dotted, f"is not a setting (known: {', '.join(PROVIDER_SETTINGS)})")
            if setting == "api_key":
                problem = key_problem(value.strip()) if isinstance(value, str) else "must be a string"
                if problem:
                    raise bad(dotted, problem)
            if setting == "base_url":
                problem = url_problem(value) if isinstance(value, str) else "must be a string"
                if problem:
                    raise bad(dotted, f"{problem}: {value!r}")
            if setting == "ca_bundle" and (not isinstance(value, str) or not value.strip()):
                raise bad(dotted, "must be the path of a PEM file of CA certificates")
            if setting == "interval":
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    raise bad(dotted, "must be a DURATION such as \"5s\" or 5")
                problem = interval_problem(value, dotted)
                if problem:
                    raise bad(dotted, problem)


# ---- endpoints -------------------------------------------------------------------


@dataclass
class Endpoint:
    provider: "Provider"
    base_url: str  # no trailing slash
    key: str | None = field(repr=False)
    key_source: str | None  # "env", "file" or None
    interval: float | None  # configured, seconds; None: the provider's own
    base_url_source: str  # "env", "file" or "default"
    # A PEM file of CA certificates trusted for this provider on top of the usual
    # ones (a provider behind a private CA); relative paths from the config's folder.
    ca_bundle: str | None = None

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def effective_interval(self) -> float:
        return self.interval if self.interval is not None else self.provider.default_interval

    def summary(self) -> dict[str, Any]:
        """What `jobpoll providers --json` prints for it (never the key)."""
        return {
            "name": self.provider.name,
            "base_url": self.base_url,
            "base_url_source": self.base_url_source,
            "key_set": self.key is not None,
            "key_source": self.key_source,
            "interval": self.effective_interval,
        }


def resolve_endpoint(config: Config, name: str) -> Endpoint:
    """Where and how to reach a provider: environment, then file, then defaults."""
    from jobpoll.durations import parse_duration
    from jobpoll.providers import get_provider

    provider = get_provider(name)
    settings = config.provider_settings(provider.name)
    key, key_source = config.key(provider.name)
    problem = key_problem(key) if key else None
    if problem:
        where = env_var(provider.name, "api_key") if key_source == "env" else (
            f"config file {config.path}: providers.{provider.name}.api_key")
        raise UsageError(f"{where} {problem}; set it to the key alone")

    variable = env_var(provider.name, "base_url")
    base_url = env_value(variable)
    if base_url:
        problem = url_problem(base_url)
        if problem:
            raise UsageError(f"{variable} {problem}: {base_url!r}")
        base_url_source = "env"
    elif isinstance(settings.get("base_url"), str):
        base_url, base_url_source = settings["base_url"], "file"
    else:
        base_url, base_url_source = provider.default_base_url, "default"

    interval = settings.get("interval")
    if interval is not None:
        dotted = f"providers.{provider.name}.interval"
        problem = interval_problem(interval, dotted)
        if problem:
            raise ConfigError(f"config file {config.path}: {dotted} {problem}")
        interval = parse_duration(interval, what=dotted)
    return Endpoint(
        provider=provider,
        base_url=base_url.rstrip("/"),
        key=key,
        key_source=key_source,
        interval=interval,
        base_url_source=base_url_source,
        ca_bundle=ca_bundle_path(config.path, settings.get("ca_bundle")),
    )


def ca_bundle_path(config_file: Path, value: Any) -> str | None:
    """A provider's ca_bundle as an absolute path (~ expanded; relative to the
    folder of the config file)."""
    if not isinstance(value, str) or not value.strip():
        return None
    path = Path(value.strip()).expanduser()
    return str(path if path.is_absolute() else Path(config_file).parent / path)


def require_key(endpoint: Endpoint) -> str:
    if not endpoint.key:
        name = endpoint.provider.name
        raise AuthError(
            f"no API key for {name}: add one with 'jobpoll config set-key {name}' "
            f"or set {env_var(name, 'api_key')}"
        )
    return endpoint.key


def mask(key: str | None) -> str:
    """A key as it may be shown: at most its last 4 characters, fewer when short."""
    if not key:
        return ""
    if len(key) < 8:
        return "****"
    if len(key) < 16:
        return "****" + key[-2:]
    return "****" + key[-4:]


# ---- writing ---------------------------------------------------------------------


def _real(path: Path) -> Path:
    # Write through a symlink (dotfile managers link config files) instead of
    # replacing the link with a regular file.
    return Path(os.path.realpath(path))


def save_config(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically with `data`, mode 0600 from the first byte.

    Callers hold `locked(path)` and loaded the file first, so a malformed file
    (which fails to load) is never written over.
    """
    import tomli_w

    target = _real(Path(path))
    body = tomli_w.dumps(data).encode("utf-8")
    _make_dir(target.parent)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {target}: {exc.strerror or exc}") from None
    try:
        try:
            os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask (never wider: O_CREAT was)
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ConfigError(
                f"cannot write config file {target}: {exc.strerror or exc}"
            ) from None
        raise
    _fsync_dir(target.parent)


def _make_dir(directory: Path) -> None:
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create directory {directory}: {exc.strerror or exc}") from None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is done
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """The config file's directory, created (0700) when it is the platform's
    default one. A directory named with --config or JOBPOLL_CONFIG that does not
    exist is more often a typo than a wish: it is an error, not created."""
    target = _real(Path(path))
    if target.parent.is_dir():
        return
    if Path(path) == default_config_path():
        _make_dir(target.parent)
        return
    raise ConfigError(
        f"config directory {target.parent} does not exist: create it first "
        f"(mkdir -p {target.parent}) or correct the path given with --config or {ENV_CONFIG}"
    )


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock serializing writers of `path`: flock on its directory,
    which leaves nothing behind (the file itself cannot carry the lock: every
    write replaces it with a new file). The directory must exist."""
    target = _real(Path(path))
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target.parent, flags)
    except OSError as exc:
        raise ConfigError(f"cannot lock config file {target}: {exc.strerror or exc}") from None
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks, writes stay atomic
            fcntl = None
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_stale_temps(target: Path) -> None:
    # Under the lock no other writer is active: any temp file left is from a writer
    # that was killed between creating it and renaming it.
    # The lock file earlier versions left beside the config goes too.
    for stale in (*target.parent.glob(f".{target.name}.*.tmp"), target.parent / f"{target.name}.lock"):
        try:
            stale.unlink()
        except OSError:
            pass


def edit_config(
    override: str | Path | None,
    change: Callable[[Config], bool],
    *,
    warn: Warn | None = None,
) -> Config:
    """Load, change, save under the lock. `change` edits `config.data` in place and
    returns whether there is anything to write. A malformed file raises before
    `change` runs, so it is left untouched."""
    path = config_path(override)
    held: list[str] = []
    _ensure_dir(path)
    with locked(path):
        config = load_config(path, warn=held.append, validate=False)
        _remove_stale_temps(_real(path))
        if change(config):
            save_config(path, config.data)
            config.exists = True
            held.clear()  # the rewrite left the file 0600: nothing to warn about
    for message in held:
        (warn or _stderr_warning)(message)
    return config
