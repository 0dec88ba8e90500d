"""`jobpoll providers` (each provider's base URL, key status, interval and where it
is defined) and `jobpoll providers check FILE` (validate a definition file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from jobpoll.context import AppContext, app_context

PLAIN_COLUMNS = ("name", "base_url", "base_url_source", "key_source", "interval", "source", "path")

providers_app = typer.Typer(
    name="providers", invoke_without_command=True, no_args_is_help=False, add_completion=False,
    rich_markup_mode=None, help="List the providers, or check a provider definition file.",
)


@providers_app.callback()
def providers_command(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="One JSON object per provider (NDJSON)."),
) -> None:
    """List the providers: base URL, whether a key is set (env/file), polling interval,
    and where each is defined (built in, a plugin, or a file, with its path)."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from jobpoll.durations import format_interval
    from jobpoll.errors import UsageError
    from jobpoll.exits import ExitCode
    from jobpoll.render import Mode, choose_mode

    app = app_context(ctx)
    config = app.config()
    rows, errors = _rows(config)
    mode = choose_mode(json_=json_, field=None)
    if mode is Mode.JSON:
        for row in rows:
            typer.echo(json.dumps(row))
    elif mode is Mode.TABLE:
        _print_table(app, rows)
    else:
        typer.echo("\t".join(PLAIN_COLUMNS))
        for row in rows:
            cells = dict(row, key_source=row.get("key_source") or "none",
                         interval=format_interval(row["interval"]) if row.get("interval") else "",
                         path=row.get("path") or "", base_url=row.get("base_url") or "",
                         base_url_source=row.get("base_url_source") or "")
            typer.echo("\t".join(str(cells[c]) for c in PLAIN_COLUMNS))
    for error in errors:
        print(f"jobpoll: error: {UsageError(error).line()}", file=sys.stderr)
    if errors:
        raise typer.Exit(int(ExitCode.USAGE))


def _rows(config: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """A row per provider; a definition file that cannot be used gets a row with its
    error (and the error is reported), so one broken file does not hide the rest."""
    from jobpoll.config import resolve_endpoint
    from jobpoll.errors import UsageError
    from jobpoll.providers import sources

    rows, errors = [], []
    for source in sources():
        where = {"source": source.kind, "path": source.where if source.is_definition else None}
        try:
            row = resolve_endpoint(config, source.name).summary()
        except UsageError as exc:
            errors.append(exc.line())
            rows.append({"name": source.name, **where, "error": exc.message})
            continue
        rows.append({**row, **where})
    return rows, errors


def _print_table(app: AppContext, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from jobpoll.config import env_var
    from jobpoll.durations import format_interval
    from jobpoll.render import make_console

    table = Table(box=None, header_style="bold", pad_edge=False)
    for title in ("Provider", "Base URL", "Key", "Interval", "Defined"):
        table.add_column(title)
    for row in rows:
        name = row["name"]
        defined = row["source"] + (f" [dim]{escape(row['path'])}[/dim]" if row["source"] == "file" else "")
        if "error" in row:
            table.add_row(name, "[red]invalid definition[/red]", "", "", defined)
            continue
        base = escape(row["base_url"])
        if row["base_url_source"] != "default":
            base += f" [dim]({row['base_url_source']})[/dim]"
        key = {
            "env": f"env [dim]({env_var(name, 'api_key')})[/dim]",
            "file": "file",
        }.get(row["key_source"], "[dim]none[/dim]")
        table.add_row(name, base, key, format_interval(row["interval"]), defined)
    make_console(sys.stdout, color=app.color).print(table)


@providers_app.command("check")
def check_command(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="A provider definition (NAME.toml)."),
    sample: Optional[str] = typer.Option(
        None, "--sample", metavar="ANSWER.json",
        help="A status answer saved from the API: print the job object jobpoll reads from it.",
    ),
    job_id: str = typer.Option("sample", "--id", metavar="ID", help="The job ID to show with --sample."),
) -> None:
    """Check a provider definition file: every problem on its own line naming its key
    (exit 2). With --sample, print the job object (JSON) read from a saved answer."""
    import json

    from jobpoll.errors import UsageError
    from jobpoll.exits import ExitCode
    import re

    from jobpoll.providers import BUILTIN_DATA, DEFINITIONS_DIR, NAME_PATTERN, NAMES
    from jobpoll.providers.definition import DefinitionError, read_definition

    app = app_context(ctx)
    path = Path(file).expanduser().absolute()
    name = path.name[: -len(".toml")] if path.name.endswith(".toml") else path.stem
    problems = []
    if not path.name.endswith(".toml"):
        problems.append("file name: a definition is NAME.toml (the file name is the provider's name)")
    elif not re.fullmatch(NAME_PATTERN, name):
        problems.append("file name: the provider's name must be a lower-case letter then "
                        "lower-case letters, digits or '_' (at most 40)")
    elif name in NAMES and not (name in BUILTIN_DATA and path.resolve() == DEFINITIONS_DIR / path.name):
        problems.append(f"file name: {name!r} is a built-in provider; a user definition of "
                        "that name is refused (rename the file)")
    definition = None
    try:
        definition = read_definition(name, path)
    except DefinitionError as exc:
        problems.extend(exc.problems)
    if problems:
        for problem in problems:
            print(f"jobpoll: error: {UsageError(f'{path}: {problem}').line()}", file=sys.stderr)
        raise typer.Exit(int(ExitCode.USAGE))
    assert definition is not None
    if sample is None:
        typer.echo(f"{path}: a valid definition of the provider {name!r}")
        return
    _print_sample(app, definition, Path(sample).expanduser(), job_id, json)


def _print_sample(app: AppContext, definition: Any, sample: Path, job_id: str, json: Any) -> None:
    from jobpoll.errors import UsageError
    from jobpoll.model import State, utcnow
    from jobpoll.providers.base import Answer
    from jobpoll.providers.declarative import Declarative

    provider = Declarative(definition)
    provider.check_id(job_id)
    try:
        body = sample.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the sample answer {sample}: {exc.strerror or exc}") from None
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"the sample answer {sample} is not JSON") from None
    job = provider.parse_status(job_id, Answer(200, {"content-type": "application/json"}, body), utcnow())
    if job.state is State.UNKNOWN:
        app.warn(f"the status word {job.status!r} is in no list of [status.states]: "
                 "jobpoll would show the job as unknown")
    typer.echo(json.dumps(job.to_dict()))
