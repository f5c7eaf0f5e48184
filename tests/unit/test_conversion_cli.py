"""``python -m crm.cli models retrain --kind conversion`` on a migrated database (0009)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.cli import main
from crm.migrations import upgrade
from crm.ports import FixedClock
from crm.service import CrmService
from crm.settings import CrmSettings
from crm.synth.conversion import write_history


def test_given_migrated_crm_with_history_when_cli_retrains_conversion_then_trained_and_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    upgrade(url)
    settings = CrmSettings(database_url=url, model_dir=tmp_path / "models",
                           recordings_dir=tmp_path / "rec", password_scrypt_n=16)

    async def seed() -> None:
        now = datetime.now(UTC)  # the CLI runs on the system clock
        crm = CrmService.open(settings, clock=FixedClock(now))
        try:
            await crm.reference.seed_dispositions()
            await write_history(crm, now, n=800)
        finally:
            await crm.close()

    asyncio.run(seed())
    monkeypatch.setenv("DIALCRM_DATABASE_URL", url)
    monkeypatch.setenv("DIALCRM_MODEL_DIR", str(tmp_path / "models"))
    assert main(["models", "retrain", "--kind", "conversion", "--force"]) == 0
    out = capsys.readouterr().out
    assert "conversion: trained conversion-" in out and "800 customers scored" in out
    auc = float(out.split("AUC ")[1].split(",")[0])
    assert auc > 0.6 and "nurture" in out  # the labels were real: sales in the last 30 days
    assert len(list((tmp_path / "models").glob("conversion-*/routing.json"))) == 1
