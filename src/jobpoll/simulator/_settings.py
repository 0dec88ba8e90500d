"""The simulator's settings: their defaults, and what values each one takes."""

from __future__ import annotations

from typing import Any

LOG_SIZE = 200_000

DEFAULT_SETTINGS: dict[str, Any] = {
    "fault_rate": 0.0,
    "speed": 1.0,
    "latency": 0.0,
    "reelbot_status_budget": (60, 60.0),
    "reelbot_download_budget": (30, 3600.0),
    "pictory_bot_protection": True,
    "json2video_bad_key_status": 401,
    "json2video_unknown_project": 200,
    "muvi_wrapped": False,
    "creatomate_budget": (30, 10.0),
    "replicate_page_size": 100,
    "log_size": LOG_SIZE,
    "random_slow_delay": 1.0,
    "file_origin": True,  # output URLs point at the file origin (_files.py)
    "file_rate": 0.0,  # bytes a second for every file the file origin serves; 0: no limit
}


def check_setting(name: str, value: Any) -> Any:
    """`value` as setting `name` holds it; ValueError for an unknown name or a bad value."""
    if name not in DEFAULT_SETTINGS:
        raise ValueError(f"unknown setting {name!r}; known: "
                         f"{', '.join(sorted(DEFAULT_SETTINGS) + ['seed'])}")
    if name == "fault_rate":
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError("fault_rate is between 0 and 1")
    elif name == "speed":
        value = float(value)
        if value <= 0:
            raise ValueError("speed must be > 0")
    elif name in ("latency", "random_slow_delay", "file_rate"):
        value = max(0.0, float(value))
    elif name.endswith("_budget"):
        n, seconds = value
        value = (int(n), float(seconds))
        if value[0] < 0 or value[1] <= 0:
            raise ValueError(f"{name} is (requests >= 0, seconds > 0)")
    elif name == "json2video_bad_key_status":
        value = int(value)
        if value not in (400, 401, 403):
            raise ValueError("json2video_bad_key_status is 400, 401 or 403")
    elif name == "json2video_unknown_project":
        value = int(value)
        if value not in (200, 400):
            raise ValueError("json2video_unknown_project is 200 or 400")
    elif name == "replicate_page_size":
        value = int(value)
        if value < 1:
            raise ValueError("replicate_page_size must be >= 1")
    elif name in ("pictory_bot_protection", "muvi_wrapped", "file_origin"):
        value = bool(value)
    elif name == "log_size":
        value = int(value)
        if value < 1:
            raise ValueError("log_size must be >= 1")
    return value


class Settings:
    """The current settings (read as ``settings[name]``) and the seed of random faults.

    The values are replaced as a whole (``replace``), never changed in place, so a
    reader on the server's thread sees either the old settings or the new ones.
    """

    __slots__ = ("values", "seed")

    def __init__(self, seed: int | None = None) -> None:
        self.values: dict[str, Any] = dict(DEFAULT_SETTINGS)
        self.seed = seed

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def replace(self, values: dict[str, Any]) -> None:
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        """Every setting, the seed included."""
        out = dict(self.values)
        out["seed"] = self.seed
        return out
