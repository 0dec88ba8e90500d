"""Unit tests for jobpoll.config: locating, reading, validating, resolving, writing."""

from __future__ import annotations

import os
import stat
import threading
import tomllib
from pathlib import Path

import pytest

from jobpoll import config as cfg
from jobpoll.errors import AuthError, ConfigError, UsageError
from jobpoll.exits import ExitCode

KEY = "sk-unit-0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No JOBPOLL_* variable from the outside, platform dirs inside tmp, and the
    once-per-process warning memory reset for each test."""
    for name in list(os.environ):
        if name.startswith("JOBPOLL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cfg, "_warned", set())


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- locating ---------------------------------------------------------------------


def test_default_path_is_under_the_user_config_dir(tmp_path):
    assert cfg.default_config_path() == tmp_path / "xdg" / "jobpoll" / "config.toml"
    assert cfg.config_path(None) == cfg.default_config_path()


def test_override_beats_env_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("JOBPOLL_CONFIG", str(tmp_path / "env.toml"))
    assert cfg.config_path(None) == tmp_path / "env.toml"
    assert cfg.config_path(str(tmp_path / "opt.toml")) == tmp_path / "opt.toml"


def test_relative_and_home_paths_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert cfg.config_path("c.toml") == tmp_path / "c.toml"
    assert cfg.config_path("~/c.toml") == tmp_path / "c.toml"


# ---- reading ----------------------------------------------------------------------


def test_missing_file_is_an_empty_config(tmp_path):
    config = cfg.load_config(str(tmp_path / "nope" / "config.toml"))
    assert config.exists is False
    assert config.data == {}
    assert config.default_provider is None
    assert config.provider_settings("muvi") == {}
    assert not config.has_key("muvi")


def test_a_valid_file_is_read(tmp_path):
    path = write(
        tmp_path / "c.toml",
        'default_provider = "muvi"\n\n[providers.muvi]\n'
        f'api_key = "{KEY}"\nbase_url = "http://127.0.0.1:8080/"\ninterval = "1m30s"\n'
        '[providers.pictory]\ninterval = 2.5\n',
    )
    config = cfg.load_config(str(path))
    assert config.exists and config.path == path
    assert config.default_provider == "muvi"
    assert config.provider_settings("muvi")["interval"] == "1m30s"
    assert config.has_key("muvi") and not config.has_key("reelbot")


@pytest.mark.parametrize(
    "text, line",
    [
        ('default_provider = "muvi"\nbroken = \n', "line 2, column 10"),
        ("a = 1\n[providers\n", "line 2"),
        ('default_provider = "muvi', "line 1"),
        ('\n\n\n[providers.muvi]\napi_key = "x"\napi_key = "y"\n', "line 6"),
    ],
)
def test_malformed_file_names_file_and_line(tmp_path, text, line):
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as info:
        cfg.load_config(str(path))
    message = info.value.message
    assert str(path) in message
    assert f"malformed at {line}" in message
    assert "fix or remove it" in message
    assert info.value.exit_code == ExitCode.USAGE


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b'a = "x"\nb = "\xff"\n')
    with pytest.raises(ConfigError, match=r"malformed at line 2: not UTF-8"):
        cfg.load_config(str(path))


def test_a_bom_is_tolerated(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes('\ufeffdefault_provider = "muvi"\n'.encode())
    path.chmod(0o600)
    assert cfg.load_config(str(path)).default_provider == "muvi"


def test_a_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        cfg.load_config(str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_config_error(tmp_path):
    path = write(tmp_path / "c.toml", "", mode=0o000)
    with pytest.raises(ConfigError, match=f"cannot read config file {path}"):
        cfg.load_config(str(path))


@pytest.mark.parametrize(
    "text, setting",
    [
        ('default_provider = "nosuch"\n', "default_provider"),
        ("default_provider = 3\n", "default_provider"),
        ('[providers.muvi]\nbase_url = "ftp://example.com"\n', "providers.muvi.base_url"),
        ('[providers.muvi]\nbase_url = "https://"\n', "providers.muvi.base_url"),
        ('[providers.muvi]\nbase_url = "https://x.example/?a=1"\n', "providers.muvi.base_url"),
        ("[providers.muvi]\nbase_url = 80\n", "providers.muvi.base_url"),
        ('[providers.muvi]\ninterval = "soon"\n', "providers.muvi.interval"),
        ("[providers.muvi]\ninterval = -1\n", "providers.muvi.interval"),
        ("[providers.muvi]\ninterval = true\n", "providers.muvi.interval"),
        ("[providers.muvi]\napi_key = 1234\n", "providers.muvi.api_key"),
        ('[providers.muvi]\napikey = "x"\n', "providers.muvi.apikey"),
        ("[providers.nosuch]\n", "[providers.nosuch]"),
        ('providers = "muvi"\n', "providers"),
        ('[providers]\nmuvi = "x"\n', "providers.muvi"),
        ('default_provder = "muvi"\n', "default_provder"),
    ],
)
def test_wrong_values_name_file_and_setting(tmp_path, text, setting):
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as info:
        cfg.load_config(str(path))
    assert info.value.message.startswith(f"config file {path}: {setting} ")
    # Mutating commands load without validation, so `config set` can repair a value.
    cfg.load_config(str(path), validate=False)


def test_exposed_file_warns_once_per_process(tmp_path):
    path = write(tmp_path / "c.toml", "", mode=0o644)
    said: list[str] = []
    cfg.load_config(str(path), warn=said.append)
    cfg.load_config(str(path), warn=said.append)
    assert said == [f"config file {path} is readable by other users; run: chmod 600 {path}"]


def test_private_file_draws_no_warning(tmp_path):
    path = write(tmp_path / "c.toml", "", mode=0o600)
    said: list[str] = []
    cfg.load_config(str(path), warn=said.append)
    assert said == []


def test_default_warning_goes_to_stderr(tmp_path, capsys):
    path = write(tmp_path / "c.toml", "", mode=0o640)
    cfg.load_config(str(path))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"jobpoll: warning: config file {path} is readable")


# ---- resolving --------------------------------------------------------------------


def test_defaults_when_nothing_is_configured(tmp_path):
    config = cfg.load_config(str(tmp_path / "none.toml"))
    endpoint = cfg.resolve_endpoint(config, "pictory")
    assert endpoint.provider.name == "pictory"
    assert endpoint.base_url == "https://api.pictory.ai"
    assert endpoint.base_url_source == "default"
    assert (endpoint.key, endpoint.key_source) == (None, None)
    assert endpoint.interval is None
    assert endpoint.effective_interval == endpoint.provider.default_interval


def test_file_settings_are_used(tmp_path):
    path = write(
        tmp_path / "c.toml",
        f'[providers.muvi]\napi_key = "  {KEY}  "\nbase_url = "http://127.0.0.1:9/"\ninterval = "1m30s"\n',
    )
    endpoint = cfg.resolve_endpoint(cfg.load_config(str(path)), "MUVI")
    assert endpoint.key == KEY and endpoint.key_source == "file"
    assert endpoint.base_url == "http://127.0.0.1:9" and endpoint.base_url_source == "file"
    assert endpoint.interval == 90.0 and endpoint.effective_interval == 90.0


def test_environment_beats_the_file(tmp_path, monkeypatch):
    path = write(
        tmp_path / "c.toml", f'[providers.muvi]\napi_key = "{KEY}"\nbase_url = "http://file.example"\n'
    )
    monkeypatch.setenv("JOBPOLL_MUVI_API_KEY", "env-key-abcdef0123456789")
    monkeypatch.setenv("JOBPOLL_MUVI_BASE_URL", "https://env.example/api/")
    endpoint = cfg.resolve_endpoint(cfg.load_config(str(path)), "muvi")
    assert (endpoint.key, endpoint.key_source) == ("env-key-abcdef0123456789", "env")
    assert (endpoint.base_url, endpoint.base_url_source) == ("https://env.example/api", "env")


def test_empty_environment_variables_count_as_unset(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", f'[providers.muvi]\napi_key = "{KEY}"\n')
    monkeypatch.setenv("JOBPOLL_MUVI_API_KEY", "  ")
    monkeypatch.setenv("JOBPOLL_MUVI_BASE_URL", "")
    endpoint = cfg.resolve_endpoint(cfg.load_config(str(path)), "muvi")
    assert endpoint.key_source == "file" and endpoint.base_url_source == "default"


def test_bad_base_url_in_environment_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBPOLL_REELBOT_BASE_URL", "file:///etc/passwd")
    config = cfg.load_config(str(tmp_path / "none.toml"))
    with pytest.raises(UsageError, match="JOBPOLL_REELBOT_BASE_URL") as info:
        cfg.resolve_endpoint(config, "reelbot")
    assert info.value.exit_code == ExitCode.USAGE


def test_unknown_provider_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown provider"):
        cfg.resolve_endpoint(cfg.load_config(str(tmp_path / "none.toml")), "nosuch")


def test_env_key_alone_counts_as_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBPOLL_JSON2VIDEO_API_KEY", KEY)
    config = cfg.load_config(str(tmp_path / "none.toml"))
    assert config.has_key("json2video") and not config.has_key("muvi")


def test_endpoint_repr_and_summary_hide_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBPOLL_MUVI_API_KEY", KEY)
    endpoint = cfg.resolve_endpoint(cfg.load_config(str(tmp_path / "none.toml")), "muvi")
    assert KEY not in repr(endpoint)
    summary = endpoint.summary()
    assert KEY not in repr(summary)
    assert summary == {
        "name": "muvi",
        "base_url": "https://api.muvi.video",
        "base_url_source": "default",
        "key_set": True,
        "key_source": "env",
        "interval": 5.0,
    }


def test_require_key(tmp_path, monkeypatch):
    config = cfg.load_config(str(tmp_path / "none.toml"))
    with pytest.raises(AuthError) as info:
        cfg.require_key(cfg.resolve_endpoint(config, "muvi"))
    assert info.value.exit_code == ExitCode.AUTH
    assert info.value.message == (
        "no API key for muvi: add one with 'jobpoll config set-key muvi' "
        "or set JOBPOLL_MUVI_API_KEY"
    )
    monkeypatch.setenv("JOBPOLL_MUVI_API_KEY", KEY)
    assert cfg.require_key(cfg.resolve_endpoint(config, "muvi")) == KEY


@pytest.mark.parametrize(
    "key, masked",
    [("", ""), ("abc", "****"), ("abcdefg", "****"), ("abcdefgh", "****gh"),
     ("0123456789abcdef", "****cdef"), (KEY, "****cdef")],
)
def test_mask(key, masked):
    assert cfg.mask(key) == masked


def test_mask_never_shows_more_than_four_characters():
    for length in range(0, 80):
        key = "".join(chr(ord("a") + i % 26) for i in range(length))
        shown = cfg.mask(key).lstrip("*")
        assert len(shown) <= 4 and len(shown) < max(1, length / 2) + 1
        assert key.endswith(shown)


def test_format_interval_reads_back():
    from jobpoll.durations import format_interval, parse_duration

    for seconds in (5.0, 10, 0.5, 90.0, 3600.0, 1234567.0, 0.001):
        assert parse_duration(format_interval(seconds)) == seconds
    assert format_interval(5.0) == "5s"


def test_check_key():
    assert cfg.check_key(f"  {KEY}\n") == KEY
    with pytest.raises(UsageError):
        cfg.check_key(" \n")
    with pytest.raises(UsageError, match="control characters"):
        cfg.check_key("abc\x1bdef")


# ---- writing ----------------------------------------------------------------------


def test_save_creates_private_dir_and_file(tmp_path):
    path = tmp_path / "new" / "dir" / "config.toml"
    cfg.save_config(path, {"providers": {"muvi": {"api_key": KEY}}})
    assert tomllib.loads(path.read_text()) == {"providers": {"muvi": {"api_key": KEY}}}
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_save_is_0600_whatever_the_umask_and_never_wider(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", "", mode=0o644)
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(file, flags, mode=0o777, *args, **kwargs):
        opened.append((str(file), flags, mode))
        return real_open(file, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    old_umask = os.umask(0)
    try:
        cfg.save_config(path, {"default_provider": "muvi"})
    finally:
        os.umask(old_umask)
    assert mode_of(path) == 0o600
    created = [(f, fl, m) for f, fl, m in opened if fl & os.O_CREAT]
    assert created, "the temp file is created with os.open"
    for file, flags, mode in created:
        assert flags & os.O_EXCL and mode == 0o600, file
        assert Path(file).parent == path.parent  # same filesystem: the rename is atomic


def test_failed_replace_leaves_old_file_whole_and_no_temp(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", f'[providers.muvi]\napi_key = "{KEY}"\n')
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ConfigError, match=f"cannot write config file {path}"):
        cfg.save_config(path, {"providers": {"muvi": {"api_key": "new"}}})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_interrupted_write_leaves_old_file_whole_and_no_temp(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", 'default_provider = "muvi"\n')
    before = path.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cfg.save_config(path, {"default_provider": "pictory"})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_save_writes_through_a_symlink(tmp_path):
    real = write(tmp_path / "dotfiles" / "jobpoll.toml", "")
    link = tmp_path / "cfg" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    cfg.save_config(link, {"default_provider": "reelbot"})
    assert link.is_symlink()
    assert tomllib.loads(real.read_text()) == {"default_provider": "reelbot"}


def test_edit_never_touches_a_malformed_file(tmp_path):
    path = write(tmp_path / "c.toml", "this is [not toml\n")
    before = path.read_bytes()
    called = []
    with pytest.raises(ConfigError, match="malformed at line 1"):
        cfg.edit_config(str(path), lambda config: called.append(1) or True)
    assert called == []
    assert path.read_bytes() == before


def test_edit_sets_and_removes_values(tmp_path):
    path = tmp_path / "c.toml"

    def set_things(config):
        config.set_value(None, "default_provider", "muvi")
        config.set_value("muvi", "api_key", KEY)
        config.set_value("muvi", "interval", "90s")
        return True

    cfg.edit_config(str(path), set_things)
    assert cfg.load_config(str(path)).data == {
        "default_provider": "muvi",
        "providers": {"muvi": {"api_key": KEY, "interval": "90s"}},
    }

    removed: list[bool] = []

    def remove_things(config):
        removed.append(config.remove_value("muvi", "api_key"))
        removed.append(config.remove_value("muvi", "interval"))
        removed.append(config.remove_value("pictory", "interval"))
        return True

    cfg.edit_config(str(path), remove_things)
    assert removed == [True, True, False]
    assert cfg.load_config(str(path)).data == {"default_provider": "muvi"}  # empty tables pruned


def test_edit_keeps_settings_it_does_not_know_about(tmp_path):
    # A file with a bad value can still be edited (and so repaired) by `config set`.
    path = write(tmp_path / "c.toml", '[providers.muvi]\nbase_url = "ftp://x"\ninterval = "5s"\n')
    cfg.edit_config(str(path), lambda c: c.set_value("muvi", "base_url", "https://ok.example") or True)
    assert cfg.load_config(str(path)).provider_settings("muvi") == {
        "base_url": "https://ok.example",
        "interval": "5s",
    }


def test_edit_makes_an_exposed_file_private_without_warning(tmp_path):
    path = write(tmp_path / "c.toml", "", mode=0o644)
    said: list[str] = []
    cfg.edit_config(str(path), lambda c: c.set_value(None, "default_provider", "muvi") or True,
                    warn=said.append)
    assert said == [] and mode_of(path) == 0o600


def test_edit_that_writes_nothing_still_warns(tmp_path):
    path = write(tmp_path / "c.toml", "", mode=0o644)
    said: list[str] = []
    cfg.edit_config(str(path), lambda c: False, warn=said.append)
    assert len(said) == 1 and mode_of(path) == 0o644


def test_edit_removes_temp_files_left_by_a_killed_writer(tmp_path):
    path = write(tmp_path / "c.toml", "")
    stale = write(tmp_path / ".c.toml.999.abcd.tmp", "half a fi")
    cfg.edit_config(str(path), lambda c: False)
    assert not stale.exists()


def test_a_write_leaves_no_lock_file_and_removes_an_old_one(tmp_path):
    path = tmp_path / "config.toml"
    (tmp_path / "config.toml.lock").write_text("")  # left by an earlier version
    cfg.edit_config(str(path), lambda c: c.set_value(None, "default_provider", "muvi") or True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_named_config_directory_that_does_not_exist_is_not_created(tmp_path):
    path = tmp_path / "typo" / "config.toml"
    with pytest.raises(ConfigError, match=f"config directory {tmp_path / 'typo'} does not exist") as info:
        cfg.edit_config(str(path), lambda c: c.set_value(None, "default_provider", "muvi") or True)
    assert info.value.exit_code == ExitCode.USAGE
    assert not (tmp_path / "typo").exists()


def test_the_default_config_directory_is_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("JOBPOLL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    saved = cfg.edit_config(None, lambda c: c.set_value(None, "default_provider", "muvi") or True)
    assert saved.path == tmp_path / "xdg" / "jobpoll" / "config.toml"
    assert mode_of(saved.path.parent) == 0o700 and mode_of(saved.path) == 0o600
    assert sorted(p.name for p in saved.path.parent.iterdir()) == ["config.toml"]


def test_concurrent_edits_are_serialized(tmp_path):
    # flock locks belong to open file descriptions, so threads with their own
    # descriptors exclude each other like processes do. Without the lock some of
    # these read-modify-write cycles would be lost.
    path = tmp_path / "c.toml"
    cfg.edit_config(str(path), lambda c: c.set_value("muvi", "interval", "0") or True)

    def bump(config):
        current = int(config.provider_settings("muvi")["interval"])
        config.set_value("muvi", "interval", str(current + 1))
        return True

    def worker():
        for _ in range(10):
            cfg.edit_config(str(path), bump)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cfg.load_config(str(path)).provider_settings("muvi")["interval"] == "40"
