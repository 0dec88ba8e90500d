"""STYLE.md's size rule, checked on the source: no class under src/jobpoll/ (the
simulator included) runs past 250 lines from its `class` line to its last."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "jobpoll"
MAX_CLASS_LINES = 250


def long_classes(source: str, limit: int = MAX_CLASS_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every class, nested ones too, longer than `limit`."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                out.append((node.name, node.lineno, lines))
    return out


def test_no_class_under_src_runs_past_250_lines():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20 and any(p.parent.name == "simulator" for p in files)
    offenders = [f"{path.relative_to(SRC.parent)}:{line}: class {name} is {lines} lines"
                 for path in files
                 for name, line, lines in long_classes(path.read_text(encoding="utf-8"))]
    assert not offenders, ("split these by concern (STYLE.md):\n" + "\n".join(offenders))


def test_the_measure_counts_from_the_class_line_to_its_last():
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_CLASS_LINES - 1))
    just_fits = "class Fits:\n" + body
    one_more = "@decorated\nclass TooLong:\n" + body + "    class Inner:\n        pass\n"
    assert long_classes(just_fits) == []
    assert long_classes(one_more) == [("TooLong", 2, MAX_CLASS_LINES + 2)]
