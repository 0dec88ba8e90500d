"""When Python's cyclic garbage collector runs during a jobpoll process.

Start-up makes about a hundred thousand objects that live to the end (modules,
classes, functions, httpx's tables) and the collector, run every 700 net
allocations by default, walks them again and again while they are made: 5-6 ms
of a `jobpoll status` of one job, 9 ms of a `watch`. And at exit the interpreter's
own full collections walk all of them once more (10 ms). So:

- start-up: collections wait for START_UP_THRESHOLD net allocations (a one-shot
  command may end before any; garbage stays bounded all the same);
- `watch`, before it starts polling: what start-up made is frozen (never walked
  again) and collections come back, every WATCH_THRESHOLD net allocations
  rather than Python's 700: a watch of many jobs makes objects by the million
  (answers, jobs, requests), and at 700 the collector walked the whole heap six
  times in a watch of 10,000 jobs (0.5 s of 8 s of CPU; 5% less CPU in all).
  Cyclic garbage still goes, at most that many allocations later;
- exit: everything alive is frozen, so the shutdown collections skip it.

Nothing here changes what is freed by reference counting, which is almost all.
"""

from __future__ import annotations

import gc

START_UP_THRESHOLD = 100_000
WATCH_THRESHOLD = 10_000
_defaults: tuple[int, int, int] | None = None


def start_up() -> None:
    """Collections wait while jobpoll starts (see the module's docstring)."""
    global _defaults
    if _defaults is None:
        _defaults = gc.get_threshold()
    gc.set_threshold(START_UP_THRESHOLD, *_defaults[1:])


def started() -> None:
    """Start-up is over and a long run begins: what exists now is kept out of
    later collections, which run every WATCH_THRESHOLD net allocations (the
    older generations at Python's own pace after that)."""
    if _defaults is not None:
        gc.freeze()
        gc.set_threshold(max(WATCH_THRESHOLD, _defaults[0]), *_defaults[1:])


def exiting() -> None:
    """The process ends now: the interpreter's shutdown collections would walk
    every object still alive. Frozen, they are skipped; atexit handlers, buffers,
    threads and objects freed as their last reference goes are as before (Python
    never promised __del__ for objects still alive at exit)."""
    gc.freeze()
