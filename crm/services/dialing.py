"""A campaign's settings as the manager console edits them: the CRM campaign (window, time zone,
retry rules) and how it dials (:class:`crm.db.models_dialing.CampaignDialing`), changed together
in one transaction, validated field by field, with one audit entry holding before and after.

The dialing settings and their rules are :mod:`crm.domain.dialing_settings` (the one definition,
which the dialer's ``CampaignConfig`` checks too); the dialer validates again when it is given
the settings.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models_dialing import CampaignDialing
from crm.db.models_ops import Campaign
from crm.domain.dialing_settings import STORED_FIELDS, problems
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock
from crm.services import campaigns as campaign_rules
from crm.services.common import audit, transaction

# The console's dialing settings (the CRM's row; the dialer's config takes those of them that
# are the dialer's: dialing_settings.CONFIG_FIELDS).
DIALING_FIELDS = STORED_FIELDS


def campaign_fields() -> tuple[str, ...]:
    """The CRM campaign's editable fields (retry rules included, as the CRM defines them)."""
    return tuple(f for f in campaign_rules._CAMPAIGN_FIELDS if f != "manager_id")


def check_dialing(values: dict[str, Any]) -> None:
    """Raise :class:`InvalidInputError` naming the first bad field."""
    for key, value in values.items():
        if key not in DIALING_FIELDS:
            raise InvalidInputError(key, "unknown field")
        if value is None:
            raise InvalidInputError(key, f"{key} must not be null")
    found = problems(values)
    if found:
        raise InvalidInputError(*found[0])


def dialing_json(row: CampaignDialing) -> dict[str, Any]:
    return {k: getattr(row, k) for k in DIALING_FIELDS}


def campaign_json(c: Campaign) -> dict[str, Any]:
    data = {k: getattr(c, k, None) for k in ("id", "name", "status", *campaign_fields())}
    data["id"] = str(c.id)
    data["manager_id"] = str(c.manager_id) if c.manager_id else None
    return data


class DialingSettingsService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, campaign_id: uuid.UUID) -> dict[str, Any]:
        """``{"campaign": {...}, "dialing": {...}}`` (dialing defaults when never saved)."""
        async with self._sessions() as s:
            campaign = await s.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError("campaign", campaign_id)
            row = await s.get(CampaignDialing, campaign_id) or CampaignDialing(
                campaign_id=campaign_id)
            return {"campaign": campaign_json(campaign), "dialing": dialing_json(row)}

    async def update(self, campaign_id: uuid.UUID, campaign_values: dict[str, Any],
                     dialing_values: dict[str, Any], *,
                     actor_id: uuid.UUID | None = None) -> dict[str, Any]:
        """Apply both parts at once; returns the new settings and ``changed`` (before/after of
        each field whose value changed). Nothing is written when any field is invalid."""
        for key in campaign_values:
            if key not in campaign_fields():
                raise InvalidInputError(key, "unknown field")
        campaign_rules._check_campaign_values(campaign_values)
        check_dialing(dialing_values)
        async with transaction(self._sessions) as s:
            campaign = await s.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError("campaign", campaign_id)
            row = await s.get(CampaignDialing, campaign_id)
            if row is None:
                row = CampaignDialing(campaign_id=campaign_id)
                s.add(row)
            changed = _apply(campaign, campaign_values) | _apply(row, dialing_values)
            _check_window(campaign)
            if changed:
                row.updated_at = self._clock.now()
                row.updated_by = actor_id
                audit(s, actor_id, "campaign.settings_changed", "campaign", campaign_id,
                      {"before": {k: v[0] for k, v in changed.items()},
                       "after": {k: v[1] for k, v in changed.items()}})
            result = {"campaign": campaign_json(campaign), "dialing": dialing_json(row)}
        return {**result, "changed": sorted(changed)}


def _apply(target: Any, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    changed = {}
    for key, value in values.items():
        before = getattr(target, key)
        if before != value:
            changed[key] = (_plain(before), _plain(value))
            setattr(target, key, value)
    return changed


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _check_window(campaign: Campaign) -> None:
    if campaign.window_start == campaign.window_end:
        raise InvalidInputError("window_end", "the calling window is empty (start = end)")
