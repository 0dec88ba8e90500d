"""What every provider's endpoints share: the simulator's state, looking a job up,
answering a status lookup (with its fault)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from ._faults import FaultAnswers
from ._jobs import SimJob

if TYPE_CHECKING:
    from ._files import FileOrigin
    from ._server import Simulator

# What a handler registers: wrap(handler) logs the request, adds the latency and
# calls handler(request, main), main telling the main origin from the foreign one.
Wrap = Callable[[Callable[[web.Request, bool], Any]], Any]


class Endpoints(FaultAnswers):
    """Base of one provider's endpoints (or a group's); state lives in the Simulator."""

    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim
        self.table = sim._table
        self.settings = sim._settings
        self.limits = sim._limits
        self.faults = sim._faults
        self.clock = sim.clock
        self.lock = sim._lock

    def routes(self, router: web.UrlDispatcher, wrap: Wrap) -> None:
        raise NotImplementedError

    @property
    def files(self) -> "FileOrigin":
        return self.sim.files

    @property
    def foreign_url(self) -> str:  # type: ignore[override]
        return self.sim.foreign_url

    def _lookup(self, provider: str, job_id: str, key: str | None) -> SimJob | None:
        return self.table.lookup(provider, job_id, key)

    def _random_fault(self, main: bool) -> dict | None:
        return self.faults.random_fault(main)

    async def _status_answer(self, request: web.Request, job: SimJob, main: bool,
                             fault: dict | None, payload: Callable[[SimJob, str, float], Any],
                             headers: dict | None = None) -> web.StreamResponse:
        """A known job's status answer, `payload(job, phase, frac)`; the job's own
        faults win over the random one."""
        if main:
            fault = self.faults.job_fault(job, "status", request) or fault
        return await self._answer(request, job.provider, 200, payload(job, *job.phase()),
                                  headers, fault=fault, job_id=job.id)
