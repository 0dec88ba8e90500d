"""The Typer-free fast path of `status` and `watch` (fastpath.py) against the Typer
path it stands in for: for every command line it takes, the command's function
receives exactly what Typer would hand it; every other command line is left to
Typer; the defaults of the Typer declarations are the functions' own; and a plain
`jobpoll status REF` really runs without Typer or Click."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from conftest import assert_clean, run_cli
from jobpoll import fastpath

BODIES = {"status": ("jobpoll.commands.status", "status"), "watch": ("jobpoll.commands.watch", "watch")}
WRAPPERS = {"status": "status_command", "watch": "watch_command"}


def body_of(command):
    from importlib import import_module

    module, name = BODIES[command]
    return getattr(import_module(module), name)


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Both bodies and use_config replaced by recorders: a call is (use_config's
    path, AppContext, every argument the body would see, defaults filled in)."""
    import jobpoll.providers

    seen: list = []
    configured: list = []
    monkeypatch.setattr(jobpoll.providers, "use_config", configured.append)
    for command, (module, name) in BODIES.items():
        real = body_of(command)

        def record(app, *args, _real=real, **kwargs):
            bound = inspect.signature(_real).bind(app, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            seen.append((configured[-1], arguments.pop("app"), arguments))
            return 0

        monkeypatch.setattr(sys.modules[module], name, record)
    monkeypatch.delenv("JOBPOLL_CONFIG", raising=False)
    monkeypatch.delenv("_JOBPOLL_COMPLETE", raising=False)
    return seen


def typer_call(args, calls):
    """What Typer hands the command's function for `jobpoll ARGS`."""
    from jobpoll.app import build_app

    result = build_app()(args=list(args), prog_name="jobpoll", standalone_mode=False)
    assert result == 0
    assert len(calls) == 1
    return calls.pop()


def fast_call(args, calls):
    """What the fast path hands it."""
    invocation = fastpath.parse(list(args))
    assert invocation is not None, f"the fast path declined {args}"
    assert invocation.run() == 0
    assert len(calls) == 1
    return calls.pop()


STATUS_LINES = [
    ["status", "muvi:job_1"],
    ["status"],
    ["status", "-"],
    ["status", ""],
    ["status", "muvi:job_1", "job_2", "-", "muvi:job_1"],
    ["status", "--json", "muvi:job_1"],
    ["status", "muvi:job_1", "--field", "state"],
    ["status", "--field", "", "muvi:job_1"],
    ["status", "--raw", "muvi:job_1"],
    ["status", "--exit-status", "muvi:job_1"],
    ["status", "-p", "muvi", "job_1"],
    ["status", "--provider", "pictory", "job_1"],
    ["status", "--field", "state", "--field", "url", "a"],  # the last one counts
    ["status", "--json", "--json", "a"],
    ["status", "a", "--json", "b", "--raw", "c", "--exit-status", "-p", "muvi", "d", "--field", "url"],
    ["status", "status", "watch", "list"],  # command names as references
]
WATCH_LINES = [
    ["watch", "muvi:job_1"],
    ["watch"],
    ["watch", "-"],
    ["watch", "-i", "1s", "a"],
    ["watch", "--interval", "0.2", "a"],
    ["watch", "--max-interval", "2m", "a"],
    ["watch", "-t", "10", "a"],
    ["watch", "--timeout", "1h", "a"],
    ["watch", "--retries", "0", "a"],
    ["watch", "--retries", "007", "a"],
    ["watch", "--retries", "123456789", "a"],
    ["watch", "--fail-fast", "a"],
    ["watch", "--heartbeat", "0", "a"],
    ["watch", "--json", "a"],
    ["watch", "--field", "url", "a"],
    ["watch", "-p", "muvi", "a"],
    ["watch", "--provider", "muvi", "a"],
    ["watch", "--download", "out dir", "a"],
    ["watch", "--download", "d", "--type", "video", "a"],
    ["watch", "--download", "d", "--type", "video", "--type", "all", "--type", "video", "a"],
    ["watch", "--download", "d", "--name", "{id}.{ext}", "a"],
    ["watch", "--exec", "echo $JOBPOLL_REF >> done.txt", "a"],
    ["watch", "a", "-i", "1", "--max-interval", "5", "-t", "30", "--retries", "2", "--fail-fast", "b",
     "--heartbeat", "10s", "--json", "-p", "muvi", "--download", "d", "--type", "image", "--name", "x",
     "--exec", "true", "-", "c"],
]
GLOBALS = [
    [],
    ["--no-color"],
    ["-v"],
    ["--verbose"],
    ["-q"],
    ["--quiet"],
    ["--config", "CONFIG"],
    ["--config", ""],
    ["--config", "first.toml", "--config", "CONFIG"],
    ["-q", "--no-color", "-v", "--config", "CONFIG", "--quiet", "--verbose"],
]


@pytest.mark.parametrize("line", STATUS_LINES + WATCH_LINES, ids=" ".join)
def test_the_command_gets_what_typer_would_give_it(calls, line):
    assert fast_call(line, calls) == typer_call(line, calls)


@pytest.mark.parametrize("options", GLOBALS, ids=" ".join)
@pytest.mark.parametrize("variable", [None, "", "env.toml"], ids=["unset", "empty", "set"])
@pytest.mark.parametrize("command", ["status", "watch"])
def test_global_options_and_the_config_variable_mean_the_same(calls, monkeypatch, tmp_path,
                                                              options, variable, command):
    options = [str(tmp_path / "c.toml") if word == "CONFIG" else word for word in options]
    if variable is not None:
        monkeypatch.setenv("JOBPOLL_CONFIG", variable and str(tmp_path / variable))
    line = [*options, command, "muvi:job_1", "--json"]
    fast, typer = fast_call(line, calls), typer_call(line, calls)
    assert fast == typer
    configured, app, _ = fast
    assert app.config_path == configured  # the definitions are looked for beside that config


DECLINED = [
    [],
    ["--no-color"],
    ["--config", "c.toml"],
    ["muvi:job_1"],
    ["--version"],
    ["--version", "status", "a"],
    ["-h"],
    ["--help"],
    ["status", "-h"],
    ["status", "--help"],
    ["status", "a", "--help"],
    ["watch", "--help"],
    ["status", "--field=state", "a"],
    ["--config=c.toml", "status", "a"],
    ["status", "--", "a"],
    ["status", "--", "-a"],
    ["-qv", "status", "a"],
    ["status", "-pmuvi", "a"],
    ["watch", "-i1", "a"],
    ["status", "--bogus", "a"],
    ["status", "-x", "a"],
    ["status", "a", "-q"],  # a global option after the command
    ["status", "--config", "c.toml", "a"],
    ["watch", "a", "-v"],
    ["status", "--field", "-x", "a"],
    ["status", "-p", "-", "a"],
    ["watch", "-t", "-1", "a"],
    ["--config", "-", "status", "a"],
    ["--config", "--quiet", "status", "a"],
    ["status", "a", "--field"],
    ["status", "-p"],
    ["--config"],
    ["watch", "--retries"],
    ["watch", "--retries", "+5", "a"],
    ["watch", "--retries", "-1", "a"],
    ["watch", "--retries", "5_0", "a"],
    ["watch", "--retries", " 5", "a"],
    ["watch", "--retries", "x", "a"],
    ["watch", "--retries", "1e3", "a"],
    ["watch", "--retries", "\u0663", "a"],  # an Arabic-Indic digit: int() takes it
    ["watch", "--retries", "1234567890", "a"],
    ["list"],
    ["download", "a"],
    ["config", "show"],
    ["-q", "history", "list"],
    ["demo"],
    ["Status", "a"],
]


@pytest.mark.parametrize("line", DECLINED, ids=lambda line: " ".join(line) or "(nothing)")
def test_anything_else_is_left_to_typer(line):
    assert fastpath.parse(line) is None


def test_shell_completion_is_left_to_typer(monkeypatch):
    monkeypatch.setenv("_JOBPOLL_COMPLETE", "bash_complete")
    assert fastpath.parse(["status", "a"]) is None
    monkeypatch.setenv("_JOBPOLL_COMPLETE", "")
    assert fastpath.parse(["status", "a"]) is not None


def click_command(command=None):
    import typer

    from jobpoll.app import build_app

    group = typer.main.get_command(build_app(command))
    return group if command is None else group.commands[command]


def option_table(command):
    """Option word -> (parameter, kind) as the Typer declarations have it."""
    table = {}
    for param in command.params:
        if param.param_type_name != "option" or param.name == "help":
            continue
        kind_of_type = type(param.type).__name__
        if param.is_flag:
            kind = fastpath.FLAG
        elif kind_of_type == "IntRange":  # COUNT: a whole number from 0 up, as --retries
            assert (param.type.min, param.type.max, param.type.min_open, param.multiple) == (0, None, False, False)
            kind = fastpath.COUNT
        else:
            assert kind_of_type == "StringParamType", param
            kind = fastpath.EACH if param.multiple else fastpath.TEXT
        for word in [*param.opts, *param.secondary_opts]:
            table[word] = (param.name, kind)
    return table


@pytest.mark.parametrize("command", ["status", "watch"])
def test_the_fast_path_knows_every_option_of_the_command_as_declared(command):
    """A new option declared for Typer (or one changed) must be taught to the fast
    path too; until then this fails rather than the two drifting apart."""
    assert fastpath.COMMAND_OPTIONS[command] == option_table(click_command(command))


def test_the_fast_path_knows_every_global_option_as_declared():
    group = click_command()
    table = option_table(group)
    del table["--version"]  # eager: prints and exits, Typer's to do
    assert fastpath.GLOBAL_OPTIONS == table
    [config] = [p for p in group.params if p.name == "config"]
    assert config.envvar == fastpath.CONFIG_VARIABLE


@pytest.mark.parametrize("command", ["status", "watch"])
def test_the_typer_declarations_default_to_what_the_command_does(command):
    """The defaults live twice, in the Typer declaration (for --help) and in the
    command's function (for the fast path): they must be the same."""
    from jobpoll.commands import wrappers

    declared = inspect.signature(getattr(wrappers, WRAPPERS[command])).parameters
    own = inspect.signature(body_of(command)).parameters
    assert list(declared)[0] == "ctx" and list(own)[0] == "app"
    assert list(declared)[1:] == list(own)[1:]
    for name in list(own)[1:]:
        assert declared[name].default.default == own[name].default, name


IMPORTED = """
import atexit, sys
def report():
    with open(sys.argv[1], "w") as out:
        out.write(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("typer", "click"))))
atexit.register(report)
from jobpoll.cli import main
main(sys.argv[2:])
"""


def run_and_list_imports(tmp_path, env, *args):
    """Run jobpoll ARGS; what it printed, and the typer and click modules it had loaded at exit."""
    where = tmp_path / "modules.txt"
    result = subprocess.run([sys.executable, "-c", IMPORTED, str(where), *args], env=env,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return result, where.read_text().split()


def test_status_and_watch_of_a_job_run_without_typer(sim, env, tmp_path):
    job = sim.add_job("muvi", outcome="done", queued=0, running=0)
    result, modules = run_and_list_imports(tmp_path, env, "-q", "status", f"muvi:{job}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "done"
    assert modules == []
    result, modules = run_and_list_imports(tmp_path, env, "watch", f"muvi:{job}", "--field", "state")
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    assert modules == []


def test_help_and_usage_errors_still_go_through_typer(sim, env, tmp_path):
    result, modules = run_and_list_imports(tmp_path, env, "status", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: jobpoll status [OPTIONS] [JOB...]")
    assert "typer" in modules
    result, modules = run_and_list_imports(tmp_path, env, "watch", "--retries", "x", "muvi:job_1")
    assert result.returncode == 2
    assert result.stderr.startswith("jobpoll: error: Invalid value for '--retries'")
    assert "typer" in modules


def test_errors_in_the_command_end_alike_on_both_paths(sim, env):
    """An error the command itself finds (not Typer) reads the same either way:
    a bare reference with no provider, on the fast path and behind --help's path
    (`--opt=value` sends the same command line through Typer)."""
    fast = run_cli("status", "job_1", "--field", "state", env=env)
    slow = run_cli("status", "job_1", "--field=state", env=env)
    assert fast.returncode == slow.returncode != 0
    assert fast.stderr == slow.stderr and fast.stderr.startswith("jobpoll: error: ")
    assert_clean(fast)
