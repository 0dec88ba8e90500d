"""Global options, resolved when a command runs (never at import)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobpoll.config import Config


@dataclass
class AppContext:
    config_path: str | None = None  # --config / JOBPOLL_CONFIG
    verbose: bool = False
    quiet: bool = False
    no_color: bool = False
    _config: "Config | None" = field(default=None, repr=False)

    @property
    def color(self) -> bool:
        return not self.no_color and "NO_COLOR" not in os.environ

    def config(self) -> "Config":
        """The loaded config (read once per process)."""
        if self._config is None:
            from jobpoll.config import load_config

            self._config = load_config(self.config_path, warn=self.warn)
        return self._config

    def warn(self, message: str) -> None:
        """A one-line warning on stderr (suppressed by -q)."""
        if not self.quiet:
            from jobpoll.errors import clip_line, inert

            print(clip_line(f"jobpoll: warning: {inert(message)}"), file=sys.stderr)


def start_app(config: str | None, *, verbose: bool, quiet: bool, no_color: bool) -> AppContext:
    """The global options put to work: what Typer's global callback and the fast
    path (fastpath.py) both call before a command runs, so they cannot differ."""
    from jobpoll.providers import use_config

    use_config(config)  # user provider definitions live beside the config file
    return AppContext(config_path=config, verbose=verbose, quiet=quiet, no_color=no_color)


def app_context(ctx: Any) -> AppContext:
    """The AppContext stored on the Typer context by the global callback."""
    root = ctx.find_root() if ctx is not None else None
    obj = getattr(root, "obj", None)
    return obj if isinstance(obj, AppContext) else AppContext()
