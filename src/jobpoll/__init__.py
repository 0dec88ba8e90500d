"""jobpoll: poll asynchronous render jobs at video-generation APIs.

The command line is a face over this Python API (see the README, "Use from
Python")::

    import jobpoll

    job = jobpoll.status("muvi:job_7f3a9c2e4b1d")[0]
    for job in jobpoll.watch(["json2video:JkGxEoPRF9EgRb32", "muvi:job_7f3a9c2e4b1d"]):
        print(job.ref, job.state, job.progress)

Names are imported on first use, so `import jobpoll` costs next to nothing.
"""

__version__ = "0.1.0"

# Not `from typing import TYPE_CHECKING`: importing typing alone would double the
# cost of `import jobpoll`. Type checkers read this name as true all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from jobpoll.api import awatch, download, list_jobs, status, watch
    from jobpoll.engine.download import DownloadError
    from jobpoll.engine.saving import Downloaded
    from jobpoll.errors import (
        AuthError,
        ConfigError,
        Interrupted,
        JobpollError,
        NotFoundError,
        RateLimitedError,
        UnavailableError,
        UnfinishedError,
        UsageError,
    )
    from jobpoll.exits import ExitCode
    from jobpoll.model import Job, JobError, Output, State

# name -> the module that defines it
_LAZY = {
    **dict.fromkeys(("status", "watch", "awatch", "list_jobs", "download"), "jobpoll.api"),
    "Downloaded": "jobpoll.engine.saving",
    "DownloadError": "jobpoll.engine.download",
    **dict.fromkeys(("Job", "State", "Output", "JobError"), "jobpoll.model"),
    **dict.fromkeys((
        "JobpollError", "UsageError", "ConfigError", "AuthError", "NotFoundError",
        "UnavailableError", "RateLimitedError", "UnfinishedError", "Interrupted",
    ), "jobpoll.errors"),
    "ExitCode": "jobpoll.exits",
}

__all__ = [
    "__version__", "status", "watch", "awatch", "list_jobs", "Job", "State", "Output", "JobError",
    "JobpollError", "UsageError", "ConfigError", "AuthError", "NotFoundError", "UnavailableError",
    "RateLimitedError", "UnfinishedError", "Interrupted", "ExitCode", "download", "Downloaded",
    "DownloadError",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobpoll' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
