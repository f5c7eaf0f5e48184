"""CSV exports are safe against formula injection (issue 17, #13): a text cell a spreadsheet
would run as a formula gets a leading ``'``; numbers, negative ones too, stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from crm import spreadsheet
from crm.db.engine import make_sessionmaker
from crm.db.models import Call


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_given_formula_like_text_when_written_then_quoted(text: str) -> None:
    out = io.StringIO()
    spreadsheet.writer(out).writerow([text, "plain", "a=b"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'" + text, "plain", "a=b"]


def test_given_negative_numbers_when_written_then_numbers_unchanged() -> None:
    out = io.StringIO()
    spreadsheet.writer(out, lineterminator="\n").writerow([-3, -0.25, 0, None])
    assert out.getvalue() == "-3,-0.25,0,\n"


async def test_given_campaign_named_like_a_formula_when_report_csv_then_cell_escaped(
    crm_client, crm_service, crm_actors
):
    evil = '=HYPERLINK("http://evil.example","click")'
    campaign = await crm_service.campaigns.create({"name": evil})
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    async with make_sessionmaker(crm_service.engine).begin() as s:
        s.add(Call(call_id="f1", campaign_id=campaign.id, state="ended", originated_at=at,
                   ended_at=at, outcome="no_answer"))
    resp = await crm_client.get("/api/reports/campaigns?from=2026-03-01&to=2026-03-03"
                                "&format=csv", headers=crm_actors["admin"].headers)
    table = list(csv.reader(io.StringIO(await resp.text())))
    assert resp.status == 200
    assert table[1][1] == "'" + evil
    assert table[1][2] == "1"
