"""Entry point: the one place that turns exceptions into a line on stderr and an
exit code. Nothing heavy is imported before the command is known: `--version`
answers without Typer, plainly written `status` and `watch` command lines run
without it too (fastpath.py), and any other command builds only itself (see app.py)."""

from __future__ import annotations

import os
import sys

# No `typing` here: importing it makes enough objects for six garbage collections,
# and main() holds those back first (collector.py).

# Global options that take a value, so the command name is found after them.
_VALUED_GLOBALS = ("--config",)
# Every global option: given after the command, the error says where it goes.
_GLOBALS = ("--config", "--no-color", "-v", "--verbose", "-q", "--quiet", "--version")


def command_name(argv: list[str]) -> str | None:
    """The command word of a command line, skipping global options."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _VALUED_GLOBALS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> None:
    """Run jobpoll; map every failure to one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    from jobpoll import collector

    collector.start_up()
    from jobpoll.stdio import guard_streams

    guard_streams()
    code = 0
    try:
        if args == ["--version"]:
            from jobpoll import __version__

            print(f"jobpoll {__version__}")
        else:
            try:
                _interrupt_on_signals()
                code = _run(args)
            except KeyboardInterrupt:  # a signal while an error was being reported
                code = 130
            _ignore_signals()  # the verdict is in: a late signal must not turn it into a traceback
        sys.stdout.flush()
    except BrokenPipeError:
        quiet = _quiet_broken_pipe()
        code = 130 if code == 130 else quiet
    except Exception as exc:  # only stdout's own failure (OutputError) is expected here
        from jobpoll.errors import OutputError

        if not isinstance(exc, OutputError):
            raise
        failed = _output_failed(exc)
        code = 130 if code == 130 else failed  # a hang-up took the terminal: interrupted still
    _settle_stderr()
    collector.exiting()
    if _signalled:
        _exit_interrupted(code)
    sys.exit(code)


