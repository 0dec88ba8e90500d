"""The common command lines of `status` and `watch`, run without Typer.

Importing Typer (and its copy of Click) and building a command from its signature
costs about a fifth of a `jobpoll status REF` (tens of milliseconds on every
start). A command line made only of the plain forms below is parsed here and
handed to the command's Typer-free function; anything else (-h/--help,
`--opt=value`, `--`, bundled short flags, an unknown or misplaced option, a value
that starts with '-', a missing value, another command) is declined and goes to
Typer unchanged, so every usage error and its exit code stay Typer's.

    jobpoll [--no-color] [-v|--verbose] [-q|--quiet] [--config PATH] status|watch
            [JOB | - | OPTION | OPTION VALUE]...

tests/test_fastpath.py runs a matrix of command lines through both parsers and
checks that the command receives the same values either way, and that every
option of the Typer declarations (commands/wrappers.py) is known here.
"""

from __future__ import annotations

import os
from typing import Any

FLAG, TEXT, COUNT, EACH = "flag", "text", "count", "each"  # how an option takes its value

GLOBAL_OPTIONS: dict[str, tuple[str, str]] = {
    "--no-color": ("no_color", FLAG),
    "-v": ("verbose", FLAG),
    "--verbose": ("verbose", FLAG),
    "-q": ("quiet", FLAG),
    "--quiet": ("quiet", FLAG),
    "--config": ("config", TEXT),
}

# Option word -> (parameter of the command's function, kind). Each mirrors the
# Typer declaration of the same name in commands/wrappers.py.
COMMAND_OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "--json": ("json_", FLAG),
        "--field": ("field", TEXT),
        "--raw": ("raw", FLAG),
        "--exit-status": ("exit_status", FLAG),
        "-p": ("provider", TEXT),
        "--provider": ("provider", TEXT),
    },
    "watch": {
        "-i": ("interval", TEXT),
        "--interval": ("interval", TEXT),
        "--max-interval": ("max_interval", TEXT),
        "-t": ("timeout", TEXT),
        "--timeout": ("timeout", TEXT),
        "--retries": ("retries", COUNT),
        "--fail-fast": ("fail_fast", FLAG),
        "--heartbeat": ("heartbeat", TEXT),
        "--json": ("json_", FLAG),
        "--field": ("field", TEXT),
        "-p": ("provider", TEXT),
        "--provider": ("provider", TEXT),
        "--download": ("download", TEXT),
        "--type": ("types", EACH),
        "--name": ("name", TEXT),
        "--exec": ("exec_", TEXT),
    },
}

# command -> (module, function): the same functions the Typer wrappers call.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("jobpoll.commands.status", "status"),
    "watch": ("jobpoll.commands.watch", "watch"),
}

# Click reads --config from this variable when the option is not given (an empty
# value counts as unset), as app.py declares it.
CONFIG_VARIABLE = "JOBPOLL_CONFIG"
# Set, it asks Typer for shell completion instead of running a command.
COMPLETION_VARIABLE = "_JOBPOLL_COMPLETE"


class Invocation:
    """A command line the fast path takes: the global options (as start_app takes
    them), the command, and the arguments its function takes (only those given:
    the rest are the function's own defaults)."""

    __slots__ = ("command", "global_options", "arguments")

    def __init__(self, command: str, global_options: dict[str, Any], arguments: dict[str, Any]):
        self.command = command
        self.global_options = global_options
        self.arguments = arguments

    def run(self) -> int:
        """Run the command; its exit code."""
        from importlib import import_module

        from jobpoll.context import start_app

        app = start_app(**self.global_options)
        module, function = COMMANDS[self.command]
        return getattr(import_module(module), function)(app, **self.arguments)


def parse(argv: list[str]) -> Invocation | None:
    """The invocation `argv` asks for, or None: Typer's to handle."""
    if os.environ.get(COMPLETION_VARIABLE):
        return None
    global_options: dict[str, Any] = {"config": None, "verbose": False, "quiet": False, "no_color": False}
    at = _take_options(argv, 0, GLOBAL_OPTIONS, global_options, stop_at_argument=True)
    if at is None or at >= len(argv) or argv[at] not in COMMAND_OPTIONS:
        return None
    command = argv[at]
    arguments: dict[str, Any] = {}
    if _take_options(argv, at + 1, COMMAND_OPTIONS[command], arguments, stop_at_argument=False) is None:
        return None
    if global_options["config"] is None:
        global_options["config"] = os.environ.get(CONFIG_VARIABLE) or None
    return Invocation(command, global_options, arguments)


def _take_options(argv: list[str], at: int, options: dict[str, tuple[str, str]], into: dict[str, Any],
                  *, stop_at_argument: bool) -> int | None:
    """Read options (and, unless `stop_at_argument`, job references into "jobs")
    from argv[at:] into `into`; where the reading stopped, or None for a word
    only Typer may judge."""
    while at < len(argv):
        word = argv[at]
        if word == "-" or not word.startswith("-"):  # a job reference ('-': stdin)
            if stop_at_argument:
                return at
            into.setdefault("jobs", []).append(word)
            at += 1
            continue
        if word not in options:
            return None
        parameter, kind = options[word]
        if kind == FLAG:
            into[parameter] = True
            at += 1
            continue
        if at + 1 >= len(argv) or argv[at + 1].startswith("-"):
            return None  # a missing value, or one Click might read as an option
        value: Any = argv[at + 1]
        if kind == COUNT:
            # Click's int() would also take "+5", " 5" or "5_0": those go to Typer.
            if not (value.isascii() and value.isdigit() and len(value) <= 9):
                return None
            value = int(value)
        if kind == EACH:
            into.setdefault(parameter, []).append(value)
        else:
            into[parameter] = value  # given twice: the last one counts, as in Click
        at += 2
    return at
