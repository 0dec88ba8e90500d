"""`jobpoll demo` (watch simulated jobs, no key needed) and `jobpoll simulate`
(serve the simulator for scripts and experiments).

The demo runs the simulator in this process and points every provider at it with
in-memory endpoints: nothing is written to the user's config or history.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from jobpoll.context import app_context

DEMO_KEY = "demo-key"
DEMO_INTERVAL = 0.5  # seconds: the demo's jobs finish within ~15 s; a newcomer should see every step
DEMO_MAX_INTERVAL = 2.0
DEMO_DEADLINE = 90.0  # a demo must end, whatever the machine


def demo_command(ctx: typer.Context) -> None:
    """Watch a few simulated jobs of every provider (about 20 seconds, no key needed).

    Some succeed, one fails on purpose and one is rate limited, to show what
    `jobpoll watch` does with each. Exits 0 when the demo ran as designed (the
    failure is part of the show), else with the code `watch` would give."""
    import time
    from collections import Counter

    from jobpoll.config import Endpoint
    from jobpoll.exits import ExitCode
    from jobpoll.engine.session import WatchPlan
    from jobpoll.engine.updates import Kind, PollOptions, Stop
    from jobpoll.targets import Gathered, Target
    from jobpoll.providers import get_provider
    from jobpoll.refs import parse_ref
    from jobpoll.render import choose_mode
    from jobpoll.simulator import Simulator, seed_demo_jobs

    from jobpoll.commands.watch import run_watch

    app = app_context(ctx)
    started = time.monotonic()
    sim = Simulator()
    base_url = sim.start()
    try:
        endpoints = {}
        targets = []
        for text in seed_demo_jobs(sim):
            ref = parse_ref(text, provider_opt=None, config=None)
            if ref.provider not in endpoints:
                endpoints[ref.provider] = Endpoint(
                    provider=get_provider(ref.provider), base_url=sim.url_for(ref.provider), key=DEMO_KEY,
                    key_source="demo", interval=None, base_url_source="demo",
                )
            targets.append(Target(ref, endpoints[ref.provider]))
        if not app.quiet:
            print(f"jobpoll demo: watching {len(targets)} jobs at a local imitation of "
                  f"json2video, Pictory, Muvi, Reelbot, Shotstack, Runway and Replicate ({base_url})", file=sys.stderr)
        options = PollOptions(
            interval=DEMO_INTERVAL, max_interval=DEMO_MAX_INTERVAL,
            deadline=started + DEMO_DEADLINE, heartbeat=0,
        )
        limited: set[str] = set()

        def note(update) -> None:
            if update.kind is Kind.RATE_LIMITED:
                limited.add(update.provider)

        plan = WatchPlan(Gathered([t.ref for t in targets], targets), options, verbose=app.verbose)
        code, results, stop = run_watch(app, plan, mode=choose_mode(json_=False, field=None), on_update=note)
    finally:
        sim.stop()

    finished = [r for r in results if r.finished and r.error is None and r.job is not None]
    if stop is not Stop.FINISHED or len(finished) != len(results):
        raise typer.Exit(int(code))  # something really went wrong: say it like watch would
    counts = Counter(result.job.state.value for result in finished)
    parts = [f"{n} {state}" for state, n in sorted(counts.items())]
    if limited:
        parts.append(f"rate limit by {', '.join(sorted(limited))} waited out")
    if not app.quiet:
        print(
            "jobpoll demo: ran as designed (" + ", ".join(parts) + "; the failure is part of the "
            "demo, so the exit status is 0).\nNext: 'jobpoll config set-key PROVIDER', then "
            "'jobpoll watch PROVIDER:ID'; try a simulator of your own with 'jobpoll simulate'.",
            file=sys.stderr,
        )
    raise typer.Exit(int(ExitCode.OK))


def simulate_command(
    ctx: typer.Context,
    port: int = typer.Option(8765, "--port", metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="SEED", help="Seed for random faults and job IDs (reproducible runs)."),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", metavar="RATE", min=0.0, max=1.0, help="Share of requests meeting a random transient fault (0..1)."
    ),
) -> None:
    """Serve a local imitation of every built-in provider until Ctrl-C; prints its base URL
    and the environment to point jobpoll at it."""
    from jobpoll.errors import UsageError
    from jobpoll.simulator import serve

    try:
        serve(port, host, seed=seed, fault_rate=fault_rate)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port") from None
