#!/usr/bin/env python3
"""Generate jobpoll's shell completions and man page from the Typer app.

    python scripts/gen_docs.py            # rewrite completions/* and man/jobpoll.1
    python scripts/gen_docs.py --check    # exit 1, naming the files, if one is stale
    python scripts/gen_docs.py --out DIR  # write the files under DIR instead

Every command, option and argument comes from walking `typer.main.get_command(app)`;
provider names, states and job fields come from the code (jobpoll.providers.NAMES,
jobpoll.model.STATE_NAMES, jobpoll.model.JOB_FIELDS), so none of them can drift.
The man page's prose (job references, output, fields, exit status, environment,
files, examples) is hand-written in man/jobpoll.1.in around the generated parts.

Why not Typer's own completion: its scripts are stubs that run jobpoll (a Python
start-up, ~0.1 s) on every <TAB> through `_JOBPOLL_COMPLETE`, need the app to
declare completion callbacks for provider names and states, and are switched off
here (`add_completion=False`). Click-based generators (click-man and the like)
check `isinstance(x, click.Command)` and do not see the commands of Typer's
private Click copy. The scripts below are static: no Python runs on <TAB>.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
PROG = "jobpoll"
MAN_TEMPLATE = "man/jobpoll.1.in"
OUTPUTS = (
    "completions/jobpoll.bash",
    "completions/_jobpoll",
    "completions/jobpoll.fish",
    "man/jobpoll.1",
)

# Value completion by option name or argument name. The word lists themselves are
# imported from the code in `value_words()`.
OPTION_VALUES = {"--provider": "provider", "--state": "state", "--field": "field", "--config": "file"}
ARGUMENT_VALUES = {"jobs": "job", "job": "job", "provider": "provider"}
# Arguments whose name means something only under one command.
ARGUMENT_VALUES_AT = {(("config",), "name"): "setting"}
# Commands whose --field accepts more than the job fields (`list` adds "source").
FIELD_EXTRAS_AT = {("list",)}


# --------------------------------------------------------------------------- model


@dataclass
class Param:
    names: list[str]  # option names ("-p", "--provider"); empty for an argument
    metavar: str  # the value's name: PROVIDER, NAME, JOB...
    help: str  # as in --help, with Click's extras ([env var: ...], [required])
    doc: str  # the help text alone
    takes_value: bool
    values: str | None = None  # a key of Cli.words, "file", "job", or None: nothing to offer
    repeat: bool = False  # an option given several times / an argument taking many values

    @property
    def is_option(self) -> bool:
        return bool(self.names)

    @property
    def summary(self) -> str:
        return summary(self.doc)


@dataclass
class Cmd:
    path: tuple[str, ...]  # () for jobpoll itself, ("config", "set-key")
    help: str
    usage: str  # "[OPTIONS] [JOB...]"
    params: list[Param]
    subcommands: list["Cmd"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join((PROG, *self.path))

    @property
    def options(self) -> list[Param]:
        return [p for p in self.params if p.is_option]

    @property
    def arguments(self) -> list[Param]:
        return [p for p in self.params if not p.is_option]

    def walk(self) -> Iterable["Cmd"]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()

    @property
    def summary(self) -> str:
        return summary(self.help)


@dataclass
class Cli:
    root: Cmd
    words: dict[str, list[str]]  # value kind -> the words to offer
    version: str

    def commands(self) -> list[Cmd]:
        return list(self.root.walk())


def value_words() -> dict[str, list[str]]:
    from jobpoll.model import JOB_FIELDS, STATE_NAMES
    from jobpoll.providers import NAMES

    try:
        from jobpoll.render import EXTRA_FIELDS
    except ImportError:
        EXTRA_FIELDS = ()
    fields = [*JOB_FIELDS, "ref"]
    settings = ["default_provider"] + [f"{p}.{s}" for p in NAMES for s in ("base_url", "interval")]
    return {
        "provider": list(NAMES),
        "state": list(STATE_NAMES),
        "field": fields,
        "list_field": list(dict.fromkeys([*fields, *EXTRA_FIELDS])),
        "setting": settings,
    }


def paragraphs(text: str | None) -> list[str]:
    """Click help text as paragraphs: up to a \\f, dedented, split on blank lines."""
    if not text:
        return []
    text = inspect.cleandoc(text.split("\f")[0])
    return [p.replace("\b\n", "").strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def summary(text: str | None, width: int = 72) -> str:
    """The help's first sentence on one line, for completion menus; when that is
    long, its part before a colon or semicolon ("List jobs, newest first")."""
    parts = paragraphs(text)
    first = " ".join(parts[0].split()) if parts else ""
    sentence = _cut(first, ".")
    return sentence if len(sentence) <= width else _cut(sentence, ":;")


def _cut(text: str, marks: str) -> str:
    """text up to the first of marks that ends a phrase outside parentheses."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in marks and text[i + 1 : i + 2] in ("", " "):
            return text[:i]
    return text.rstrip(".")


