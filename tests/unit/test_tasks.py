"""``ari_app.tasks.TaskSet``: the one background-task helper (references kept, failures logged
with the task's name, cancelled on close)."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from ari_app.tasks import TaskSet

log = logging.getLogger("tests.tasks")


async def test_given_failing_task_when_it_ends_then_its_exception_is_logged_with_its_name(
        caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet(log)

    async def boom() -> None:
        raise RuntimeError("kaput")

    caplog.set_level(logging.ERROR, logger="tests.tasks")
    task = tasks.spawn(boom(), "boom-7")
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)  # the done callback runs on the next turn at the latest

    [record] = [r for r in caplog.records if r.name == "tests.tasks"]
    assert record.levelno == logging.ERROR
    assert "boom-7" in record.getMessage() and "failed" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert len(tasks) == 0


async def test_given_cancelled_or_successful_task_when_done_then_nothing_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet(log)
    caplog.set_level(logging.DEBUG, logger="tests.tasks")
    ok = tasks.spawn(asyncio.sleep(0), "ok")
    hang = tasks.spawn(asyncio.Event().wait(), "hang")
    await ok
    hang.cancel()
    await asyncio.gather(hang, return_exceptions=True)
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if r.name == "tests.tasks"]
    assert len(tasks) == 0


async def test_given_spawned_task_without_other_reference_when_collected_then_it_still_runs(
        ) -> None:
    tasks = TaskSet(log)
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        await release.wait()
        finished.set()

    tasks.spawn(work(), "work")  # the result is dropped: only the set holds the task
    await started.wait()
    gc.collect()
    assert [t.get_name() for t in tasks] == ["work"]
    release.set()
    await finished.wait()
    await asyncio.sleep(0)
    assert len(tasks) == 0


async def test_given_running_tasks_when_closed_then_all_are_cancelled_and_awaited() -> None:
    tasks = TaskSet(log)
    started = asyncio.Event()
    spawned_on_cancel: list[asyncio.Task[None]] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:  # a task spawned while closing is cancelled too
            spawned_on_cancel.append(tasks.spawn(asyncio.Event().wait(), "late"))

    first = tasks.spawn(forever(), "forever")
    second = tasks.spawn(asyncio.Event().wait(), "waiting")
    await started.wait()
    await tasks.close()
    assert first.cancelled() and second.cancelled()
    assert spawned_on_cancel and spawned_on_cancel[0].cancelled()
    assert len(tasks) == 0
