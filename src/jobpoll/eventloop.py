"""The event loop a watch runs on: asyncio's own, reading a socket READ_SIZE bytes
at a time instead of asyncio's 256 KiB.

For every read asyncio allocates the whole read size and then gives back what
the data did not use. 256 KiB is over glibc's mmap threshold (128 KiB), so every
status answer, a few hundred bytes, cost an mmap, a page fault, an mremap and an
munmap: ~4,700 system calls in a 1,000-job watch, and a tenth of its CPU. 64 KiB
comes from the heap, and still takes a list page (tens of KB) or a download's
chunk in one read. Over TLS the same goes for the decrypted data (the encrypted
bytes land in a buffer each connection allocates once).

The size is set on each transport the loop makes, through asyncio's own hooks
for making them (private; the same in 3.11, 3.12 and 3.13). Where a Python
changes them, or another loop is in use (Windows' proactor, a policy the
library's caller set), reads keep asyncio's size: slower, never wrong;
tests/test_eventloop.py fails on such a Python, so it is noticed.
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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for a watch: asyncio's selector loop with small reads, unless
    the platform (Windows) or an event loop policy someone set asks for another."""
    if sys.platform == "win32" or type(asyncio.get_event_loop_policy()) is not asyncio.DefaultEventLoopPolicy:
        return asyncio.new_event_loop()
    return _SmallReadsLoop()
