"""Background tasks that are never lost: :class:`TaskSet` keeps a reference to every task it
spawns (the event loop keeps only weak ones), logs the failure of any of them with its name when
it happens (never ``Task exception was never retrieved`` at garbage collection, never silence),
and cancels the ones left on :meth:`TaskSet.close`.

It lives in ``ari_app`` because its users are there (the dialer's engine, call desk and CDR
cross-check, the speech fork and recogniser pool, the telephony event stream) and in the web
shell, which may import ``ari_app``. The CRM does not need it: its only background work is the
app-lifetime jobs of :func:`crm.http._jobs.job_ctx` (one task each, started and awaited in a
``cleanup_ctx``, every round guarded by the job itself), and ``predictive`` (below both) is pure
pacing with no asyncio in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)


class TaskSet:
    """The tasks of one owner. ``log``: the owner's logger (failures are reported there, as
    ``<what> <task name> failed`` with the traceback)."""

    def __init__(self, log: logging.Logger | None = None, what: str = "task") -> None:
        self._log = log or _log
        self._what = what
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` as a task named ``name``; kept until it ends, its failure logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._log.error("%s %s failed", self._what, task.get_name(), exc_info=exc)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel(self) -> None:
        """Cancel every running task (without waiting for them)."""
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """Cancel every running task and wait until they have all ended (a task spawned while
        closing is cancelled too)."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
