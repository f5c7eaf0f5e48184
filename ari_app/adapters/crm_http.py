"""The dialer's CRM port over HTTP: the CRM's REST API, for a dialer on another machine.

Implements ``LeadSource`` and ``CrmSink`` with a bearer token of a ``dialer`` user.
Network errors and 5xx raise :class:`CrmUnavailable` (the outbox keeps the job and
retries). A 404 (the lead or campaign is gone) or 409 (already listed, locked by
another worker) is logged and dropped: retrying could never succeed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ari_app.dialer.model import Outcome
from ari_app.dialer.ports import DispositionCode, Lead, lead_list_of
from ari_app.errors import DialerError
from crm.domain.callbacks import ClaimFor

log = logging.getLogger(__name__)


class CrmUnavailable(DialerError):
    """The CRM did not answer, or answered 5xx."""


class CrmRejected(DialerError):
    """The CRM refused the request (4xx other than 404/409)."""


class HttpCrm:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.timeout = timeout
        self._session = session

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                    params: Mapping[str, str] | None = None,
                    content_type: str | None = None) -> tuple[int, Any]:
        headers = {**self.headers, **({"Content-Type": content_type} if content_type else {})}
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.request(method, self.base + path, json=json, data=data,
                                                params=params, headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CrmUnavailable(f"CRM {method} {path}: {exc or type(exc).__name__}") from None
        if status >= 500:
            raise CrmUnavailable(f"CRM {method} {path} -> {status}")
        if status in (404, 409):
            log.warning("CRM %s %s -> %s %s: dropped", method, path, status, body)
        elif status >= 400:
            raise CrmRejected(f"CRM {method} {path} -> {status}: {body}")
        return status, body

    # LeadSource
    async def claim(self, campaign_id: str, worker: str, limit: int,
                    who: ClaimFor | None = None) -> Sequence[Lead]:
        who = who or ClaimFor()
        status, body = await self._send(
            "POST", f"/api/campaigns/{campaign_id}/hopper/claim",
            json={"worker": worker, "limit": limit, "owners": list(who.owners),
                  "present": list(who.present),
                  "grace_minutes": who.grace.total_seconds() / 60})
        if status != 200:
            return []
        return [Lead(lead_id=i["id"], campaign_id=i["campaign_id"],
                     customer_id=i["customer_id"], number=i["phone_e164"],
                     priority=i["priority"], attempts=i["attempts"],
                     p_answer=i.get("p_answer"), route=i.get("route"),
                     p_convert=i.get("p_convert"), list_id=lead_list_of(i.get("created_at")),
                     owner=i.get("callback_owner"))
                for i in body["items"]]

    async def release(self, lead_ids: Sequence[str], worker: str) -> None:
        await self._send("POST", "/api/hopper/release",
                         json={"worker": worker, "lead_ids": list(lead_ids)})

    async def record_attempt(self, lead_id: str, outcome: Outcome, *, worker: str, call_id: str,
                             disposition: str | None = None, callback_at: str | None = None,
                             callback_owner: str | None = None) -> None:
        await self._send("POST", f"/api/leads/{lead_id}/attempts", json={
            "outcome": outcome.value, "worker": worker, "call_id": call_id,
            "disposition": disposition, "callback_at": callback_at,
            "callback_owner": callback_owner})

    # CrmSink
    async def push_call_event(self, payload: Mapping[str, Any]) -> None:
        await self._send("POST", "/api/calls", json=dict(payload))

    async def store_recording(self, call_id: str, audio: bytes, seconds: float | None) -> str:
        params = {"duration_seconds": f"{seconds:.3f}"} if seconds else None
        await self._send("PUT", f"/api/calls/{call_id}/recording", data=audio, params=params,
                         content_type="audio/wav")
        return f"/api/calls/{call_id}/recording"

    async def add_dnc(self, number: str, campaign_id: str | None, reason: str) -> None:
        await self._send("POST", "/api/dnc",
                         json={"number": number, "campaign_id": campaign_id, "reason": reason})

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        await self._send("POST", f"/api/calls/{call_id}/transcript", json=dict(segment))

    async def dispositions(self, campaign_id: str) -> Sequence[DispositionCode]:
        try:
            params = {"campaign_id": str(uuid.UUID(campaign_id))}
        except ValueError:  # not a CRM campaign: every campaign's codes
            params = {}
        status, body = await self._send("GET", "/api/dispositions", params=params)
        if status != 200:
            return []
        return [DispositionCode(i["code"], i.get("category") or "contact")
                for i in body["items"]]

    async def abandon_counts(self, campaign_id: str, since: float) -> tuple[int, int]:
        at = datetime.fromtimestamp(since, UTC).isoformat()
        status, body = await self._send("GET", f"/api/campaigns/{campaign_id}/abandons",
                                        params={"since": at})
        if status != 200:
            return 0, 0
        return int(body["answered"]), int(body["abandoned"])

    async def supervisor_todo(self, campaign_id: str, key: str, title: Mapping[str, str],
                              evidence: Sequence[str]) -> None:
        await self._send("POST", f"/api/campaigns/{campaign_id}/supervisor-todo", json={
            "key": key, "title_zh": title["zh"], "title_en": title["en"],
            "evidence": list(evidence)})
