"""The event loop a watch runs on reads sockets in pieces of at most READ_SIZE
(eventloop.py: asyncio's 256 KiB made every status answer an mmap and an munmap),
over plain TCP and over TLS, and the CLI's and the library's watches of many jobs
run on it (a watch of few sends from threads, with no socket on the loop)."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
import sys

import pytest

import jobpoll
from jobpoll.eventloop import READ_SIZE, new_event_loop
from nettools import ScriptedServer, http_reply

BODY = bytes(range(256)) * (3 * READ_SIZE // 256)  # three reads' worth, at least


class _Pieces(asyncio.Protocol):
    """Keeps every piece the transport hands over."""

    def __init__(self, total: int):
        self.pieces: list[bytes] = []
        self.total = total
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.pieces.append(data)
        if sum(map(len, self.pieces)) >= self.total and not self.done.done():
            self.done.set_result(None)


async def _read_answer(port: int, context: ssl.SSLContext | None) -> tuple[list[bytes], int | None]:
    """The pieces of one answer as the loop reads them, and what a TLS connection's
    reader reads at a time. Reading starts paused, so the whole answer waits in the
    socket and a read takes as much as it may."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: _Pieces(len(http_reply(200, BODY))), "127.0.0.1", port, ssl=context,
        server_hostname="127.0.0.1" if context else None)
    tls_reader = getattr(transport, "_ssl_protocol", None)
    transport.pause_reading()
    transport.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.3)  # the answer arrives meanwhile, and waits
    transport.resume_reading()
    await asyncio.wait_for(protocol.done, 30)
    transport.close()
    return protocol.pieces, tls_reader.max_size if tls_reader is not None else None


def _answer_on_our_loop(server_tls: ssl.SSLContext | None = None,
                        context: ssl.SSLContext | None = None) -> tuple[list[bytes], int | None]:
    server = ScriptedServer([http_reply(200, BODY)], tls=server_tls)
    loop = new_event_loop()
    try:
        return loop.run_until_complete(_read_answer(server.port, context))
    finally:
        loop.close()
        server.close()


def test_an_answer_is_read_in_small_pieces_whole():
    pieces, _ = _answer_on_our_loop()
    assert b"".join(pieces) == http_reply(200, BODY)  # nothing lost, nothing reordered
    assert max(map(len, pieces)) <= READ_SIZE
    assert len(pieces) >= 3


def test_over_tls_the_decrypted_answer_is_read_in_small_pieces_whole():
    """asyncio hands what one wake decrypted to the protocol joined, so the pieces
    are not seen there: the connection's TLS reader says what it reads at a time."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    pieces, read_size = _answer_on_our_loop(server_tls, context)
    assert b"".join(pieces) == http_reply(200, BODY)
    assert read_size == READ_SIZE


def test_an_event_loop_policy_someone_set_is_kept():
    made = []

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self):
            loop = super().new_event_loop()
            made.append(loop)
            return loop

    before = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(Policy())
    try:
        loop = new_event_loop()
        loop.close()
    finally:
        asyncio.set_event_loop_policy(before)
    assert made == [loop]


PROBED_CLI = r"""
import atexit, sys
import jobpoll.eventloop as eventloop

read_sizes = []
made = eventloop._SmallReadsLoop._make_socket_transport

def probe(self, *args, **kwargs):
    transport = made(self, *args, **kwargs)
    read_sizes.append(transport.max_size)
    return transport

eventloop._SmallReadsLoop._make_socket_transport = probe
atexit.register(lambda: print("read sizes", sorted(set(read_sizes)), file=sys.stderr))
sys.argv[0] = "jobpoll"
from jobpoll.cli import main
main()
"""


MANY = 60  # jobs: a watch's requests go through aiohttp's pool from http.AIOHTTP_FROM_JOBS on


def test_the_commands_watch_runs_on_it(sim, env):
    refs = [f"json2video:{sim.add_job('json2video', queued=0, running=0, outcome='done')}" for _ in range(MANY)]
    run = subprocess.run([sys.executable, "-c", PROBED_CLI, "watch", "--json", "-"], env=env,
                         input="\n".join(refs), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == MANY
    assert f"read sizes [{READ_SIZE}]" in run.stderr


def test_the_librarys_watch_runs_on_it(sim, api_env, monkeypatch):
    from jobpoll import eventloop

    loops = []
    made = eventloop._SmallReadsLoop._make_socket_transport

    def probe(self, *args, **kwargs):
        loops.append(self)
        return made(self, *args, **kwargs)

    monkeypatch.setattr(eventloop._SmallReadsLoop, "_make_socket_transport", probe)
    refs = [f"muvi:{sim.add_job('muvi', queued=0, running=0, outcome='done')}" for _ in range(MANY)]
    assert [j.state for j in jobpoll.watch(refs, interval=0.2, max_interval=1.0)] == ["done"] * MANY
    assert loops  # its connections were made by jobpoll's loop


def test_a_watch_of_many_jobs_on_its_loop_runs_hooks_and_stops_on_a_signal(sim, env):
    """What a large watch does besides polling, on the loop it runs on: its --exec
    hooks run as subprocesses of the loop, and SIGTERM stops it with every job's
    last known state (exit 130)."""
    done = [f"muvi:{sim.add_job('muvi', queued=0, running=0, outcome='done')}" for _ in range(MANY)]
    run = subprocess.run([sys.executable, "-m", "jobpoll", "watch", "--json", "--exec", "echo hook $JOBPOLL_REF", "-"],
                         env=env, input="\n".join(done), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert sorted(line.split()[1] for line in run.stderr.splitlines() if line.startswith("hook ")) == sorted(done)

    running = [f"muvi:{sim.add_job('muvi', queued=0, running=600)}" for _ in range(MANY)]
    proc = subprocess.Popen([sys.executable, "-m", "jobpoll", "watch", "--json", "-"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write("\n".join(running))
    proc.stdin.close()
    first = [proc.stdout.readline() for _ in range(MANY)]  # every job seen once: the watch is under way
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    rest = proc.stdout.read().splitlines()
    assert {json.loads(line)["id"] for line in first} == {ref.split(":", 1)[1] for ref in running}
    assert all(json.loads(line)["state"] == "running" for line in first + rest)