def _run(args: list[str]) -> int:
    """The command's exit code, every failure mapped to one line on stderr."""
    from jobpoll.errors import JobpollError, OutputError

    try:
        from jobpoll.fastpath import parse

        invocation = parse(args)
        if invocation is None:
            code = _run_typer(args)
        else:  # status or watch, plainly written: no Typer (fastpath.py)
            try:
                code = invocation.run()
            # What Typer's main does with these (typer/core.py, _main), so that
            # both paths end alike.
            except KeyboardInterrupt:
                code = 130
            except EOFError:
                _say("")
                _say("jobpoll: interrupted")
                return 130
        if code == 130 and _signalled:  # Typer turned the KeyboardInterrupt into exit 130
            _say("jobpoll: interrupted")
        return code
    except OutputError as exc:
        if _signalled:  # a hang-up took the terminal: the interruption is the story
            _output_failed(exc)
            return 130
        return _output_failed(exc)
    except JobpollError as exc:
        _say(f"jobpoll: error: {exc.line()}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _say("jobpoll: interrupted")
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except SystemExit:
        # Typer turns a closed stdout into exit 1 and wraps sys.stdout to hush it.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return _quiet_broken_pipe()
        raise
    except Exception as exc:  # Typer's own: usage errors carry exit_code and format_message
        if _signalled:
            # A signal that landed mid-import leaves a module half made, and the
            # next import of it fails: the interruption is the story, not that.
            _say("jobpoll: interrupted")
            return 130
        return _typer_error(exc)


def _run_typer(args: list[str]) -> int:
    from jobpoll.app import COMMANDS, build_app

    name = command_name(args)
    app = build_app(name if name in COMMANDS else None)
    result = app(args=args, prog_name="jobpoll", standalone_mode=False)
    return result if isinstance(result, int) else 0


_signalled = False


def _interrupt(signum: int, frame: object) -> None:
    global _signalled
    _signalled = True
    _hush_threads()
    raise KeyboardInterrupt


def _hush_threads() -> None:
    """The command is ending: a worker thread whose connection is closed under it
    (status's lookups) must not print a traceback on its way out."""
    import threading

    threading.excepthook = lambda args: None


def _ending_signals() -> tuple:
    """SIGINT (Ctrl-C), SIGTERM (CI systems and `timeout` cancelling) and SIGHUP
    (a closed terminal, a dropped SSH session) all end a command the same way,
    except one that jobpoll was started with set to be ignored: `nohup` ignores
    SIGHUP and a shell script's background job SIGINT, and taking them back would
    end the very watch the user protected."""
    import signal

    return tuple(sig for sig in (getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                                 if hasattr(signal, name))
                 if signal.getsignal(sig) is not signal.SIG_IGN)


def _interrupt_on_signals() -> None:
    """SIGTERM and SIGHUP end any command as Ctrl-C does: a KeyboardInterrupt,
    which the commands clean up after (a config temp file removed, a history
    transaction rolled back) and main reports in one line, exit 130. `watch`
    replaces these with its engine's own while it polls."""
    import signal

    for sig in _ending_signals():
        try:
            signal.signal(sig, _interrupt)
        except (ValueError, OSError):  # not the main thread
            pass


def _ignore_signals() -> None:
    import signal

    for sig in _ending_signals():
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


def _typer_error(exc: Exception) -> int:
    kind = type(exc).__name__
    if kind == "Abort":  # Ctrl-C at a prompt
        _say("jobpoll: interrupted")
        return 130
    if kind == "NoArgsIsHelpError":  # bare `jobpoll` or `jobpoll config`
        _say(exc.format_message())  # type: ignore[attr-defined]
        return 2
    if kind == "NoSuchOption" and getattr(exc, "option_name", None) in _GLOBALS:
        _say(f"jobpoll: error: {_misplaced_global(exc)}")
        return 2
    if hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
        _error_line(f"{exc.format_message()}{_help_hint(exc)}")
        return int(exc.exit_code)
    if os.environ.get("JOBPOLL_DEBUG"):
        raise exc
    _error_line(f"unexpected {type(exc).__name__}: {exc} "
                "(set JOBPOLL_DEBUG=1 for details; please report it)")
    return 1


def _error_line(text: str) -> None:
    """One inert line of at most SPEC's 1,000 characters: usage errors echo what
    was typed, and that may be long or carry escapes."""
    from jobpoll.errors import clip_line, inert

    _say(clip_line(f"jobpoll: error: {inert(text)}"))


def _misplaced_global(exc: Exception) -> str:
    """A global option given after the command (`jobpoll status -q ...`): say
    where it goes rather than that it does not exist."""
    option = getattr(exc, "option_name")
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "jobpoll COMMAND"
    command = path.split(" ", 1)[1] if " " in path else "COMMAND"
    return (f"{option} is a global option: it goes before the command, "
            f"as in 'jobpoll {option}{' PATH' if option == '--config' else ''} {command} ...'")


def _help_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return f" (see '{path} --help')" if path else ""


def _say(line: str) -> None:
    """A line on stderr; a terminal that hung up (EIO) cannot take it, and that
    must not become a traceback of its own."""
    try:
        print(line, file=sys.stderr)
    except OSError:
        pass


def _settle_stderr() -> None:
    """Flush stderr now; if it cannot take what is left (a terminal that hung up),
    drop that, so the interpreter's exit does not fail on it and change the code."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        from jobpoll.stdio import silence

        silence(2)


def _exit_interrupted(code: int) -> None:
    """Exit with `code` at once (main has flushed stdout and settled stderr). A
    signal that lands while Python runs source text through exec() (dataclasses
    make their methods so, while jobpoll's modules load) leaves CPython's own mark
    that an interrupt went unhandled, though jobpoll caught it: at exit the
    interpreter would then kill itself with SIGINT, whatever the signal was and
    whatever code jobpoll chose. The command has cleaned up after itself by now;
    only the interpreter's teardown is skipped."""
    import os

    os._exit(code)


_output_said = False


def _output_failed(exc: Exception) -> int:
    """Results could not be written to stdout: said once, exit 74; what is still
    buffered for stdout is dropped, so the interpreter's exit does not fail again."""
    global _output_said
    from jobpoll.stdio import silence_stdout

    if not _output_said:
        _output_said = True
        _say(f"jobpoll: error: {exc.line()}")  # type: ignore[attr-defined]
    silence_stdout()
    return 74


def _quiet_broken_pipe() -> int:
    """The reader went away (`| head -1`): stop quietly, as a pipe user expects."""
    from jobpoll.stdio import silence_stdout

    silence_stdout()
    return 0


def __getattr__(name: str) -> object:
    # `from jobpoll.cli import app`: the whole app, for docs and completions.
    if name == "app":
        from jobpoll.app import build_app

        return build_app()
    raise AttributeError(name)