def describe(app: Any) -> Cli:
    """The command tree of a Typer app, with what each value can be completed with."""
    import typer

    from jobpoll import __version__

    words = value_words()
    command = typer.main.get_command(app)
    ctx = command.context_class(command, info_name=PROG, **command.context_settings)
    root = _describe_command(command, ctx, (), words)
    return Cli(root=root, words=words, version=__version__)


def _describe_command(command: Any, ctx: Any, path: tuple[str, ...], words: dict) -> Cmd:
    params = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        help_text = record[1] if record else ""
        if param.param_type_name == "option":
            params.append(_describe_option(param, ctx, path, help_text, words))
        else:
            params.append(_describe_argument(param, ctx, path, help_text, words))
    cmd = Cmd(
        path=path,
        help=command.help or "",
        usage=" ".join(command.collect_usage_pieces(ctx)),
        params=params,
    )
    if hasattr(command, "commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = sub.context_class(sub, info_name=name, parent=ctx, **sub.context_settings)
            cmd.subcommands.append(_describe_command(sub, sub_ctx, (*path, name), words))
    return cmd


def _choice_values(param: Any, path: tuple[str, ...], words: dict) -> str | None:
    kind = getattr(param.type, "name", "")
    if kind == "choice":
        key = "_".join(("choice", *path, param.name)).replace("-", "_")
        words[key] = [str(c) for c in param.type.choices]
        return key
    if kind in ("path", "filename"):
        return "file"
    return None


def _describe_option(param: Any, ctx: Any, path: tuple, help_text: str, words: dict) -> Param:
    takes_value = not (param.is_flag or param.count)
    values = None
    if takes_value:
        values = _choice_values(param, path, words)
        for name in param.opts:
            values = values or OPTION_VALUES.get(name)
        if values == "field" and path in FIELD_EXTRAS_AT:
            values = "list_field"
    metavar = ""
    if takes_value:
        metavar = param.metavar or (
            param.make_metavar(ctx) if values and values.startswith("choice_") else param.name.upper()
        )
    return Param(
        # Short names first, as --help shows them. Click keeps the help option's
        # names in a set, so their order changes from run to run otherwise.
        names=sorted(param.opts, key=_dashes) + sorted(param.secondary_opts, key=_dashes),
        metavar=metavar,
        help=help_text,
        doc=param.help or "",
        takes_value=takes_value,
        values=values,
        repeat=bool(param.multiple),
    )


def _dashes(name: str) -> int:
    return len(name) - len(name.lstrip("-/"))


def _describe_argument(param: Any, ctx: Any, path: tuple, help_text: str, words: dict) -> Param:
    values = _choice_values(param, path, words)
    if values is None:
        values = ARGUMENT_VALUES_AT.get((path[:1], param.name)) or ARGUMENT_VALUES.get(param.name)
    metavar = param.metavar or param.name.upper()
    return Param(
        names=[],
        metavar=metavar,
        help=help_text,
        doc=param.help or "",
        takes_value=True,
        values=values,
        repeat=param.nargs != 1,
    )


# --------------------------------------------------------------------------- bash


def _sh_words(words: Iterable[str]) -> str:
    """Words as one quoted shell word."""
    return shlex.quote(" ".join(words))


def _case_label(text: str) -> str:
    return '"' + text + '"'


def bash_script(cli: Cli) -> str:
    commands = cli.commands()
    subs = [f"        {_case_label(c.name)}) echo {_sh_words(s.path[-1] for s in c.subcommands)} ;;"
            for c in commands if c.subcommands]
    opts = [f"        {_case_label(c.name)}) echo {_sh_words(n for o in c.options for n in o.names)} ;;"
            for c in commands]
    kinds, args = [], []
    for c in commands:
        for o in c.options:
            if o.takes_value:
                labels = "|".join(_case_label(f"{c.name} {n}") for n in o.names)
                kinds.append(f"        {labels}) echo {o.values or 'none'} ;;")
        for i, a in enumerate(c.arguments):
            if not a.values:
                continue
            label = _case_label(f"{c.name} ") + "*" if a.repeat else _case_label(f"{c.name} {i}")
            args.append(f"        {label}) echo {a.values} ;;")
    values = []
    for kind, ws in cli.words.items():
        values.append(f"        {_case_label(kind)}) words={_sh_words(ws)} ;;")
    providers = " ".join(f"{p}:" for p in cli.words["provider"])
    return BASH.format(
        prog=PROG,
        subcommands="\n".join(subs),
        options="\n".join(opts),
        option_values="\n".join(kinds),
        argument_values="\n".join(args),
        words="\n".join(values),
        job_prefixes=providers,
    )


BASH = """\
# bash completion for {prog}. Generated by scripts/gen_docs.py from the Typer app: do not edit.
# Install: source this file from ~/.bashrc, or copy it to
# ~/.local/share/bash-completion/completions/{prog} (bash-completion loads it on demand).

# The subcommands of a command ("jobpoll", "jobpoll config").
__{prog}_subcommands() {{
    case $1 in
{subcommands}
    esac
}}

# The options of a command.
__{prog}_options() {{
    case $1 in
{options}
    esac
}}

# What the value of COMMAND's OPTION is completed with; nothing when OPTION is a flag.
__{prog}_option_values() {{
    case "$1 $2" in
{option_values}
    esac
}}

# What COMMAND's Nth argument (from 0) is completed with.
__{prog}_argument_values() {{
    case "$1 $2" in
{argument_values}
    esac
}}

# Fill COMPREPLY with the values of a kind that match $2.
__{prog}_complete_values() {{
    local words=
    case $1 in
{words}
        file)
            compopt -o filenames 2>/dev/null  # bash 4+: mark directories with a slash
            COMPREPLY=($(compgen -f -- "$2"))
            return ;;
        job)
            # A job is PROVIDER:ID; offer the prefixes, the IDs are the user's.
            [[ $2 == *:* ]] && return
            COMPREPLY=($(compgen -W "{job_prefixes}" -- "$2"))
            compopt -o nospace 2>/dev/null  # bash 4+: no space after "pictory:"
            return ;;
        *) return ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$2"))
}}

_{prog}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} command={prog} pending= nargs=0 dashdash= i w
    COMPREPLY=()
    # bash splits words at ':' and '=' (COMP_WORDBREAKS): PROVIDER:ID comes as
    # "PROVIDER" ":" "ID", --opt=value as "--opt" "=" "value".
    if [[ $cur == : ]] || [[ $COMP_CWORD -gt 1 && ${{COMP_WORDS[COMP_CWORD-1]}} == : ]]; then
        return 0  # completing a job ID: jobpoll cannot know them
    fi
    [[ $cur == = ]] && cur=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        if [[ -z $dashdash && $w == -?* ]]; then
            if [[ $w == -- ]]; then
                dashdash=1
            elif [[ -n $(__{prog}_option_values "$command" "$w") ]]; then
                # The option's value is the next word, or the one after an "=".
                [[ ${{COMP_WORDS[i+1]}} == = ]] && ((i++))
                if ((i + 1 >= COMP_CWORD)); then
                    pending=$w
                fi
                ((i++))
            fi
        elif [[ $w == : ]]; then
            ((i++))  # the ID of a PROVIDER:ID
        elif [[ -z $dashdash && " $(__{prog}_subcommands "$command") " == *" $w "* ]]; then
            command="$command $w"
            nargs=0
        else
            nargs=$((nargs + 1))
        fi
    done
    if [[ -n $pending ]]; then
        __{prog}_complete_values "$(__{prog}_option_values "$command" "$pending")" "$cur"
    elif [[ -z $dashdash && $cur == --*=* ]]; then
        # --opt=value where '=' is not a word break: complete the value, keep the prefix.
        __{prog}_complete_values "$(__{prog}_option_values "$command" "${{cur%%=*}}")" "${{cur#*=}}"
        COMPREPLY=("${{COMPREPLY[@]/#/${{cur%%=*}}=}}")
    elif [[ -z $dashdash && $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(__{prog}_options "$command")" -- "$cur"))
    elif [[ -n $(__{prog}_subcommands "$command") ]]; then
        COMPREPLY=($(compgen -W "$(__{prog}_subcommands "$command")" -- "$cur"))
    else
        __{prog}_complete_values "$(__{prog}_argument_values "$command" "$nargs")" "$cur"
    fi
    return 0
}}

complete -F _{prog} {prog}
"""


# --------------------------------------------------------------------------- zsh


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_describe(text: str) -> str:
    """Text inside an _arguments [description]."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _zsh_action(cli: Cli, values: str | None) -> str:
    if values is None:
        return " "
    if values == "file":
        return "_files"
    if values == "job":
        return f"_{PROG}_job"
    words = " ".join(w.replace(":", "\\:") for w in cli.words[values])
    return f"({words})"


def _zsh_message(metavar: str) -> str:
    return metavar.replace(":", "\\:") or "value"


def _zsh_function(cmd: Cmd) -> str:
    return "_" + "_".join([PROG, *cmd.path]).replace("-", "_")


def _zsh_command(cli: Cli, cmd: Cmd) -> str:
    specs = []
    for o in cmd.options:
        desc = _zsh_describe(o.summary)
        exclusive = "*" if o.repeat else "(" + " ".join(o.names) + ")"
        for name in o.names:
            spec = exclusive + name
            if o.takes_value:
                spec += ("=" if name.startswith("--") else "+")
                spec += f"[{desc}]:{_zsh_message(o.metavar)}:{_zsh_action(cli, o.values)}"
            else:
                spec += f"[{desc}]"
            specs.append(_zsh_quote(spec))
    if cmd.subcommands:
        specs += ["': :->command'", "'*:: :->argument'"]
    else:
        for i, a in enumerate(cmd.arguments, 1):
            position = "*" if a.repeat else str(i)
            specs.append(_zsh_quote(f"{position}:{_zsh_message(a.metavar)}:{_zsh_action(cli, a.values)}"))
    lines = [f"{_zsh_function(cmd)}() {{"]
    if cmd.subcommands:
        lines += [
            "    local curcontext=$curcontext state state_descr line ret=1",
            "    typeset -A opt_args",
        ]
        lines.append("    _arguments -C -s -S : \\")
    else:
        lines.append("    _arguments -s -S : \\")
    lines += [f"        {s} \\" for s in specs]
    if cmd.subcommands:
        lines[-1] = lines[-1].removesuffix(" \\") + " && ret=0"
        entries = " ".join(
            _zsh_quote(f"{s.path[-1]}:{s.summary}") for s in cmd.subcommands
        )
        lines += [
            "    case $state in",
            "        command)",
            f"            local -a commands=({entries})",
            f"            _describe -t commands {_zsh_quote(cmd.name + ' command')} commands && ret=0",
            "            ;;",
            "        argument)",
            f"            curcontext=${{curcontext%:*:*}}:{'-'.join([PROG, *cmd.path])}-$words[1]:",
            "            case $words[1] in",
        ]
        for s in cmd.subcommands:
            lines.append(f"                {s.path[-1]}) {_zsh_function(s)} && ret=0 ;;")
        lines += [
            "                *) _message \"unknown command: $words[1]\" ;;",
            "            esac",
            "            ;;",
            "    esac",
            "    return ret",
        ]
    else:
        lines[-1] = lines[-1].removesuffix(" \\")
    lines.append("}")
    return "\n".join(lines)


def zsh_script(cli: Cli) -> str:
    prefixes = " ".join(f"{p}:" for p in cli.words["provider"])
    parts = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG}. Generated by scripts/gen_docs.py from the Typer app: do not edit.",
        f"# Install: copy to a directory on $fpath as _{PROG} (e.g. ~/.zfunc, with",
        "# fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc).",
        "",
        "# A job is PROVIDER:ID: offer the prefixes, the IDs are the user's.",
        f"_{PROG}_job() {{",
        "    if [[ $PREFIX == *:* ]]; then",
        "        _message 'job ID'",
        "    else",
        f"        compadd -S '' -- {prefixes}",
        "    fi",
        "}",
    ]
    for cmd in reversed(cli.commands()):
        parts += ["", _zsh_command(cli, cmd)]
    parts += [
        "",
        'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then',
        f'    _{PROG} "$@"',
        "else",
        f"    compdef _{PROG} {PROG}",
        "fi",
        "",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def fish_script(cli: Cli) -> str:
    commands = cli.commands()
    paths = [c.name for c in commands if c.path]
    valued = [f"{c.name} {n}" for c in commands for o in c.options if o.takes_value for n in o.names]
    lines = [
        f"# fish completion for {PROG}. Generated by scripts/gen_docs.py from the Typer app: do not edit.",
        f"# Install: copy to ~/.config/fish/completions/{PROG}.fish",
        "",
        f"set -g __{PROG}_commands " + " ".join(_fish_quote(p) for p in paths),
        f"set -g __{PROG}_valued_options " + " ".join(_fish_quote(v) for v in valued),
        "",
        "# Prints the command being completed (\"jobpoll config\") and how many arguments it has.",
        f"function __{PROG}_state",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        f"    set -l command {PROG}",
        "    set -l nargs 0",
        "    set -l skip 0",
        "    set -l dashdash 0",
        "    for w in $words",
        "        if test $skip = 1",
        "            set skip 0",
        "        else if test $dashdash = 0; and test \"$w\" = --",
        "            set dashdash 1",
        "        else if test $dashdash = 0; and string match -q -- '-?*' $w",
        f"            contains -- \"$command $w\" $__{PROG}_valued_options; and set skip 1",
        f"        else if test $dashdash = 0; and contains -- \"$command $w\" $__{PROG}_commands",
        "            set command \"$command $w\"",
        "            set nargs 0",
        "        else",
        "            set nargs (math $nargs + 1)",
        "        end",
        "    end",
        "    echo $command",
        "    echo $nargs",
        "end",
        "",
        "# True when completing COMMAND (and its argument number N, from 0, if given).",
        f"function __{PROG}_at --argument-names command n",
        f"    set -l state (__{PROG}_state)",
        "    test \"$state[1]\" = \"$command\"; or return 1",
        "    test -z \"$n\"; or test \"$state[2]\" = \"$n\"",
        "end",
        "",
        "# A job is PROVIDER:ID: offer the prefixes, the IDs are the user's.",
        f"function __{PROG}_job",
        "    string match -q -- '*:*' (commandline -ct); and return",
        "    printf '%s\\tprovider\\n' " + " ".join(f"{p}:" for p in cli.words["provider"]),
        "end",
        "",
        f"complete -c {PROG} -f",
    ]

    def values(kind: str | None) -> str:
        if kind is None:
            return ""
        if kind == "job":
            return f" -a '(__{PROG}_job)'"
        return f" -a {_fish_quote(' '.join(cli.words[kind]))}"

    for cmd in commands:
        at = f"__{PROG}_at {_fish_quote(cmd.name)}"
        lines += ["", f"# {cmd.name}"]
        for s in cmd.subcommands:
            lines.append(
                f"complete -c {PROG} -n {_fish_quote(at + ' 0')} -a {_fish_quote(s.path[-1])} -d {_fish_quote(s.summary)}"
            )
        for o in cmd.options:
            names = ""
            for n in o.names:
                if n.startswith("--"):
                    names += f" -l {n[2:]}"
                elif len(n) == 2:
                    names += f" -s {n[1:]}"
                else:
                    names += f" -o {n[1:]}"
            if o.takes_value:
                names += " -r -F" if o.values == "file" else " -x" + values(o.values)
            lines.append(f"complete -c {PROG} -n {_fish_quote(at)}{names} -d {_fish_quote(o.summary)}")
        if not cmd.subcommands:
            for i, a in enumerate(cmd.arguments):
                if a.values is None:
                    continue
                cond = at if a.repeat else f"{at} {i}"
                extra = " -F" if a.values == "file" else values(a.values)
                what = a.metavar.removesuffix("...").lower()
                lines.append(f"complete -c {PROG} -n {_fish_quote(cond)}{extra} -d {_fish_quote(what)}")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- man


def _escape(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-")


def roff(text: str) -> str:
    """Plain text as roff: backslashes and minus signs escaped, no line starting a request."""
    return "\n".join(("\\&" + line if line[:1] in (".", "'") else line) for line in _escape(text).split("\n"))


def _prose(text: str) -> str:
    """Help text as roff on one line, `code` in bold."""
    return re.sub(r"`([^`]+)`", r"\\fB\1\\fR", roff(_one_line(text)))


def _bold(text: str) -> str:
    return f"\\fB{_escape(text)}\\fR"


def _italic(text: str) -> str:
    return f"\\fI{_escape(text)}\\fR"


def _usage(cmd: Cmd) -> str:
    """A usage line: the command bold, the metavariables italic, brackets plain."""
    parts = []
    for token in re.split(r"(\[|\]|\{|\}|\.\.\.|\s+)", cmd.usage):
        if not token:
            continue
        if token in ("[", "]", "...") or token.isspace():
            parts.append(_escape(token))
        elif token in ("{", "}"):
            continue  # Typer marks required arguments {name}; a man page writes them plain
        else:
            parts.append(_italic(token.upper() if token.islower() else token))
    return f"{_bold(cmd.name)} {''.join(parts)}".rstrip()


def _param_item(p: Param) -> list[str]:
    if p.is_option:
        head = ", ".join(_bold(n) for n in p.names)
        if p.takes_value:
            head += " " + _italic(p.metavar)
    else:
        head = _italic(p.metavar)
    return [".TP", head, _prose(p.help) if p.help.strip() else "\\&"]


def man_commands(cli: Cli) -> str:
    out = []
    for cmd in cli.commands():
        if not cmd.path:
            continue
        out += [f'.SS "{roff(cmd.name)}"', _usage(cmd)]
        for para in paragraphs(cmd.help):
            out += [".PP", _prose(para)]
        if cmd.subcommands:
            out += [".PP", "Subcommands: " + ", ".join(_bold(s.path[-1]) for s in cmd.subcommands) + "."]
        for p in cmd.params:
            out += _param_item(p)
    return "\n".join(out)


def man_global_options(cli: Cli) -> str:
    out = []
    for p in cli.root.options:
        out += _param_item(p)
    return "\n".join(out)


def man_synopsis(cli: Cli) -> str:
    lines = [_usage(cli.root)]
    for cmd in cli.commands()[1:]:
        if not cmd.subcommands:
            lines += [".br", _usage(cmd)]
    return "\n".join(lines)


def man_page(cli: Cli, template: str) -> str:
    header = (
        '.\\" Generated by scripts/gen_docs.py from the Typer app and man/jobpoll.1.in: do not edit.\n'
        '.\\" Change man/jobpoll.1.in or the help texts, then run scripts/gen_docs.py.\n'
    )
    replacements = {
        "@VERSION@": roff(cli.version),
        "@SYNOPSIS@": man_synopsis(cli),
        "@GLOBAL_OPTIONS@": man_global_options(cli),
        "@COMMANDS@": man_commands(cli),
        "@PROVIDERS@": ", ".join(_bold(p) for p in cli.words["provider"]),
        "@STATES@": ", ".join(_bold(s) for s in cli.words["state"]),
    }
    text = template
    for key, value in replacements.items():
        if key not in text:
            raise SystemExit(f"{MAN_TEMPLATE}: the placeholder {key} is missing")
        text = text.replace(key, value)
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise SystemExit(f"{MAN_TEMPLATE}: unknown placeholder {leftover[0]}")
    return header + text


# --------------------------------------------------------------------------- main


def load_app() -> Any:
    """jobpoll's whole Typer app, with every command registered."""
    import importlib.util

    if importlib.util.find_spec("jobpoll.app") is not None:  # the app is built on demand
        from jobpoll.app import build_app

        return build_app()
    from jobpoll.cli import app

    return app


def render_all(app: Any = None, template: str | None = None) -> dict[str, str]:
    """Every generated file's path (relative to the repository) and text."""
    if app is None:
        app = load_app()
    if template is None:
        template = (ROOT / MAN_TEMPLATE).read_text(encoding="utf-8")
    cli = describe(app)
    return {
        "completions/jobpoll.bash": bash_script(cli),
        "completions/_jobpoll": zsh_script(cli),
        "completions/jobpoll.fish": fish_script(cli),
        "man/jobpoll.1": man_page(cli, template),
    }


def stale(files: dict[str, str], root: Path = ROOT) -> list[str]:
    """The generated files whose committed copy under root differs (or is missing)."""
    out = []
    for rel, text in files.items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    parser.add_argument("--out", type=Path, default=ROOT, help="where to write (default: the repository)")
    args = parser.parse_args(argv)
    files = render_all()
    if args.check:
        outdated = stale(files, args.out)
        for rel in outdated:
            print(f"{rel} is stale: run scripts/gen_docs.py", file=sys.stderr)
        return 1 if outdated else 0
    for rel, text in files.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))  # document this checkout, whatever is installed
    sys.exit(main())
