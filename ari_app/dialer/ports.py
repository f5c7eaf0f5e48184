"""The ports the dialer's services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ari_app.ari.resources import AsteriskInfo, BridgeInfo, ChannelInfo
from ari_app.dialer.model import Outcome
from crm.domain.callbacks import ClaimFor


@dataclass(frozen=True)
class Lead:
    """What the dialer needs of a lead it has claimed."""

    lead_id: str
    campaign_id: str
    customer_id: str
    number: str  # E.164 (+8613800138000)
    priority: int = 0
    p_answer: float | None = None
    attempts: int = 0
    route: str | None = None  # conversion route: "senior", "standard" (nurture is never claimed)
    p_convert: float | None = None
    list_id: str | None = None  # the list the lead came with (lead_list_of); pacing uses it
    owner: str | None = None  # a personal callback's agent: dialed only for them


def lead_list_of(created_at: datetime | str | None) -> str | None:
    """The list a lead belongs to, for the pacing's per-list answer rates.

    The CRM's leads carry no list or import-batch field; an import writes its rows within
    minutes, so the list is the UTC hour the lead was created in ("2026-12-07T14"): the leads of
    one import share it, a list imported later in the day gets its own."""
    if created_at is None:
        return None
    if isinstance(created_at, str):
        try:
            created_at = datetime.fromisoformat(created_at)
        except ValueError:
            return None
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC)
    return created_at.strftime("%Y-%m-%dT%H")


class CallControl(Protocol):
    """Telephony verbs (implemented by :class:`ari_app.ari.AriClient`)."""

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str = "",
                        caller_id: str | None = None, timeout_s: int = 30,
                        formats: str | None = None,
                        variables: Mapping[str, str] | None = None,
                        note_hangup: bool = False) -> object: ...

    async def subscribe_channel(self, channel_id: str) -> None: ...

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    async def set_variable(self, channel_id: str, name: str, value: str) -> None: ...

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None: ...

    async def stop_moh(self, channel_id: str) -> None: ...

    async def mute(self, channel_id: str, direction: str = "in") -> None: ...

    async def unmute(self, channel_id: str, direction: str = "in") -> None: ...

    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None: ...

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None: ...

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...

    async def play(self, target: str, target_id: str, media: str, playback_id: str) -> None: ...

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> None: ...

    async def stop_recording(self, name: str) -> None: ...

    async def stored_recording(self, name: str) -> bytes: ...

    async def delete_stored_recording(self, name: str) -> None: ...

    async def list_channels(self) -> Sequence[ChannelInfo]: ...

    async def list_bridges(self) -> Sequence[BridgeInfo]: ...

    async def asterisk_info(self) -> AsteriskInfo: ...

    async def hangup_time(self, channel_id: str) -> float | None:
        """When Asterisk hung up a channel originated with ``note_hangup`` (epoch seconds),
        if it kept the time: how a call that ended while nobody listened is closed."""
        ...

    async def forget_hangup_time(self, channel_id: str) -> None: ...


class LeadSource(Protocol):
    """The hopper's store of leads (the CRM, in-process or over HTTP)."""

    async def claim(self, campaign_id: str, worker: str, limit: int,
                    who: ClaimFor | None = None) -> Sequence[Lead]:
        """Due leads; personal callbacks only as ``who`` allows (crm.domain.callbacks)."""

    async def release(self, lead_ids: Sequence[str], worker: str) -> None: ...

    async def record_attempt(self, lead_id: str, outcome: Outcome, *, worker: str, call_id: str,
                             disposition: str | None = None, callback_at: str | None = None,
                             callback_owner: str | None = None) -> None: ...


@dataclass(frozen=True)
class DispositionCode:
    """A wrap-up code a campaign accepts and its category: ``success``, ``contact``,
    ``no_contact``, ``callback`` (needs a callback time) or ``dnc`` (the number goes on the
    do-not-call list)."""

    code: str
    category: str


class DispositionSource(Protocol):
    """The campaigns' wrap-up codes (the CRM's table, issue 13 item 7)."""

    async def dispositions(self, campaign_id: str) -> Sequence[DispositionCode]:
        """The codes ``campaign_id`` accepts: every campaign's and its own (empty: none set)."""
        ...


class AbandonCounts(Protocol):
    """The CRM's abandon figures of a campaign (the abandon brake's windows, issue 18)."""

    async def abandon_counts(self, campaign_id: str, since: float) -> tuple[int, int]:
        """(live answers, abandons) of the campaign's calls originated since ``since``
        (seconds since the epoch), from the CRM's call records."""
        ...


class CrmSink(AbandonCounts, Protocol):
    """Where call events and recordings go. Raises on failure; the outbox retries."""

    async def push_call_event(self, payload: Mapping[str, Any]) -> None: ...

    async def store_recording(self, call_id: str, audio: bytes, seconds: float | None) -> str:
        """Store the audio; return the URL (through the CRM) of the recording."""
        ...

    async def add_dnc(self, number: str, campaign_id: str | None, reason: str) -> None: ...

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        """Store one transcript segment (or gap marker) of a call; idempotent by
        ``segment["segment_id"]``. Segment: ``segment_id``, ``speaker`` ("customer" |
        "agent"), ``start_s``, ``end_s`` (seconds from the customer being bridged), and either
        ``text``, ``confidence``, ``language`` or ``gap: true`` with a ``reason``."""
        ...

    async def supervisor_todo(self, campaign_id: str, key: str, title: Mapping[str, str],
                              evidence: Sequence[str]) -> None:
        """A to-do for the campaign's manager (the supervisor's list, the wallboard), e.g. an
        abandon alarm; ``title``: ``{"zh": ..., "en": ...}``; idempotent by ``key``."""
        ...


class Publisher(Protocol):
    """In-process fan-out of events to live views (pops, wallboard). Never blocks."""

    def publish(self, event: object) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...
