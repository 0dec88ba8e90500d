"""The Typer app: global options and the commands.

Commands are registered from a table and imported only when the app is built;
`build_app("status")` builds just the command being run, because Typer inspects
every registered command's signature on each start (the full app is built for
`--help`, completions and the man page).
"""

from __future__ import annotations

from importlib import import_module
from typing import Optional

import typer

from jobpoll import __version__
from jobpoll.context import start_app

# name -> (module, attribute, is a sub-app), in the order `--help` lists them
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "status": ("jobpoll.commands.wrappers", "status_command", False),
    "watch": ("jobpoll.commands.wrappers", "watch_command", False),
    "download": ("jobpoll.commands.download", "download_command", False),
    "list": ("jobpoll.commands.listing", "list_command", False),
    "config": ("jobpoll.commands.config", "config_app", True),
    "providers": ("jobpoll.commands.providers", "providers_app", True),
    "history": ("jobpoll.commands.history", "history_app", True),
    "demo": ("jobpoll.commands.demo", "demo_command", False),
    "simulate": ("jobpoll.commands.demo", "simulate_command", False),
}


def _version(value: bool) -> None:
    if value:
        print(f"jobpoll {__version__}")
        raise typer.Exit(0)


def _global_options(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    config: Optional[str] = typer.Option(
        None, "--config", envvar="JOBPOLL_CONFIG", metavar="PATH", help="Config file (default: the user config dir)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also NO_COLOR)."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Log HTTP requests and answers on stderr (keys redacted)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No warnings or progress on stderr."),
) -> None:
    ctx.obj = start_app(config, verbose=verbose, quiet=quiet, no_color=no_color)


def build_app(only: str | None = None) -> typer.Typer:
    app = typer.Typer(
        name="jobpoll",
        help="Poll asynchronous render jobs at video-generation APIs (json2video, Pictory, Muvi, Reelbot, Shotstack, Creatomate, Replicate, Runway, Luma, or any defined as data).",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # plain help: rich would add ~80 ms to every --help
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global_options)
    for name, (module, attribute, is_group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(import_module(module), attribute)
        if is_group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app
