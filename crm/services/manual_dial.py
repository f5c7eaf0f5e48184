"""Manual dial (click-to-call, issue 13 item 2): the CRM's side of an agent dialing one number.

The same checks as the hopper's claim: the campaign's DNC scopes (global and the campaign's),
the calling window in the number's own zone(s) (a manager may override it with a reason,
audited); plus who may dial: an agent only in a campaign they are a member of, and only a
customer they may see (:mod:`crm.domain.access`). The call needs a lead (the dialer records its
attempt on one): the campaign's lead for that number, or a new one for the customer; it is
locked for the dialer's worker while the call is placed, as a claim would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.leads import window_of
from crm.db.models import PhoneNumber
from crm.db.models_members import CampaignMember
from crm.db.models_ops import GLOBAL_SCOPE, Campaign, DncEntry, Lead
from crm.domain.access import Principal, may_join_campaign, may_see_customer
from crm.domain.enums import LeadStatus, Role
from crm.domain.phones import normalise_number, zones_for_number
from crm.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from crm.ports import Clock
from crm.services.access import customer_reach
from crm.services.common import audit, transaction

LOCK = timedelta(minutes=10)  # the claim of a manual call (record_attempt frees it)
OVERRIDERS = (Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class ManualLead:
    lead_id: uuid.UUID
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    e164: str
    window_overridden: bool = False


class ManualDialService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 region: str, timezone: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._region = region
        self._tz = timezone

    async def prepare(self, who: Principal, campaign_id: uuid.UUID, *, worker: str,
                      number: str | None = None, customer_id: uuid.UUID | None = None,
                      override_reason: str | None = None) -> ManualLead:
        """Check and claim: raises naming the field (``campaign_id``, ``number``,
        ``customer_id``, ``override_reason``) when the dial is refused."""
        if number is None and customer_id is None:
            raise InvalidInputError("number", "give a number or a customer to dial")
        async with transaction(self._sessions) as s:
            campaign = await s.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError("campaign", campaign_id)
            member = await s.get(CampaignMember, (campaign_id, who.user_id)) is not None
            may_join_campaign(who, campaign, member=member)
            customer_id, e164 = await self._target(s, number, customer_id)
            may_see_customer(who, await customer_reach(s, customer_id))
            await self._check_dnc(s, e164, campaign_id)
            overridden = self._check_window(who, campaign, e164, override_reason)
            lead = await self._lead(s, campaign_id, customer_id, e164, who, worker)
            audit(s, who.user_id, "call.manual_dial", "lead", lead.id,
                  {"number": e164, "campaign_id": str(campaign_id),
                   **({"window_override": override_reason} if overridden else {})})
            return ManualLead(lead.id, campaign_id, customer_id, e164, overridden)

    async def release(self, lead_id: uuid.UUID, worker: str) -> None:
        """The dial was not placed after all: free the lead's claim."""
        async with transaction(self._sessions) as s:
            await s.execute(sa.update(Lead).where(col(Lead.id) == lead_id,
                                                  col(Lead.locked_by) == worker)
                            .values(locked_by=None, locked_until=None))

    async def _target(self, s: AsyncSession, number: str | None,
                      customer_id: uuid.UUID | None) -> tuple[uuid.UUID, str]:
        if number is not None:
            e164 = normalise_number(number, self._region, field="number").e164
            owner = await s.scalar(sa.select(col(PhoneNumber.customer_id))
                                   .where(col(PhoneNumber.e164) == e164))
            if owner is None:
                raise InvalidInputError("number", "no customer has this number")
            if customer_id is not None and owner != customer_id:
                raise InvalidInputError("number", "not a number of this customer")
            return owner, e164
        assert customer_id is not None
        first = await s.scalar(sa.select(col(PhoneNumber.e164))
                               .where(col(PhoneNumber.customer_id) == customer_id)
                               .order_by(col(PhoneNumber.created_at)).limit(1))
        if first is None:
            raise InvalidInputError("customer_id", "the customer has no number to dial")
        return customer_id, first

    @staticmethod
    async def _check_dnc(s: AsyncSession, e164: str, campaign_id: uuid.UUID) -> None:
        listed = await s.scalar(sa.select(col(DncEntry.id)).where(
            col(DncEntry.e164) == e164,
            col(DncEntry.scope).in_([GLOBAL_SCOPE, str(campaign_id)])))
        if listed is not None:
            raise InvalidInputError("number", "the number is on the do-not-call list")

    def _check_window(self, who: Principal, campaign: Campaign, e164: str,
                      reason: str | None) -> bool:
        zones = zones_for_number(e164) or (campaign.timezone or self._tz,)
        now = self._clock.now()
        if all(window_of(campaign).allows(now, zone) for zone in zones):
            return False
        if not reason:
            raise InvalidInputError(
                "number", "outside the campaign's calling window in the number's time zone")
        if who.role not in OVERRIDERS:
            raise PermissionDeniedError("only a manager may override the calling window",
                                        details={"field": "override_reason"})
        return True

    async def _lead(self, s: AsyncSession, campaign_id: uuid.UUID, customer_id: uuid.UUID,
                    e164: str, who: Principal, worker: str) -> Lead:
        now = self._clock.now()
        lead = await s.scalar(sa.select(Lead).where(col(Lead.campaign_id) == campaign_id,
                                                   col(Lead.phone_e164) == e164))
        if lead is None:
            lead = Lead(campaign_id=campaign_id, customer_id=customer_id, phone_e164=e164,
                        agent_id=who.user_id if who.role is Role.AGENT else None,
                        status=LeadStatus.NEW.value, created_at=now, updated_at=now)
            s.add(lead)
        elif lead.locked_until is not None and lead.locked_until > now \
                and lead.locked_by not in (None, worker):
            raise ConflictError("the lead is being dialed already",
                                details={"field": "number"})
        elif lead.status == LeadStatus.DNC.value:
            raise InvalidInputError("number", "the number is on the do-not-call list")
        lead.locked_by, lead.locked_until = worker, now + LOCK
        await s.flush()
        return lead
