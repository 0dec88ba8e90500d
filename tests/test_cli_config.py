"""`jobpoll config ...` and `jobpoll providers`, run as the real command."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import PROVIDER_NAMES, assert_clean, clean_env, run_cli

KEY = "sk-cli-5a4b3c2d1e0f9988"  # distinctive, so a leak is easy to spot
OTHER_KEY = "sk-cli-other-77665544332211"


@pytest.fixture
def env(tmp_path):
    """A clean environment whose JOBPOLL_CONFIG points at a file not created yet
    (in a directory not created yet)."""
    return clean_env(tmp_path)


def cfg_file(env) -> Path:
    return Path(env["JOBPOLL_CONFIG"])


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_config(env, text: str, mode: int = 0o600) -> Path:
    path = cfg_file(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(mode)
    return path


def ok(*args: str, env, input: str | None = None, secrets=(KEY, OTHER_KEY)):
    result = run_cli(*args, env=env, input=input)
    assert result.returncode == 0, result.stderr
    assert_clean(result, *secrets)
    return result


def usage_error(*args: str, env, input: str | None = None):
    result = run_cli(*args, env=env, input=input)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert_clean(result, KEY, OTHER_KEY)
    assert result.stderr.startswith("jobpoll: error: ")
    return result


# ---- path, set-key, unset-key --------------------------------------------------------


def test_path_prints_the_config_path(env, tmp_path):
    assert ok("config", "path", env=env).stdout == f"{cfg_file(env)}\n"
    other = tmp_path / "other.toml"
    assert ok("--config", str(other), "config", "path", env=env).stdout == f"{other}\n"


def test_set_key_from_stdin_writes_a_private_file(env):
    result = ok("config", "set-key", "muvi", env=env, input=f"  {KEY}  \n")
    path = cfg_file(env)
    assert result.stdout == ""
    assert result.stderr == f"jobpoll: saved the muvi key (****9988) in {path}\n"
    assert mode_of(path) == 0o600
    assert tomllib.loads(path.read_text()) == {"providers": {"muvi": {"api_key": KEY}}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]  # no lock file left


def test_set_key_reads_only_the_first_line(env):
    ok("config", "set-key", "reelbot", env=env, input=f"{KEY}\nsecond line\n")
    assert tomllib.loads(cfg_file(env).read_text())["providers"]["reelbot"]["api_key"] == KEY


def test_set_key_with_value_option_and_quiet(env):
    result = ok("-q", "config", "set-key", "pictory", "--value", KEY, env=env)
    assert result.stderr == ""
    assert tomllib.loads(cfg_file(env).read_text())["providers"]["pictory"]["api_key"] == KEY


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals")
def test_set_key_at_a_terminal_prompts_without_echo(env):
    import pty
    import select

    # stdin and stderr on a pseudo-terminal; a new session without a controlling
    # terminal, so getpass falls back to the pty on stdin instead of the runner's /dev/tty.
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobpoll", "config", "set-key", "muvi"],
        env=env, stdin=slave, stderr=slave, stdout=subprocess.PIPE, start_new_session=True,
    )
    os.close(slave)

    def read_master(until: bytes | None) -> bytes:
        seen = b""
        while until is None or until not in seen:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        return seen

    # getpass flushes pending input when it turns echo off: type after the prompt.
    terminal = read_master(b"(input hidden): ")
    assert b"API key for muvi" in terminal
    os.write(master, f"{KEY}\n".encode())
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == 0, terminal
    terminal += read_master(None)
    os.close(master)
    proc.stdout.close()
    assert KEY.encode() not in out + terminal
    assert b"saved the muvi key (****9988)" in terminal
    assert tomllib.loads(cfg_file(env).read_text())["providers"]["muvi"]["api_key"] == KEY


def test_set_key_with_empty_input_is_a_usage_error(env):
    result = usage_error("config", "set-key", "muvi", env=env, input="\n")
    assert "no key given for muvi" in result.stderr
    assert not cfg_file(env).exists()


def test_set_key_unknown_provider(env):
    result = usage_error("config", "set-key", "nosuch", env=env, input=f"{KEY}\n")
    assert "unknown provider 'nosuch'" in result.stderr
    for name in PROVIDER_NAMES:
        assert name in result.stderr
    assert not cfg_file(env).exists()


def test_set_key_keeps_other_settings(env):
    ok("config", "set", "default_provider", "muvi", env=env)
    ok("config", "set", "muvi.interval", "90s", env=env)
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    ok("config", "set-key", "json2video", env=env, input=f"{OTHER_KEY}\n")
    assert tomllib.loads(cfg_file(env).read_text()) == {
        "default_provider": "muvi",
        "providers": {"muvi": {"interval": "90s", "api_key": KEY}, "json2video": {"api_key": OTHER_KEY}},
    }


def test_set_key_notes_an_overriding_environment_variable(env):
    env["JOBPOLL_MUVI_API_KEY"] = OTHER_KEY
    result = ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    assert "JOBPOLL_MUVI_API_KEY is set in the environment and takes precedence" in result.stderr


def test_unset_key(env):
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    ok("config", "set-key", "reelbot", env=env, input=f"{OTHER_KEY}\n")
    result = ok("config", "unset-key", "muvi", env=env)
    assert result.stderr == f"jobpoll: removed the muvi key from {cfg_file(env)}\n"
    assert tomllib.loads(cfg_file(env).read_text()) == {"providers": {"reelbot": {"api_key": OTHER_KEY}}}
    assert mode_of(cfg_file(env)) == 0o600
    again = ok("config", "unset-key", "muvi", env=env)
    assert "nothing to remove" in again.stderr
    shown = json.loads(ok("config", "show", "--json", env=env).stdout)
    assert shown["providers"]["muvi"]["key_source"] is None


def test_unset_key_without_a_file_creates_nothing(env):
    result = ok("config", "unset-key", "muvi", env=env)
    assert "nothing to remove" in result.stderr
    assert list(cfg_file(env).parent.iterdir()) == []


def test_unset_key_unknown_provider(env):
    usage_error("config", "unset-key", "nosuch", env=env)


# ---- show, providers ---------------------------------------------------------------


def test_show_masks_the_key(env):
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    result = ok("config", "show", env=env)
    # Aligned columns: a name, a value, where it comes from.
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    assert rows[0] == ["file", str(cfg_file(env))]
    assert rows[1] == ["default_provider", "(not set)"]
    assert ["muvi.api_key", "****9988", "file"] in rows
    assert ["reelbot.api_key", "(not set)"] in rows
    assert ["pictory.interval", "10s", "default"] in rows
    assert ["muvi.base_url", "https://api.muvi.video", "default"] in rows
    assert len(rows) == 2 + 3 * len(PROVIDER_NAMES)
    assert KEY[-5:] not in result.stdout  # never more than the last 4 characters


def test_show_json(env):
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    ok("config", "set", "pictory.interval", "1m30s", env=env)
    result = ok("config", "show", "--json", env=env)
    doc = json.loads(result.stdout)
    assert doc["path"] == str(cfg_file(env)) and doc["exists"] is True
    assert doc["default_provider"] is None
    assert list(doc["providers"]) == list(PROVIDER_NAMES)
    assert doc["providers"]["muvi"] == {
        "base_url": "https://api.muvi.video",
        "base_url_source": "default",
        "interval": 5.0,
        "interval_source": "default",
        "key": "****9988",
        "key_source": "file",
    }
    assert doc["providers"]["pictory"]["interval"] == 90.0
    assert doc["providers"]["pictory"]["interval_source"] == "file"
    assert doc["providers"]["reelbot"]["key"] is None


def test_show_without_a_file(env):
    doc = json.loads(ok("config", "show", "--json", env=env).stdout)
    assert doc["exists"] is False
    assert "(does not exist yet)" in ok("config", "show", env=env).stdout


def test_environment_beats_the_file_in_show_and_providers(env):
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    ok("config", "set", "muvi.base_url", "https://file.example", env=env)
    env["JOBPOLL_MUVI_API_KEY"] = OTHER_KEY
    env["JOBPOLL_MUVI_BASE_URL"] = "http://127.0.0.1:9/"

    rows = [json.loads(line) for line in ok("providers", "--json", env=env).stdout.splitlines()]
    assert [row["name"] for row in rows] == list(PROVIDER_NAMES)
    muvi = rows[PROVIDER_NAMES.index("muvi")]
    assert muvi == {
        "name": "muvi",
        "base_url": "http://127.0.0.1:9",
        "base_url_source": "env",
        "key_set": True,
        "key_source": "env",
        "interval": 5.0,
        "source": "built in",
        "path": None,  # written in Python: no definition file
    }

    doc = json.loads(ok("config", "show", "--json", env=env).stdout)
    assert doc["providers"]["muvi"]["key"] == "****2211"  # the env key, masked
    assert doc["providers"]["muvi"]["key_source"] == "env"
    assert doc["providers"]["muvi"]["base_url"] == "http://127.0.0.1:9"
    human = ok("config", "show", env=env).stdout
    assert "env (JOBPOLL_MUVI_API_KEY)" in human and "env (JOBPOLL_MUVI_BASE_URL)" in human
    assert ok("config", "get", "muvi.base_url", env=env).stdout == "http://127.0.0.1:9\n"


def test_providers_plain_output(env):
    ok("config", "set-key", "reelbot", env=env, input=f"{KEY}\n")
    env["JOBPOLL_PICTORY_API_KEY"] = OTHER_KEY
    result = ok("providers", env=env)
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["name", "base_url", "base_url_source", "key_source", "interval", "source", "path"]
    assert lines[1:5] == [
        ["json2video", "https://api.json2video.com", "default", "none", "5s", "built in", ""],
        ["pictory", "https://api.pictory.ai", "default", "env", "10s", "built in", ""],
        ["muvi", "https://api.muvi.video", "default", "none", "5s", "built in", ""],
        ["reelbot", "https://reelbot.space", "default", "file", "5s", "built in", ""],
    ]
    # The providers defined as data name the definition file inside the package.
    assert [(row[0], row[5], Path(row[6]).name) for row in lines[5:]] == [
        (name, "built in", f"{name}.toml")
        for name in ("shotstack", "creatomate", "replicate", "runway", "luma")]
    assert all(Path(row[6]).is_absolute() and Path(row[6]).is_file() for row in lines[5:])
    assert "\x1b" not in result.stdout


def test_providers_reports_a_bad_env_base_url(env):
    env["JOBPOLL_MUVI_BASE_URL"] = "ftp://example.com"
    result = usage_error("providers", env=env)
    assert "JOBPOLL_MUVI_BASE_URL" in result.stderr


# ---- set, get, unset ------------------------------------------------------------------


def test_set_and_get(env):
    ok("config", "set", "default_provider", "Muvi", env=env)
    assert ok("config", "get", "default_provider", env=env).stdout == "muvi\n"
    ok("config", "set", "pictory.base_url", "http://127.0.0.1:8080/", env=env)
    assert ok("config", "get", "pictory.base_url", env=env).stdout == "http://127.0.0.1:8080\n"
    ok("config", "set", "reelbot.interval", "1m30s", env=env)
    assert ok("config", "get", "reelbot.interval", env=env).stdout == "1m30s\n"
    assert tomllib.loads(cfg_file(env).read_text()) == {
        "default_provider": "muvi",
        "providers": {
            "pictory": {"base_url": "http://127.0.0.1:8080/"},
            "reelbot": {"interval": "1m30s"},
        },
    }
    assert mode_of(cfg_file(env)) == 0o600


def test_get_prints_effective_defaults(env):
    assert ok("config", "get", "default_provider", env=env).stdout == "\n"
    assert ok("config", "get", "muvi.base_url", env=env).stdout == "https://api.muvi.video\n"
    assert ok("config", "get", "pictory.interval", env=env).stdout == "10s\n"
    assert not cfg_file(env).exists()


def test_unset_restores_the_default(env):
    ok("config", "set", "muvi.base_url", "https://file.example", env=env)
    ok("config", "unset", "muvi.base_url", env=env)
    assert ok("config", "get", "muvi.base_url", env=env).stdout == "https://api.muvi.video\n"
    assert tomllib.loads(cfg_file(env).read_text()) == {}


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("default_provider", "nosuch", "unknown provider 'nosuch'"),
        ("muvi.base_url", "ftp://example.com", "muvi.base_url is not an http(s) URL"),
        ("muvi.base_url", "not a url", "muvi.base_url contains whitespace"),
        ("muvi.interval", "soon", "invalid muvi.interval 'soon'"),
        ("muvi.interval", "-5", "invalid muvi.interval"),
        ("nosuch.interval", "5s", "unknown provider 'nosuch'"),
        ("muvi.colour", "red", "unknown setting 'muvi.colour'"),
        ("interval", "5s", "unknown setting 'interval'"),
        ("muvi.api_key", KEY, "jobpoll config set-key muvi"),
    ],
)
def test_set_validation_errors(env, name, value, says):
    result = usage_error("config", "set", "--", name, value, env=env)  # "--": "-5" is a value
    assert says in result.stderr
    assert not cfg_file(env).exists()


def test_get_refuses_keys(env):
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    result = usage_error("config", "get", "muvi.api_key", env=env)
    assert "jobpoll config set-key muvi" in result.stderr
    assert result.stdout == ""


# ---- damaged and exposed files ------------------------------------------------------


MALFORMED = b'default_provider = "muvi"\n\n[providers.muvi]\napi_key = \n'


@pytest.mark.parametrize(
    "args, input",
    [
        (("config", "show"), None),
        (("config", "show", "--json"), None),
        (("config", "get", "muvi.base_url"), None),
        (("providers",), None),
        (("config", "set-key", "muvi"), f"{KEY}\n"),
        (("config", "unset-key", "muvi"), None),
        (("config", "set", "muvi.interval", "5s"), None),
        (("config", "unset", "muvi.interval"), None),
    ],
)
def test_malformed_file_is_reported_and_never_written(env, args, input):
    path = write_config(env, "")
    path.write_bytes(MALFORMED)
    result = usage_error(*args, env=env, input=input)
    assert result.stderr == (
        f"jobpoll: error: config file {path} is malformed at line 4, column 11: "
        "invalid value; fix or remove it\n"
    )
    assert path.read_bytes() == MALFORMED
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_config_path_works_with_a_malformed_file(env):
    write_config(env, "").write_bytes(MALFORMED)
    assert ok("config", "path", env=env).stdout == f"{cfg_file(env)}\n"


def test_a_wrong_value_in_the_file_is_reported_and_can_be_repaired(env):
    write_config(env, '[providers.muvi]\nbase_url = "ftp://example.com"\n')
    result = usage_error("config", "show", env=env)
    assert f"config file {cfg_file(env)}: providers.muvi.base_url is not an http(s) URL" in result.stderr
    ok("config", "set", "muvi.base_url", "https://ok.example", env=env)
    assert ok("config", "get", "muvi.base_url", env=env).stdout == "https://ok.example\n"


def test_unknown_provider_table_is_reported(env):
    write_config(env, "[providers.nosuch]\napi_key = 'x'\n")
    result = usage_error("providers", env=env)
    assert "[providers.nosuch] is not a known provider" in result.stderr


def test_a_directory_as_config_is_reported(env, tmp_path):
    result = usage_error("--config", str(tmp_path), "config", "show", env=env)
    assert f"config file {tmp_path} is a directory" in result.stderr


def test_group_readable_file_draws_a_warning(env):
    path = write_config(env, f'[providers.muvi]\napi_key = "{KEY}"\n', mode=0o640)
    result = ok("config", "show", env=env)
    assert result.stderr == (
        f"jobpoll: warning: config file {path} is readable by other users; run: chmod 600 {path}\n"
    )
    assert ok("-q", "config", "show", env=env).stderr == ""
    assert ok("providers", env=env).stderr.count("readable by other users") == 1


def test_private_file_draws_no_warning(env):
    write_config(env, f'[providers.muvi]\napi_key = "{KEY}"\n', mode=0o600)
    assert ok("config", "show", env=env).stderr == ""


def test_a_write_makes_an_exposed_file_private(env):
    write_config(env, 'default_provider = "muvi"\n', mode=0o644)
    ok("config", "set-key", "muvi", env=env, input=f"{KEY}\n")
    assert mode_of(cfg_file(env)) == 0o600
    assert ok("config", "show", env=env).stderr == ""


# ---- concurrent writers ------------------------------------------------------------


def test_concurrent_set_key_leaves_a_valid_file_with_one_of_the_keys(env):
    keys = [f"sk-race-{i}-{'x' * 24}" for i in range(3)]
    for _ in range(4):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "jobpoll", "config", "set-key", "muvi"],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for _ in keys
        ]
        for proc, key in zip(procs, keys):
            proc.stdin.write(f"{key}\n".encode())
            proc.stdin.close()
        for proc in procs:
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
        data = tomllib.loads(cfg_file(env).read_text())
        assert data["providers"]["muvi"]["api_key"] in keys
        assert mode_of(cfg_file(env)) == 0o600
        assert sorted(p.name for p in cfg_file(env).parent.iterdir()) == ["config.toml"]


def test_concurrent_writers_of_different_settings_lose_nothing(env):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "jobpoll", "config", "set-key", name, "--value", f"{KEY}-{name}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for name in PROVIDER_NAMES
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        proc.stderr.close()
    data = tomllib.loads(cfg_file(env).read_text())
    assert {name: t["api_key"] for name, t in data["providers"].items()} == {
        name: f"{KEY}-{name}" for name in PROVIDER_NAMES
    }


# ---- intervals obey the command line's limits; writes leave nothing behind ----------


@pytest.mark.parametrize("value", ["0", "0s", "0ms", "0.0"])
def test_set_refuses_an_interval_of_zero(env, value):
    result = usage_error("config", "set", "muvi.interval", value, env=env)
    assert "muvi.interval must be more than 0" in result.stderr
    assert not cfg_file(env).exists()


@pytest.mark.parametrize("value", ["0", '"0s"', "-5", '"-1s"'])
@pytest.mark.parametrize("command", [("watch", "muvi:job_1"), ("status", "muvi:job_1"), ("providers",)])
def test_an_interval_of_zero_in_the_file_is_refused_naming_file_and_key(env, value, command):
    path = write_config(env, f"[providers.muvi]\napi_key = \"{KEY}\"\ninterval = {value}\n")
    env["JOBPOLL_MUVI_BASE_URL"] = "http://127.0.0.1:9"  # never reached: refused before any request
    result = usage_error(*command, env=env)
    assert f"config file {path}: providers.muvi.interval " in result.stderr
    assert len(result.stderr.splitlines()) == 1
    # ... and `config set` repairs it
    ok("config", "set", "muvi.interval", "5s", env=env)
    assert "interval = \"5s\"" in path.read_text()


def test_a_config_directory_named_but_missing_is_not_created(env, tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    for args in (("--config", str(missing / "c.toml"), "config", "set-key", "muvi", "--value", KEY),
                 ("--config", str(missing / "c.toml"), "config", "set", "default_provider", "muvi")):
        result = usage_error(*args, env=env)
        assert f"config directory {missing} does not exist" in result.stderr
        assert not (tmp_path / "nonexistent").exists()


def test_config_writes_leave_nothing_beside_the_file(env):
    ok("config", "set-key", "muvi", "--value", KEY, env=env)
    ok("config", "set", "muvi.interval", "7s", env=env)
    ok("config", "unset-key", "muvi", env=env)
    assert sorted(p.name for p in cfg_file(env).parent.iterdir()) == ["config.toml"]
