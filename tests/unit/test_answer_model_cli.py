"""`dialcrm models retrain|status` (and `python -m crm.cli models ...`) on a CRM database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from crm.cli import main as crm_cli
from crm.db.engine import create_all, make_engine
from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings
from crm.synth.answers import AFTER_HISTORY as AFTER
from crm.synth.answers import seed_history
from web.main import main as dialcrm


async def _seed(url: str, models: Path) -> None:
    engine = make_engine(url)
    await create_all(engine)
    service = CrmService(CrmSettings(database_url=url, model_dir=models, password_scrypt_n=16),
                         engine, clock=FixedClock(AFTER))
    campaign = await service.campaigns.create({"name": "history"})
    await seed_history(service, campaign.id)
    await service.close()


def test_given_crm_history_when_dialcrm_models_retrain_then_version_stored_and_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, models = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", tmp_path / "models"
    monkeypatch.setenv("DIALCRM_DATABASE_URL", url)
    monkeypatch.setenv("DIALCRM_MODEL_DIR", str(models))
    assert crm_cli(["migrate"]) == 0
    assert crm_cli(["models", "status"]) == 0
    assert "prior only (0 rows < 2000)" in capsys.readouterr().out
    asyncio.run(_seed(url, models))

    assert dialcrm(["models", "retrain", "--kind", "answer"]) == 0

    out = capsys.readouterr().out
    [version] = [p.name for p in models.iterdir()]
    assert f"answer: trained {version} (replaces none) (2560 history rows" in out
    # the reliability table: its header and at least one bin (which bins are non-empty depends
    # on the trained model's held-out predictions, so no particular bin is named)
    assert "Brier" in out and "log-loss" in out and "predicted        n  mean p  observed" in out
    assert re.search(r"^  [01]\.\d-[01]\.\d +\d+ ", out, re.MULTILINE), out
    assert crm_cli(["models", "status"]) == 0
    assert f"model {version} trained" in capsys.readouterr().out
