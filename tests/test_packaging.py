"""What an install puts in the environment: the README's two Quick-start lines (a
regular install, then an editable one with the test extras, or the other way round)
each install the man page and completions, so neither removes what the other put."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = {  # pyproject.toml's [tool.setuptools.data-files], as installed under share/
    "share/man/man1/jobpoll.1",
    "share/bash-completion/completions/jobpoll.bash",
    "share/zsh/site-functions/_jobpoll",
    "share/fish/vendor_completions.d/jobpoll.fish",
}


def build(hook: str, tmp_path: Path) -> set[str]:
    """Run the build backend's `hook` on a copy of the project (the checkout stays
    clean); return the share/ files the wheel would install."""
    pytest.importorskip("setuptools.build_meta")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, project / name)
    for name in ("src", "man", "completions"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path / "wheel"
    out.mkdir()
    code = f"import setuptools.build_meta as b; print(b.{hook}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    return {n.split(".data/data/", 1)[1] for n in names if ".data/data/share/" in n}


def test_a_regular_install_puts_the_man_page_and_completions_under_share(tmp_path):
    assert build("build_wheel", tmp_path) == SHARED


def test_an_editable_install_puts_them_there_too(tmp_path):
    # Without setup.py's workaround this set is empty, and `pip install -e` after
    # `pip install .` leaves no man page and no completions behind.
    assert build("build_editable", tmp_path) == SHARED
