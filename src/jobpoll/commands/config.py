"""`jobpoll config ...`: read and change the config file.

Only the stdlib and typer at module top: the config module, the provider registry
and getpass are imported by the commands that need them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from jobpoll.context import app_context
from jobpoll.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from jobpoll.config import Config
    from jobpoll.context import AppContext

config_app = typer.Typer(
    help="Read and change the config file: API keys, base URLs, intervals.",
    no_args_is_help=True,
)

SETTING_NAMES = "default_provider, PROVIDER.base_url, PROVIDER.interval or PROVIDER.ca_bundle"


def _say(ctx: typer.Context, message: str) -> None:
    """A confirmation on stderr (stdout is for results); -q silences it."""
    if not app_context(ctx).quiet:
        print(f"jobpoll: {message}", file=sys.stderr)


def _provider_name(text: str) -> str:
    from jobpoll.providers import get_provider

    return get_provider(text).name


def _setting(name: str) -> tuple[str | None, str]:
    """(provider or None, setting) for a NAME such as muvi.base_url; UsageError otherwise."""
    if name == "default_provider":
        return None, name
    provider, dot, setting = name.removeprefix("providers.").partition(".")
    if not dot:
        raise UsageError(f"unknown setting {name!r}: use {SETTING_NAMES}")
    provider = _provider_name(provider)
    if setting == "api_key":
        raise UsageError(
            f"keys are not read or written with 'config set/get': "
            f"use 'jobpoll config set-key {provider}' (and 'config show' to see it masked)"
        )
    if setting not in ("base_url", "interval", "ca_bundle"):
        raise UsageError(f"unknown setting {name!r}: use {SETTING_NAMES}")
    return provider, setting


def _checked_value(provider: str | None, setting: str, value: str) -> str:
    from jobpoll.config import url_problem
    from jobpoll.durations import parse_interval

    value = value.strip()
    if setting == "default_provider":
        return _provider_name(value)
    if setting == "base_url":
        problem = url_problem(value)
        if problem:
            raise UsageError(f"{provider}.base_url {problem}: {value!r}")
        return value
    if setting == "ca_bundle":
        return _checked_bundle(provider, value)
    parse_interval(value, what=f"{provider}.interval")
    return value  # the text the user gave, "90s" stays "90s"


def _checked_bundle(provider: str | None, value: str) -> str:
    """An absolute path to a readable PEM file of CA certificates."""
    import ssl
    from pathlib import Path

    path = Path(value).expanduser().resolve()
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"{provider}.ca_bundle {str(path)!r} is not a readable PEM file of CA "
                         f"certificates ({reason})") from None
    return str(path)


def _read_key(provider: str) -> str:
    stdin = sys.stdin
    if stdin is None:
        return ""
    if stdin.isatty():
        import getpass

        try:
            return getpass.getpass(f"API key for {provider} (input hidden): ")
        except EOFError:
            return ""
    return stdin.readline()


def _env_note(ctx: typer.Context, provider: str, setting: str, what: str) -> None:
    from jobpoll.config import env_value, env_var

    variable = env_var(provider, setting)
    if env_value(variable):
        app_context(ctx).warn(f"{variable} is set in the environment and {what}")


def _store(app: "AppContext", provider: str | None, setting: str, value: str) -> "Config":
    """Write one setting under the config lock; the config as saved."""
    from jobpoll.config import edit_config

    def change(config: Config) -> bool:
        config.set_value(provider, setting, value)
        return True

    return edit_config(app.config_path, change, warn=app.warn)


def _remove(app: "AppContext", provider: str | None, setting: str) -> tuple[bool, "Path"]:
    """Remove one setting under the config lock: (whether it was there, the file)."""
    from jobpoll.config import config_path, edit_config

    path = config_path(app.config_path)
    removed = False
    if path.exists():  # nothing to lock, nothing to create, when there is no file

        def change(config: Config) -> bool:
            nonlocal removed
            removed = config.remove_value(provider, setting)
            return removed

        edit_config(path, change, warn=app.warn)
    return removed, path


@config_app.command("path")
def path_command(ctx: typer.Context) -> None:
    """Print the config file's path."""
    from jobpoll.config import config_path

    typer.echo(str(config_path(app_context(ctx).config_path)))


@config_app.command("set-key")
def set_key_command(
    ctx: typer.Context,
    provider: str = typer.Argument(..., metavar="PROVIDER", help="The provider (see 'jobpoll providers')."),
    value: str | None = typer.Option(
        None,
        "--value",
        metavar="KEY",
        help="The key. Otherwise a hidden prompt at a terminal, or one line of stdin.",
    ),
) -> None:
    """Store a provider's API key (read from a hidden prompt or stdin)."""
    from jobpoll.config import check_key, mask

    app = app_context(ctx)
    name = _provider_name(provider)
    raw = value if value is not None else _read_key(name)
    if not raw.strip():
        raise UsageError(
            f"no key given for {name}: type it at the prompt, pipe it on stdin, or pass --value KEY"
        )
    key = check_key(raw)
    config = _store(app, name, "api_key", key)
    _say(ctx, f"saved the {name} key ({mask(key)}) in {config.path}")
    _env_note(ctx, name, "api_key", "takes precedence over the file")


