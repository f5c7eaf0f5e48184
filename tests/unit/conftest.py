"""Unit-test fixtures shared by several modules (the CRM's, ``crm_*``, come from
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.web_apps import Api, dialer_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The dialer's REST API on a dialer with fakes (users agent1 and boss)."""
    async with dialer_api(tmp_path) as rig:
        yield rig
