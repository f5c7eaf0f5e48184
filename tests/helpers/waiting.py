"""Polling a condition in a test (a status changed by the code's own tasks)."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def eventually(check: Any, timeout: float = 10.0) -> None:
    """Poll until ``check()`` holds (the code under test runs in its own tasks); fail the
    test (AssertionError) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")
