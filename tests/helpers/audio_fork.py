"""One live call with the audio fork on the real sandbox: a progressive call to a sim-pstn
human bridged to a SIPp agent phone, its transcript segments timed on their way to the CRM."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ari_app.ari import AriEvent
from ari_app.dialer.model import CampaignConfig, DialMode
from ari_app.speech.live import AudioForks
from ari_app.testing import DialerRig, wait_until
from web.transcripts.wiring import attach_forks

# Human, answers after 1 s, stays 10 s after the sentence ("...the price is too expensive...").
HUMAN = "+8613900000100"


@dataclass
class RecordingCrm:
    """The rig's CRM port, noting when each transcript segment reached it (``arrived``) and
    when the CRM accepted it (``segments``)."""

    inner: Any
    arrived: dict[str, tuple[float, str, dict[str, Any]]] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        self.arrived.setdefault(str(segment["segment_id"]), (time.time(), call_id, dict(segment)))
        await self.inner.push_transcript(call_id, segment)
        self.accepted.setdefault(str(segment["segment_id"]), time.time())

    def of_call(self, call_id: str) -> list[tuple[float, dict[str, Any]]]:
        return sorted((at, seg) for at, cid, seg in self.arrived.values() if cid == call_id)


async def one_call(rig: DialerRig, forks: AudioForks, extension: str, sipp_phone,
                    during: Callable[[], Awaitable[None]] | None = None,
                    ) -> tuple[str, float, RecordingCrm]:
    """Dial HUMAN progressively to ``extension`` (running ``during`` meanwhile); return the
    call id and when it ended."""
    crm = RecordingCrm(rig.dialer.crm)
    rig.dialer.crm = crm
    attach_forks(rig.dialer, forks)
    ended: dict[str, float] = {}

    async def watch(event: AriEvent) -> None:
        if event.type == "ChannelDestroyed" and (event.channel_id or "").startswith("call-") \
                and ";2" not in (event.channel_id or ""):
            ended[event.channel_id or ""] = time.time()

    rig.stream.on_event.on_any(watch)  # type: ignore[attr-defined]
    campaign_id = await rig.campaign_with_leads("fork", [HUMAN])
    await sipp_phone(extension)
    await rig.dialer.login(f"agent{extension}", extension, campaign_id)
    rig.auto_dispose("not_interested")
    await rig.dialer.start_campaign(CampaignConfig(campaign_id, mode=DialMode.PROGRESSIVE))
    if during is not None:
        await during()

    async def call_ended() -> bool:
        return bool(ended)

    await wait_until(call_ended, timeout=90, what="the call to end")
    call_id = next(iter(ended))
    await forks.wait_stopped(call_id, timeout=60)

    async def delivered() -> bool:
        stats = (await rig.store.outbox_stats()).get("transcripts")
        return stats is not None and stats["pending"] == 0

    async def stored() -> bool:  # every segment the forks recorded was stored by the CRM
        recorded = await rig.store.all_payloads("transcripts")
        return bool(recorded) and all(p["segment"]["segment_id"] in crm.accepted
                                      for p in recorded)

    await wait_until(stored, timeout=60, what="the transcript segments to be stored by the CRM")
    async def answered() -> bool:  # the attempt reaches the CRM through its own outbox lane
        return (await rig.leads(campaign_id))[HUMAN].last_outcome is not None

    await wait_until(answered, timeout=30, what="the call's outcome in the CRM")
    leads = await rig.leads(campaign_id)
    assert leads[HUMAN].last_outcome == "answered", "the fork must never disturb the call"
    return call_id, ended[call_id], crm
