"""A background job tied to the app's life: started at start-up, cancelled at clean-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import suppress
from typing import Any

from aiohttp import web


def job_ctx(name: str, start: Callable[[web.Application], Coroutine[Any, Any, None]] | None
            ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running ``start(app)`` as task ``name`` (``None``: no job)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(start(app), name=name) if start is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return ctx
