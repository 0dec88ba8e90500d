"""The Typer declarations (options, help, defaults) of the commands whose work is
a Typer-free function: `status` (commands/status.py) and `watch` (commands/watch.py).

The common command lines of those two run without Typer (fastpath.py); everything
else (--help, an odd or wrong option) comes here, and each wrapper only hands the
parsed values to the same function. tests/test_fastpath.py keeps both sides equal:
the defaults here and there, and what the fast path parses against what Typer does.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from jobpoll.context import app_context

JOBS_HELP = "Job references: PROVIDER:ID or a bare ID; '-' (or none, with stdin not a terminal) reads them from stdin."


def status_command(
    ctx: typer.Context,
    jobs: Optional[List[str]] = typer.Argument(None, metavar="JOB...", help=JOBS_HELP, show_default=False),
    json_: bool = typer.Option(False, "--json", help="One JSON object per job (NDJSON)."),
    field: Optional[str] = typer.Option(None, "--field", metavar="NAME", help="Print only this job field, one line per job."),
    raw: bool = typer.Option(False, "--raw", help="Include the provider's own payload as 'raw' (implies --json)."),
    exit_status: bool = typer.Option(
        False, "--exit-status", help="Exit 1 if a job ended badly, 5 if one is still queued or running."
    ),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", metavar="PROVIDER", help="Provider for bare IDs."),
) -> None:
    """Ask where jobs stand, once, and exit."""
    from jobpoll.commands.status import status

    raise typer.Exit(status(app_context(ctx), jobs=jobs, json_=json_, field=field, raw=raw,
                            exit_status=exit_status, provider=provider))


def watch_command(
    ctx: typer.Context,
    jobs: Optional[List[str]] = typer.Argument(None, metavar="JOB...", help=JOBS_HELP, show_default=False),
    interval: Optional[str] = typer.Option(
        None, "-i", "--interval", metavar="DURATION",
        help="The provider's interval, and the shortest wait between looks at a job (default: the provider's advice: pictory 10s, others 5s; young jobs are looked at more often).",
    ),
    max_interval: str = typer.Option(
        "60s", "--max-interval", metavar="DURATION", help="Longest wait between two looks at a job."
    ),
    timeout: Optional[str] = typer.Option(
        None, "-t", "--timeout", metavar="DURATION", help="Overall deadline: then print what is known and exit 5."
    ),
    retries: int = typer.Option(
        5, "--retries", metavar="N", min=0,
        help="Failed lookups in a row (network, 5xx, unreadable answer) retried before a job is abandoned (exit 6).",
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first job that ends badly."),
    heartbeat: str = typer.Option(
        "60s", "--heartbeat", metavar="DURATION",
        help="When stdout is not a terminal, a line on stderr for jobs unchanged this long (0: off).",
    ),
    json_: bool = typer.Option(False, "--json", help="NDJSON: a line per job when first seen and at every change."),
    field: Optional[str] = typer.Option(
        None, "--field", metavar="NAME", help="Print only this field of each job, once, when it finishes."
    ),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", metavar="PROVIDER", help="Provider for bare IDs."),
    download: Optional[str] = typer.Option(
        None, "--download", metavar="DIR", help="Save each job's outputs into DIR as soon as it is done.",
    ),
    types: Optional[List[str]] = typer.Option(
        None, "--type", metavar="TYPE", show_default=False,
        help="With --download: output type to save (video by default, or all; repeatable).",
    ),
    name: Optional[str] = typer.Option(
        None, "--name", metavar="TEMPLATE", show_default=False,
        help="With --download: file name template, as for 'jobpoll download'.",
    ),
    exec_: Optional[str] = typer.Option(
        None, "--exec", metavar="CMD",
        help="Run CMD through the shell once per job that reaches a final state (after its download), "
             "with JOBPOLL_REF, _PROVIDER, _ID, _STATE, _URL, _FILES set; its output goes to stderr.",
    ),
) -> None:
    """Poll jobs until each one finishes (done, failed, cancelled, timeout, expired)."""
    from jobpoll.commands.watch import watch

    raise typer.Exit(watch(
        app_context(ctx), jobs=jobs, interval=interval, max_interval=max_interval, timeout=timeout,
        retries=retries, fail_fast=fail_fast, heartbeat=heartbeat, json_=json_, field=field,
        provider=provider, download=download, types=types, name=name, exec_=exec_,
    ))
