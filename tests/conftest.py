"""Shared fixtures: one simulator per test session on 127.0.0.1, and a helper that
runs the real `jobpoll` command as a subprocess pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PYTHON_PROVIDERS = ("json2video", "pictory", "muvi", "reelbot")
DEFINED_PROVIDERS = ("shotstack", "creatomate", "replicate", "runway", "luma")  # built in as data
PROVIDER_NAMES = PYTHON_PROVIDERS + DEFINED_PROVIDERS
TEST_KEY = "sk-test-9f8e7d6c5b4a3210"  # distinctive, so a leak is easy to spot
FAST = ("-i", "0.2", "--max-interval", "1")  # watch intervals for tests: quick, still paced


def pytest_configure(config):
    """Byte-compile jobpoll once, before any test starts it. The tests run the real
    command in over a thousand subprocesses; with PYTHONDONTWRITEBYTECODE set (as on
    the build machines) and an editable install, each of them would otherwise compile
    every module from source again, which was about a third of the suite's CPU. Done
    by the controller only, before xdist's workers start.

    And the commands the tests start get SIGINT and SIGHUP as at a terminal, however
    the suite itself was started: a suite run as a shell's background job (`... &`)
    or under nohup inherits them ignored, and jobpoll keeps an ignored signal
    ignored, as it should. Tests that want one ignored say so themselves."""
    _signals_as_at_a_terminal()
    if hasattr(config, "workerinput"):
        return
    import compileall

    import jobpoll

    compileall.compile_dir(str(Path(jobpoll.__file__).parent), quiet=1)


def _signals_as_at_a_terminal() -> None:
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def pytest_collection_modifyitems(config, items):
    """Tests marked slow start first: under -n 6 a long wait begun early overlaps the
    rest of the run instead of trailing after it. A stable sort, so every xdist
    worker collects the same order. A slow mark must say why."""
    for item in items:
        mark = item.get_closest_marker("slow")
        if mark is not None and not mark.args:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.slow needs the reason it is slow")
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def sim():
    from jobpoll.simulator import Simulator

    simulator = Simulator(seed=1234)
    simulator.start()
    yield simulator
    simulator.stop()


# What the machine running the tests may have set (CI sets SSL_CERT_FILE globally)
# and a test must set itself if it wants it: trust stores and proxies.
NETWORK_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_env(tmp: Path) -> dict[str, str]:
    """The process environment without any JOBPOLL_* setting, trust store or proxy
    variable, with config, history and platform dirs inside `tmp` so no test
    touches the user's files. The config directory exists (jobpoll creates only
    its default one), the file does not. COLUMNS and LINES go too: a terminal's
    size comes from the terminal (pytest-xdist's workers set COLUMNS=80, which
    would shrink the tables the pty and tmux tests read)."""
    (tmp / "config").mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JOBPOLL_") and k not in ("NO_COLOR", "COLUMNS", "LINES")
           and k.upper() not in NETWORK_VARS}
    env.update(
        HOME=str(tmp),
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_STATE_HOME=str(tmp / "xdg-state"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        JOBPOLL_CONFIG=str(tmp / "config" / "config.toml"),
        JOBPOLL_HISTORY=str(tmp / "state" / "history.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def env(tmp_path, sim):
    """Every provider pointed at the simulator, each with a key."""
    environment = clean_env(tmp_path)
    for name in PROVIDER_NAMES:
        environment[f"JOBPOLL_{name.upper()}_BASE_URL"] = sim.url_for(name)
        environment[f"JOBPOLL_{name.upper()}_API_KEY"] = TEST_KEY
    return environment


@pytest.fixture
def api_env(monkeypatch, tmp_path, sim):
    """The test process itself (for tests of the Python API) pointed at the simulator, with its own config and history."""
    for name, value in clean_env(tmp_path).items():
        if name.startswith("JOBPOLL_"):
            monkeypatch.setenv(name, value)
    for name in PROVIDER_NAMES:
        monkeypatch.setenv(f"JOBPOLL_{name.upper()}_BASE_URL", sim.base_url)
        monkeypatch.setenv(f"JOBPOLL_{name.upper()}_API_KEY", TEST_KEY)
    return tmp_path


def run_cli(*args: str, env: dict[str, str], input: str | None = None, timeout: float = 120):
    """Run `python -m jobpoll ARGS` and return the CompletedProcess (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", "jobpoll", *args],
        env=env,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """`python -m jobpoll ARGS` in the background (text pipes, no stdin), for tests
    that act while it runs: read its lines, move the simulator's clock, signal it."""
    return subprocess.Popen([sys.executable, "-m", "jobpoll", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout: float = 60.0) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False).
    Generous by default: start-up alone can take seconds on a loaded machine."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_clean(result, *secrets: str) -> None:
    """No traceback, no secret anywhere in what the user sees."""
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        for secret in secrets or (TEST_KEY,):
            assert secret not in stream


@pytest.fixture(autouse=True)
def _no_network_env(monkeypatch):
    """In-process tests see no trust store or proxy setting of the machine's either."""
    for name in list(os.environ):
        if name.upper() in NETWORK_VARS:
            monkeypatch.delenv(name)
