"""Calling windows follow each lead's own time zone, taken from the number when not overridden."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.domain.phones import zones_for_number
from crm.ports import FixedClock
from crm.service import CrmService


@pytest.mark.parametrize(
    ("number", "zones"),
    [("+12125550100", ("America/New_York",)), ("+8613900000090", ("Asia/Shanghai",)),
     ("+442079460000", ("Europe/London",)), ("+15555550100", ())],
)
def test_given_number_then_zones_from_country_and_area(number: str, zones: tuple) -> None:
    assert zones_for_number(number) == zones


async def test_given_shanghai_morning_when_claiming_then_new_york_lead_waits(
    crm_settings,  # noqa: F811
) -> None:
    # 03:00 UTC: 11:00 in Shanghai, 22:00 the evening before in New York.
    crm = CrmService.open(crm_settings, clock=FixedClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC)))
    campaign = await crm.campaigns.create({"name": "zones"})
    rows = [{"phone": "+12125550100", "name": "NY", "timezone": ""},
            {"phone": "+8613900000090", "name": "SH", "timezone": ""},
            {"phone": "+12125550101", "name": "NY override", "timezone": "Asia/Shanghai"}]
    async for _ in crm.import_leads(campaign.id, rows):
        pass

    eligible = await crm.next_eligible_leads(campaign.id, 10)

    assert sorted(v.phone_e164 for v in eligible) == ["+12125550101", "+8613900000090"]
    await crm.close()
