"""The generated shell completions and man page, and the README as a manual.

The completions are driven for real: bash through its completion function with
COMP_WORDS as readline would set them, fish through `complete -C`, zsh at a
pseudo-terminal. Staleness: the committed files must equal what
scripts/gen_docs.py generates from the app now, and a changed app must change them.
"""

from __future__ import annotations

import difflib
import enum
import functools
import importlib.util
import inspect
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest
import typer

ROOT = Path(__file__).resolve().parent.parent
BASH_SCRIPT = ROOT / "completions" / "jobpoll.bash"
ZSH_SCRIPT = ROOT / "completions" / "_jobpoll"
FISH_SCRIPT = ROOT / "completions" / "jobpoll.fish"
MAN_PAGE = ROOT / "man" / "jobpoll.1"
README = ROOT / "README.md"
REGENERATE = "run scripts/gen_docs.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen_docs = _load_generator()


@pytest.fixture(scope="module")
def cli():
    return gen_docs.describe(gen_docs.load_app())


def needs(program: str):
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} is not installed")


# ----------------------------------------------------------------- staleness


def test_committed_files_are_current():
    files = gen_docs.render_all()
    stale = gen_docs.stale(files)
    diff = ""
    if stale:
        path = ROOT / stale[0]
        committed = path.read_text(encoding="utf-8").splitlines(True) if path.exists() else []
        diff = "".join(list(difflib.unified_diff(committed, files[stale[0]].splitlines(True), stale[0]))[:40])
    assert not stale, f"stale: {', '.join(stale)}: {REGENERATE}\n{diff}"


def test_generating_twice_gives_the_same_files():
    assert gen_docs.render_all() == gen_docs.render_all()


def test_check_mode_reports_stale_files(tmp_path):
    assert gen_docs.main(["--out", str(tmp_path)]) == 0
    assert gen_docs.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "man" / "jobpoll.1").write_text("stale\n", encoding="utf-8")
    assert gen_docs.main(["--check", "--out", str(tmp_path)]) == 1


class Colour(str, enum.Enum):
    red = "red"
    green = "green"


def _with_extra_option(callback):
    """A copy of a command function that takes one more option, --brand-new-option COLOUR."""
    signature = inspect.signature(callback)

    @functools.wraps(callback)
    def wrapper(*args, brand_new_option=None, **kwargs):
        return callback(*args, **kwargs)

    extra = inspect.Parameter(
        "brand_new_option",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, "--brand-new-option", help="Added by the staleness test."),
        annotation=Optional[Colour],
    )
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
    wrapper.__annotations__ = {**callback.__annotations__, "brand_new_option": Optional[Colour]}
    return wrapper


@pytest.fixture(scope="module")
def changed_files():
    """The generated files of a copy of the app whose `status` has one more option."""
    import copy

    app = gen_docs.load_app()
    changed = copy.copy(app)
    changed.registered_commands = [copy.copy(info) for info in app.registered_commands]
    status = next(info for info in changed.registered_commands if info.name == "status")
    status.callback = _with_extra_option(status.callback)
    return gen_docs.render_all(changed)


def test_an_option_added_without_regenerating_is_caught(changed_files):
    current = gen_docs.render_all()
    assert sorted(gen_docs.stale(changed_files)) == sorted(current), "every generated file must change"
    assert "--brand-new-option" in changed_files["completions/jobpoll.bash"]
    assert "--brand-new-option" in changed_files["completions/_jobpoll"]
    assert "-l brand-new-option" in changed_files["completions/jobpoll.fish"]
    assert r"\-\-brand\-new\-option" in changed_files["man/jobpoll.1"]
    assert "--brand-new-option" not in current["completions/jobpoll.bash"]


@needs("bash")
def test_bash_completes_a_new_option_and_its_choices(changed_files, tmp_path):
    script = tmp_path / "jobpoll.bash"
    script.write_text(changed_files["completions/jobpoll.bash"], encoding="utf-8")
    assert bash_complete("jobpoll status --brand", "jobpoll status --brand-new-option gr", script=script) == [
        ["--brand-new-option"], ["green"],
    ]


