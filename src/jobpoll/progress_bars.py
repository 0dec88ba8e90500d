"""Download progress at a terminal: one rich bar per file on stderr (bytes, rate,
ETA). Imported only when stderr is a terminal; pipes get engine.download.NoProgress."""

from __future__ import annotations

from typing import Any, TextIO


class FileBars:
    """engine.download.Progress drawn with rich.progress."""

    def __init__(self, stream: TextIO, *, color: bool = True):
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        console = Console(file=stream, no_color=not color, highlight=False)
        self._bars = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=False,
        )

    def __enter__(self) -> "FileBars":
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, label: str, total: int | None, done: int) -> Any:
        return self._bars.add_task(label, total=total, completed=done)

    def update(self, task: Any, *, advance: int = 0, total: int | None = None, done: int | None = None) -> None:
        if task is None:
            return
        changes: dict[str, Any] = {}
        if total is not None:
            changes["total"] = total
        if done is not None:
            changes["completed"] = done
        if advance:
            changes["advance"] = advance
        self._bars.update(task, **changes)

    def finish(self, task: Any) -> None:
        if task is not None:
            self._bars.stop_task(task)
