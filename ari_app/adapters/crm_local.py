"""The dialer's CRM port, in-process: calls :class:`crm.service.CrmService` directly.

Translates between the dialer's plain values and the CRM's types; nothing more.
CRM errors propagate (the outbox keeps the job and retries; a job the CRM will
never accept — e.g. a lead deleted meanwhile — is logged and dropped).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ari_app.dialer.model import Outcome
from ari_app.dialer.ports import DispositionCode, Lead, lead_list_of
from crm.domain.callbacks import ClaimFor
from crm.domain.enums import AttemptOutcome
from crm.errors import AlreadyExistsError, NotFoundError
from crm.service import CrmService

log = logging.getLogger(__name__)


class LocalCrm:
    """Implements both ``LeadSource`` and ``CrmSink`` over one ``CrmService``."""

    def __init__(self, crm: CrmService, lock_ttl: timedelta = timedelta(minutes=5)) -> None:
        self.crm = crm
        self.lock_ttl = lock_ttl

    # LeadSource
    async def claim(self, campaign_id: str, worker: str, limit: int,
                    who: ClaimFor | None = None) -> Sequence[Lead]:
        views = await self.crm.claim_leads(uuid.UUID(campaign_id), worker, limit, self.lock_ttl,
                                           who)
        return [
            Lead(lead_id=str(v.id), campaign_id=str(v.campaign_id),
                 customer_id=str(v.customer_id), number=v.phone_e164, priority=v.priority,
                 attempts=v.attempts, p_answer=v.p_answer,
                 route=v.route, p_convert=v.p_convert, list_id=lead_list_of(v.created_at),
                 owner=v.callback_owner)
            for v in views
        ]

    async def release(self, lead_ids: Sequence[str], worker: str) -> None:
        await self.crm.unlock_leads([uuid.UUID(i) for i in lead_ids], worker)

    async def record_attempt(self, lead_id: str, outcome: Outcome, *, worker: str, call_id: str,
                             disposition: str | None = None, callback_at: str | None = None,
                             callback_owner: str | None = None) -> None:
        when = datetime.fromisoformat(callback_at) if callback_at else None
        try:
            await self.crm.record_attempt(
                uuid.UUID(lead_id), AttemptOutcome(outcome.value), worker=worker,
                call_id=call_id, disposition=disposition, callback_at=when,
                callback_owner=callback_owner,
            )
        except NotFoundError:
            log.warning("lead %s no longer exists; attempt of call %s dropped", lead_id, call_id)

    # CrmSink
    async def push_call_event(self, payload: Mapping[str, Any]) -> None:
        await self.crm.ingest_call_event(payload)

    async def store_recording(self, call_id: str, audio: bytes, seconds: float | None) -> str:
        await self.crm.store_recording(call_id, audio)
        return f"/api/calls/{call_id}/recording"

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        await self.crm.add_transcript_segment(call_id, dict(segment))

    async def add_dnc(self, number: str, campaign_id: str | None, reason: str) -> None:
        try:
            await self.crm.dnc.add(
                number, campaign_id=uuid.UUID(campaign_id) if campaign_id else None,
                reason=reason,
            )
        except AlreadyExistsError:
            pass

    async def dispositions(self, campaign_id: str) -> Sequence[DispositionCode]:
        try:
            campaign = uuid.UUID(campaign_id)
        except ValueError:  # not a CRM campaign: every campaign's codes
            campaign = None
        rows = await self.crm.reference.dispositions(campaign)
        return [DispositionCode(r.code, r.category) for r in rows]

    async def abandon_counts(self, campaign_id: str, since: float) -> tuple[int, int]:
        return await self.crm.abandon_counts(uuid.UUID(campaign_id),
                                             datetime.fromtimestamp(since, UTC))

    async def supervisor_todo(self, campaign_id: str, key: str, title: Mapping[str, str],
                              evidence: Sequence[str]) -> None:
        try:
            await self.crm.supervisor_alert(uuid.UUID(campaign_id), key, title, evidence)
        except ValueError:  # not a CRM campaign (an id that is no UUID): nobody to tell
            log.warning("campaign %s is not a CRM campaign; to-do %s dropped", campaign_id, key)
