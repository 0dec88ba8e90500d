"""The Typer app: global options, the commands, and the one place that turns
exceptions into a line on stderr and an exit code.

Only typer and the command modules' light top levels are imported here; each
command imports what it needs (httpx, rich, sqlite3) when it runs.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from jobpoll import __version__
from jobpoll.commands.config import config_app
from jobpoll.commands.history import history_app
from jobpoll.commands.listing import list_command
from jobpoll.commands.providers import providers_command
from jobpoll.commands.status import status_command
from jobpoll.commands.watch import watch_command
from jobpoll.commands.demo import demo_command, simulate_command
from jobpoll.context import AppContext

app = typer.Typer(
    name="jobpoll",
    help="Poll asynchronous render jobs at video-generation APIs (json2video, Pictory, Muvi, Reelbot).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich would add ~80 ms to every --help
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"jobpoll {__version__}")
        raise typer.Exit(0)


@app.callback()
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
    ctx.obj = AppContext(config_path=config, verbose=verbose, quiet=quiet, no_color=no_color)


app.command("status")(status_command)
app.command("watch")(watch_command)
app.command("demo")(demo_command)
app.command("simulate")(simulate_command)
app.add_typer(config_app, name="config")
app.command("providers")(providers_command)
app.command("list")(list_command)
app.add_typer(history_app, name="history")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, map every failure to one line and an exit code."""
    from jobpoll.errors import JobpollError

    code = 0
    try:
        result = app(args=argv, prog_name="jobpoll", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except JobpollError as exc:
        print(f"jobpoll: error: {exc.line()}", file=sys.stderr)
        code = int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        print("jobpoll: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = _quiet_broken_pipe()
    except Exception as exc:  # Typer/Click usage errors carry exit_code and format_message
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `jobpoll` or `jobpoll config`
            print(exc.format_message(), file=sys.stderr)
            code = 2
        elif hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
            print(f"jobpoll: error: {exc.format_message()}{_help_hint(exc)}", file=sys.stderr)
            code = int(exc.exit_code)
        elif os.environ.get("JOBPOLL_DEBUG"):
            raise
        else:
            print(f"jobpoll: error: unexpected {type(exc).__name__}: {exc} "
                  "(set JOBPOLL_DEBUG=1 for details; please report it)", file=sys.stderr)
            code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _quiet_broken_pipe()
    sys.exit(code)


def _help_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return f" (see '{path} --help')" if path else ""


def _quiet_broken_pipe() -> int:
    """The reader went away (`| head -1`): stop quietly, as a pipe user expects."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
