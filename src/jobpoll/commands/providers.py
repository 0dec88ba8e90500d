"""`jobpoll providers`: each provider's base URL, key status and interval."""

from __future__ import annotations

import sys
from typing import Any

import typer

from jobpoll.context import AppContext, app_context

PLAIN_COLUMNS = ("name", "base_url", "base_url_source", "key_source", "interval")


def providers_command(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="One JSON object per provider (NDJSON)."),
) -> None:
    """List the providers: base URL, whether a key is set (env/file), polling interval."""
    import json

    from jobpoll.config import resolve_endpoint
    from jobpoll.durations import format_interval
    from jobpoll.providers import NAMES
    from jobpoll.render import Mode, choose_mode

    app = app_context(ctx)
    config = app.config()
    rows = [resolve_endpoint(config, name).summary() for name in NAMES]
    mode = choose_mode(json_=json_, field=None)
    if mode is Mode.JSON:
        for row in rows:
            typer.echo(json.dumps(row))
    elif mode is Mode.TABLE:
        _print_table(app, rows)
    else:
        typer.echo("\t".join(PLAIN_COLUMNS))
        for row in rows:
            cells = dict(row, key_source=row["key_source"] or "none",
                         interval=format_interval(row["interval"]))
            typer.echo("\t".join(str(cells[c]) for c in PLAIN_COLUMNS))


def _print_table(app: AppContext, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from jobpoll.config import env_var
    from jobpoll.durations import format_interval
    from jobpoll.render import make_console

    table = Table(box=None, header_style="bold", pad_edge=False)
    for title in ("Provider", "Base URL", "Key", "Interval"):
        table.add_column(title)
    for row in rows:
        name = row["name"]
        base = escape(row["base_url"])
        if row["base_url_source"] != "default":
            base += f" [dim]({row['base_url_source']})[/dim]"
        key = {
            "env": f"env [dim]({env_var(name, 'api_key')})[/dim]",
            "file": "file",
        }.get(row["key_source"], "[dim]none[/dim]")
        table.add_row(name, base, key, format_interval(row["interval"]))
    make_console(sys.stdout, color=app.color).print(table)