@config_app.command("unset-key")
def unset_key_command(
    ctx: typer.Context,
    provider: str = typer.Argument(..., metavar="PROVIDER", help="The provider (see 'jobpoll providers')."),
) -> None:
    """Remove a provider's API key from the config file."""
    name = _provider_name(provider)
    removed, path = _remove(app_context(ctx), name, "api_key")
    if removed:
        _say(ctx, f"removed the {name} key from {path}")
    else:
        _say(ctx, f"no {name} key in {path}: nothing to remove")
    _env_note(ctx, name, "api_key", "still provides a key")


@config_app.command("set")
def set_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help=f"The setting: {SETTING_NAMES}."),
    value: str = typer.Argument(..., metavar="VALUE", help="Its value: a provider, an http(s) URL, a DURATION, a CA file."),
) -> None:
    """Set default_provider, PROVIDER.base_url, PROVIDER.interval or PROVIDER.ca_bundle."""
    provider, setting = _setting(name)
    checked = _checked_value(provider, setting, value)
    config = _store(app_context(ctx), provider, setting, checked)
    _say(ctx, f"set {name} = {checked} in {config.path}")
    if setting == "base_url":
        _env_note(ctx, provider, "base_url", "takes precedence over the file")


@config_app.command("unset")
def unset_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help=f"The setting: {SETTING_NAMES}."),
) -> None:
    """Remove a setting from the config file (its default applies again)."""
    provider, setting = _setting(name)
    removed, path = _remove(app_context(ctx), provider, setting)
    _say(ctx, f"removed {name} from {path}" if removed else f"{name} is not set in {path}")


@config_app.command("get")
def get_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help=f"The setting: {SETTING_NAMES}."),
) -> None:
    """Print a setting's effective value (environment, file or default).

    An unset default_provider prints an empty line.
    """
    from jobpoll.config import resolve_endpoint
    from jobpoll.durations import format_interval

    provider, setting = _setting(name)
    config = app_context(ctx).config()
    if provider is None:
        typer.echo(config.default_provider or "")
        return
    endpoint = resolve_endpoint(config, provider)
    if setting == "base_url":
        typer.echo(endpoint.base_url)
    elif setting == "ca_bundle":
        typer.echo(endpoint.ca_bundle or "")
    else:
        configured = config.provider_settings(provider).get("interval")
        typer.echo(str(configured) if configured is not None else format_interval(endpoint.effective_interval))


def settings_document(config: Config) -> dict[str, Any]:
    """Every setting with where it comes from; keys masked."""
    from jobpoll.config import mask, resolve_endpoint
    from jobpoll.providers import names

    providers: dict[str, Any] = {}
    for name in names():
        endpoint = resolve_endpoint(config, name)
        providers[name] = {
            "base_url": endpoint.base_url,
            "base_url_source": endpoint.base_url_source,
            "interval": endpoint.effective_interval,
            "interval_source": "default" if endpoint.interval is None else "file",
            "key": mask(endpoint.key) or None,
            "key_source": endpoint.key_source,
        }
    return {
        "path": str(config.path),
        "exists": config.exists,
        "default_provider": config.default_provider,
        "providers": providers,
    }


def _human_lines(doc: dict[str, Any]) -> list[str]:
    from jobpoll.config import env_var
    from jobpoll.durations import format_interval

    def source(provider: str, setting: str, where: str | None) -> str:
        return f"env ({env_var(provider, setting)})" if where == "env" else (where or "")

    rows = [
        ("file", doc["path"], "" if doc["exists"] else "(does not exist yet)"),
        ("default_provider", doc["default_provider"] or "(not set)", ""),
    ]
    for name, p in doc["providers"].items():
        rows += [
            (f"{name}.base_url", p["base_url"], source(name, "base_url", p["base_url_source"])),
            (f"{name}.interval", format_interval(p["interval"]), p["interval_source"]),
            (f"{name}.api_key", p["key"] or "(not set)", source(name, "api_key", p["key_source"])),
        ]
    width = [max(len(row[i]) for row in rows) for i in (0, 1)]
    return [
        f"{label.ljust(width[0])}  {value.ljust(width[1])}  {where}".rstrip()
        for label, value, where in rows
    ]


@config_app.command("show")
def show_command(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """Every setting and where it comes from; keys masked."""
    import json

    doc = settings_document(app_context(ctx).config())
    if json_:
        typer.echo(json.dumps(doc))
    else:
        for line in _human_lines(doc):
            typer.echo(line)
