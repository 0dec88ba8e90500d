"""The event loop a watch runs on.

A watch of many jobs (the CLI's, from http.AIOHTTP_FROM_JOBS on) runs on uvloop's
loop where it is installed (a dependency on Linux and macOS): libuv's loop, with
its sockets and TLS in C, costs a 1,000-job watch about a tenth less CPU than
asyncio's own (bench/watch --together: 0.82-1.01x the fixed loop's CPU in six
runs, median 0.91x, against 0.95-1.09x in four, median 1.02x). A watch of few
jobs sends from threads and hardly uses its loop: it keeps asyncio's, and its
start-up does not pay uvloop's import.

Elsewhere (Windows, uvloop missing, the library's watch) the loop is asyncio's
own, reading a socket READ_SIZE bytes at a time instead of asyncio's 256 KiB. For
every read asyncio allocates the whole read size and then gives back what the
data did not use. 256 KiB is over glibc's mmap threshold (128 KiB), so every
status answer, a few hundred bytes, cost an mmap, a page fault, an mremap and an
munmap: ~4,700 system calls in a 1,000-job watch, and a tenth of its CPU. 64 KiB
comes from the heap, and still takes a list page (tens of KB) or a download's
chunk in one read. Over TLS the same goes for the decrypted data (the encrypted
bytes land in a buffer each connection allocates once). (uvloop reads into one
buffer its loop allocates once.)

The size is set on each transport the loop makes, through asyncio's own hooks
for making them (private; the same in 3.11, 3.12 and 3.13). Where a Python
changes them, or another loop is in use (Windows' proactor, a policy the
library's caller set), reads keep asyncio's size: slower, never wrong;
tests/test_eventloop.py fails on such a Python, so it is noticed. A policy
someone set is always kept, for many jobs too.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

READ_SIZE = 64 * 1024  # bytes: under glibc's 128 KiB mmap threshold


class _SmallReadsLoop(asyncio.SelectorEventLoop):  # type: ignore[misc, valid-type]
    def _make_socket_transport(self, *args: Any, **kwargs: Any) -> Any:
        transport = super()._make_socket_transport(*args, **kwargs)
        transport.max_size = READ_SIZE
        return transport

    def _make_ssl_transport(self, *args: Any, **kwargs: Any) -> Any:
        transport = super()._make_ssl_transport(*args, **kwargs)
        protocol = getattr(transport, "_ssl_protocol", None)
        if protocol is not None:
            protocol.max_size = READ_SIZE
        return transport


def new_event_loop(*, many: bool = False) -> asyncio.AbstractEventLoop:
    """A new event loop for a watch: for `many` jobs uvloop's where it is installed,
    else asyncio's selector loop with small reads; unless the platform (Windows) or
    an event loop policy someone set asks for another."""
    if sys.platform == "win32" or type(asyncio.get_event_loop_policy()) is not asyncio.DefaultEventLoopPolicy:
        return asyncio.new_event_loop()
    if many:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return _SmallReadsLoop()