def test_words_come_from_the_code(cli):
    from jobpoll.model import JOB_FIELDS, STATE_NAMES
    from jobpoll.providers import NAMES

    assert cli.words["provider"] == list(NAMES)
    assert cli.words["state"] == list(STATE_NAMES)
    assert cli.words["field"] == [*JOB_FIELDS, "ref"]


# ----------------------------------------------------------------- bash


def bash_words(line: str, breaks: str = ":=") -> list[str]:
    """COMP_WORDS as bash makes them: blanks separate words, and so do the
    characters of COMP_WORDBREAKS (':' and '=' by default), which are words too."""
    marks = re.escape(breaks)
    words = re.findall(rf"[^\s{marks}]+|[{marks}]" if breaks else r"\S+", line)
    if not line or line[-1].isspace():
        words.append("")
    return words


def bash_complete(*lines: str, script: Path = BASH_SCRIPT, breaks: str = ":=") -> list[list[str]]:
    """COMPREPLY of _jobpoll for each command line, the cursor at its end."""
    commands = [f"source {shlex.quote(str(script))}", f"COMP_WORDBREAKS={shlex.quote(' ' + breaks)}"]
    for line in lines:
        words = bash_words(line, breaks)
        commands += [
            f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}",
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}",
            f"COMPREPLY=(); _jobpoll jobpoll {shlex.quote(words[-1])} {shlex.quote(words[-2])}",
            "printf '%s\\n' \"${COMPREPLY[@]}\"; echo '@@'",
        ]
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "\n".join(commands)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    chunks = result.stdout.split("@@\n")[:-1]
    assert len(chunks) == len(lines), result.stdout
    return [[w for w in chunk.split("\n") if w] for chunk in chunks]


@needs("bash")
def test_bash_script_parses():
    result = subprocess.run(["bash", "-n", str(BASH_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


BASH_CASES = [
    ("jobpoll wa", ["watch"]),  # a command
    ("jobpoll status --ex", ["--exit-status"]),  # an option
    ("jobpoll status -p mu", ["muvi"]),  # a provider
    ("jobpoll status --provider=mu", ["muvi"]),
    ("jobpoll watch pic", ["pictory:"]),  # the PROVIDER: prefix of a job
    ("jobpoll watch json2video:aB3dE5gH7jK9mN1p re", ["reelbot:", "replicate:"]),
    ("jobpoll watch sh", ["shotstack:"]),  # the providers defined as data too
    ("jobpoll watch pictory:", []),  # an ID: nothing to offer
    ("jobpoll watch pictory:ab", []),
    ("jobpoll list --state ru", ["running"]),
    ("jobpoll list --state=ca", ["cancelled"]),
    ("jobpoll status --field ur", ["url"]),
    ("jobpoll status --field re", ["ref"]),
    ("jobpoll config set-key re", ["reelbot", "replicate"]),
    ("jobpoll config unset-key js", ["json2video"]),
    ("jobpoll config set-key muvi ", []),
    ("jobpoll config get default", ["default_provider"]),
    ("jobpoll config set-", ["set-key"]),
    ("jobpoll -q --config x.toml st", ["status"]),
    ("jobpoll --no-color", ["--no-color"]),
    ("jobpoll status --json -p muvi --field url muvi:job_1 js", ["json2video:"]),
]


@needs("bash")
def test_bash_completes_commands_options_providers_and_prefixes():
    got = bash_complete(*(line for line, _ in BASH_CASES))
    for (line, expected), reply in zip(BASH_CASES, got):
        assert reply == expected, f"{line!r}: got {reply}, expected {expected}"


@needs("bash")
def test_bash_completes_when_colon_and_equals_do_not_break_words():
    assert bash_complete(
        "jobpoll list --state=ru", "jobpoll watch pic", "jobpoll watch pictory:ab", breaks="",
    ) == [["--state=running"], ["pictory:"], []]


@needs("bash")
def test_bash_completes_every_command_and_option(cli):
    lines, expected = [], []
    for cmd in cli.commands():
        for sub in cmd.subcommands:
            lines.append(" ".join([cmd.name, sub.path[-1]]))
            expected.append(sub.path[-1])
        for option in cmd.options:
            for name in option.names:
                lines.append(f"{cmd.name} {name}")
                expected.append(name)
    for line, name, reply in zip(lines, expected, bash_complete(*lines)):
        assert name in reply, f"{line!r}: got {reply}"


@needs("bash")
def test_bash_completes_config_paths(tmp_path):
    (tmp_path / "work.toml").write_text("", encoding="utf-8")
    prefix = str(tmp_path / "wo")
    assert bash_complete(f"jobpoll --config {prefix}") == [[str(tmp_path / "work.toml")]]


@needs("bash")
def test_bash_completes_every_state_and_field(cli):
    from jobpoll.model import JOB_FIELDS, STATE_NAMES

    assert bash_complete("jobpoll list --state ", "jobpoll status --field ") == [
        list(STATE_NAMES), [*JOB_FIELDS, "ref"],
    ]


# ----------------------------------------------------------------- zsh


@needs("zsh")
def test_zsh_script_parses():
    result = subprocess.run(["zsh", "-n", str(ZSH_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _pty_session(argv: list[str], env: dict[str, str]):
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the shell
        os.execvpe(argv[0], argv, env)
    return pid, fd


def _read_until(fd: int, wanted: str, timeout: float) -> str:
    out, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline and wanted not in out:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    return out


@needs("zsh")
@pytest.mark.parametrize(
    "typed, completed",
    [
        ("jobpoll wa", "jobpoll watch "),
        ("jobpoll status --ex", "jobpoll status --exit-status "),
        ("jobpoll status -p mu", "jobpoll status -p muvi "),
        ("jobpoll watch pic", "jobpoll watch pictory:"),
        ("jobpoll list --state ru", "jobpoll list --state running "),
    ],
)
def test_zsh_completes_at_a_terminal(tmp_path, typed, completed):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "ZDOTDIR": str(tmp_path),
    }
    (tmp_path / ".zshrc").write_text(
        f"fpath=({shlex.quote(str(ZSH_SCRIPT.parent))} $fpath)\n"
        "autoload -Uz compinit && compinit -u -d ~/.zcompdump\n"
        "PS1='READY> '\n",
        encoding="utf-8",
    )
    pid, fd = _pty_session(["zsh", "-i"], env)
    try:
        assert "READY> " in _read_until(fd, "READY> ", 20)
        os.write(fd, typed.encode() + b"\t")
        screen = _read_until(fd, completed, 20)
        assert completed in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\x07\r]", "", screen), screen
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


# ----------------------------------------------------------------- fish


@needs("fish")
def test_fish_script_parses():
    result = subprocess.run(["fish", "--no-execute", str(FISH_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs("fish")
def test_fish_completes_commands_options_providers_and_prefixes(tmp_path):
    cases = [
        ("jobpoll wa", ["watch"]),
        ("jobpoll status --ex", ["--exit-status"]),
        ("jobpoll status -p mu", ["muvi"]),
        ("jobpoll watch pic", ["pictory:"]),
        ("jobpoll watch pictory:", []),
        ("jobpoll list --state ru", ["running"]),
        ("jobpoll config set-key re", ["reelbot", "replicate"]),
    ]
    script = [f"source {shlex.quote(str(FISH_SCRIPT))}"]
    for line, _ in cases:
        script += [f"complete -C {shlex.quote(line)}", "echo @@"]
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    result = subprocess.run(
        ["fish", "-c", "\n".join(script)], capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    chunks = result.stdout.split("@@\n")[:-1]
    for (line, expected), chunk in zip(cases, chunks):
        words = [row.split("\t")[0] for row in chunk.splitlines()]
        assert words == expected, f"{line!r}: got {words}"


# ----------------------------------------------------------------- man


@needs("groff")
def test_man_page_has_no_groff_warnings():
    result = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(MAN_PAGE)], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""


def rendered_man_page() -> str:
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="100")
    env.pop("MAN_KEEP_FORMATTING", None)
    result = subprocess.run(
        ["man", "-l", str(MAN_PAGE)], capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text = re.sub(r".\x08", "", result.stdout)  # overstrike bold/underline
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text.translate({0x2010: "-", 0x2011: "-", 0x2212: "-"})


@needs("man")
@needs("groff")
def test_man_renders_every_command_and_option(cli):
    text = rendered_man_page()
    for cmd in cli.commands():
        assert cmd.name in text, cmd.name
        for option in cmd.options:
            for name in option.names:
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{cmd.name} {name}"


@needs("man")
@needs("groff")
def test_man_renders_the_reference_sections():
    from jobpoll.exits import ExitCode
    from jobpoll.model import JOB_FIELDS

    text = rendered_man_page()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "JOB REFERENCES", "OUTPUT",
                    "JSON JOB FIELDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), section
    exit_status = text.split("\nEXIT STATUS\n")[1].split("\nENVIRONMENT\n")[0]
    for code in ExitCode:
        assert re.search(rf"^\s+{int(code)}\s", exit_status, re.M), f"exit status {int(code)}"
    fields = text.split("\nJSON JOB FIELDS\n")[1].split("\nEXIT STATUS\n")[0]
    for name in JOB_FIELDS:
        assert name in fields, name
    for variable in ("JOBPOLL_CONFIG", "JOBPOLL_PROVIDER_API_KEY", "JOBPOLL_PROVIDER_BASE_URL",
                     "JOBPOLL_HISTORY", "JOBPOLL_DEBUG", "NO_COLOR"):
        assert variable in text, variable


# ----------------------------------------------------------------- README


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second():
    quick = readme().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = code_blocks(quick)
    assert blocks == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/jobpoll demo",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest -q -n 6",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert blocks[1] in ci, ".ci/run must run the README's test command, character for character"


def test_readme_covers_every_command_field_and_exit_code(cli):
    from jobpoll.exits import ExitCode
    from jobpoll.model import JOB_FIELDS

    text = readme()
    for cmd in cli.root.subcommands:
        assert f"### `jobpoll {cmd.path[0]}" in text or f"`jobpoll {cmd.path[0]}`" in text, cmd.name

    def first_column(section: str) -> str:
        body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
        return " ".join(re.findall(r"^\| ([^|]+) \|", body, re.M))

    fields = first_column("JSON job fields")
    for name in JOB_FIELDS:
        assert f"`{name}`" in fields, name
    codes = first_column("Exit codes").split()
    assert codes[1:] == [str(int(code)) for code in ExitCode]  # [0] is the heading
    assert "\n## Performance\n" in text


def assert_options_exist(cli, text: str) -> None:
    """Every --option shown after `jobpoll CMD` in text is an option of CMD (or global)."""
    known = {cmd.path: {n for o in cmd.options for n in o.names} for cmd in cli.commands()}
    for line in re.findall(r"jobpoll [^\n|;&)`]*", text):
        words = shlex.split(line.replace("'", " ").replace('"', " "))[1:]
        path: tuple[str, ...] = ()
        for word in words:
            if not word.startswith("-") and path + (word,) in known:
                path += (word,)
            elif re.fullmatch(r"--[a-z][a-z-]*", word.split("=")[0]):
                name = word.split("=")[0]
                assert name in known[path], f"{line!r}: {name} is not an option of {' '.join(('jobpoll',) + path)}"


def test_readme_examples_use_real_options(cli):
    assert_options_exist(cli, readme())


@needs("man")
@needs("groff")
def test_man_examples_use_real_options(cli):
    assert_options_exist(cli, rendered_man_page().split("\nEXAMPLES\n")[1])
