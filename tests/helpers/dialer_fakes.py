"""In-memory fakes of the dialer's ports (telephony, CRM, clock) and helpers to drive them:
the dialer's use cases run on these in the unit tests (no Asterisk, no CRM)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ari_app.ari import AriEvent, AsteriskInfo, BridgeInfo, ChannelInfo, EventRouter, Reconnected
from ari_app.dialer.bus import EventBus
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import AgentState, CampaignConfig, DialMode, Outcome
from ari_app.dialer.ports import Lead
from ari_app.dialer.store import DialerStore
from ari_app.errors import AriNotFound, AriRequestFailed
from crm.domain.callbacks import ClaimFor, claimable


class FakeControl:
    """Records every verb; answers agent legs at once (like a SIPp phone)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.router: EventRouter | None = None
        self.channels: set[str] = set()
        self.refuse_originate = False
        self.hold_originate: asyncio.Event | None = None  # customer originates wait for it
        self.started = "2026-11-26T08:00:00.000+0000"
        self.noted_hangups: set[str] = set()  # originated with note_hangup
        self.hangup_times: dict[str, float] = {}  # what the hangup handler kept

    def verbs(self, name: str) -> list[tuple[Any, ...]]:
        return [args for verb, args in self.log if verb == name]

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str = "",
                        caller_id: str | None = None, timeout_s: int = 30,
                        formats: str | None = None,
                        variables: Mapping[str, str] | None = None,
                        note_hangup: bool = False) -> dict[str, Any]:
        self.log.append(("originate", (endpoint, channel_id, app_args)))
        if note_hangup:
            self.noted_hangups.add(channel_id)
        if self.refuse_originate:
            raise AriRequestFailed("POST", "/channels", 500, "Allocation failed")
        if self.hold_originate is not None and app_args == "customer":
            await self.hold_originate.wait()
        self.channels.add(channel_id)
        if app_args.startswith("agent") and self.router is not None:
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self.emit("StasisStart", channel_id, ["agent"])))
        return {"id": channel_id}

    async def emit(
        self, kind: str, channel_id: str, args: Sequence[str] = (), **extra: Any
    ) -> None:
        assert self.router is not None
        data = {"type": kind, "channel": {"id": channel_id, "state": "Up"}, "args": list(args),
                **extra}
        if kind == "ChannelDestroyed":
            self.channels.discard(channel_id)
        await self.router(AriEvent.from_json(data))

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        self.log.append(("continue", (channel_id, context)))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self.log.append(("set_variable", (channel_id, name, value)))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.log.append(("hangup", (channel_id,)))

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        self.log.append(("start_moh", (channel_id, moh_class)))

    async def stop_moh(self, channel_id: str) -> None:
        self.log.append(("stop_moh", (channel_id,)))

    async def mute(self, channel_id: str, direction: str = "in") -> None:
        self.log.append(("mute", (channel_id, direction)))

    async def unmute(self, channel_id: str, direction: str = "in") -> None:
        self.log.append(("unmute", (channel_id, direction)))

    async def subscribe_channel(self, channel_id: str) -> None:
        self.log.append(("subscribe", (channel_id,)))
        if channel_id not in self.channels:
            raise AriNotFound("POST", "/applications/x/subscription", 404, "not found")

    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None:
        self.log.append(("create_bridge", (bridge_id,)))

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        self.log.append(("add_to_bridge", (bridge_id, channel_id)))

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        self.log.append(("remove_from_bridge", (bridge_id, channel_id)))

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.log.append(("destroy_bridge", (bridge_id,)))

    async def play(self, target: str, target_id: str, media: str, playback_id: str) -> None:
        self.log.append(("play", (target_id, media, playback_id)))

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> None:
        self.log.append(("record", (bridge_id, name)))

    async def stop_recording(self, name: str) -> None:
        self.log.append(("stop_recording", (name,)))

    async def stored_recording(self, name: str) -> bytes:
        return b"RIFF" + (36).to_bytes(4, "little") + b"WAVE" + b"\0" * 32

    async def delete_stored_recording(self, name: str) -> None: ...

    async def list_channels(self) -> list[ChannelInfo]:
        return [ChannelInfo(c) for c in self.channels]

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo(startup_time=self.started)

    async def list_bridges(self) -> list[BridgeInfo]:
        return [BridgeInfo("agentbridge-a1"), BridgeInfo("agentbridge-a2")]

    async def hangup_time(self, channel_id: str) -> float | None:
        return self.hangup_times.get(channel_id)

    async def forget_hangup_time(self, channel_id: str) -> None:
        self.log.append(("forget_hangup_time", (channel_id,)))
        self.hangup_times.pop(channel_id, None)


class FakeCrm:
    def __init__(self, leads: list[Lead]) -> None:
        self.leads = list(leads)
        self.attempts: list[dict[str, Any]] = []
        self.events: list[Mapping[str, Any]] = []
        self.dnc: list[str] = []
        self.dnc_campaigns: list[str | None] = []
        self.transcripts: list[tuple[str, Mapping[str, Any]]] = []
        self.todos: list[dict[str, Any]] = []
        self.abandons: dict[str, tuple[int, int]] = {}  # campaign -> (live answers, abandons)
        self.changed = asyncio.Event()
        self.claims: list[ClaimFor] = []
        self.due = datetime.now(UTC)  # the due time of every personal callback (owner set)

    async def claim(self, campaign_id: str, worker: str, limit: int,
                    who: ClaimFor | None = None) -> Sequence[Lead]:
        who = who or ClaimFor()
        fits = [lead for lead in self.leads
                if claimable(lead.owner, self.due, datetime.now(UTC), who)][:limit]
        self.leads = [lead for lead in self.leads if lead not in fits]
        self.claims.append(who)
        return fits

    async def release(self, lead_ids: Sequence[str], worker: str) -> None: ...

    async def record_attempt(self, lead_id: str, outcome: Outcome, *, worker: str, call_id: str,
                             disposition: str | None = None, callback_at: str | None = None,
                             callback_owner: str | None = None) -> None:
        attempt = {"lead_id": lead_id, "outcome": outcome.value,
                   "disposition": disposition, "callback_at": callback_at}
        if callback_owner is not None:
            attempt["callback_owner"] = callback_owner
        self.attempts.append(attempt)
        self.changed.set()

    async def push_call_event(self, payload: Mapping[str, Any]) -> None:
        self.events.append(payload)
        self.changed.set()

    async def store_recording(self, call_id: str, audio: bytes, seconds: float | None) -> str:
        return f"/api/calls/{call_id}/recording"

    async def add_dnc(self, number: str, campaign_id: str | None, reason: str) -> None:
        self.dnc.append(number)
        self.dnc_campaigns.append(campaign_id)  # None: the global list
        self.changed.set()

    async def push_transcript(self, call_id: str, segment: Mapping[str, Any]) -> None:
        self.transcripts.append((call_id, segment))

    async def abandon_counts(self, campaign_id: str, since: float) -> tuple[int, int]:
        return self.abandons.get(campaign_id, (0, 0))

    async def supervisor_todo(self, campaign_id: str, key: str, title: Mapping[str, str],
                              evidence: Sequence[str]) -> None:
        self.todos.append({"campaign_id": campaign_id, "key": key, "title": dict(title),
                           "evidence": list(evidence)})
        self.changed.set()


class Clock:
    def now(self) -> float:
        return asyncio.get_running_loop().time()


async def until(check: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - polling a status in a test is the point
            await asyncio.sleep(0.01)


def lead(n: int) -> Lead:
    return Lead(f"lead{n}", "c1", f"cust{n}", f"+86138001380{n:02d}")


async def customer_answers(control: FakeControl, call_id: str, amd: str = "HUMAN") -> None:
    await control.emit("StasisStart", call_id, ["customer"])
    await control.emit("StasisStart", call_id, ["amd", amd, "x"])


@asynccontextmanager
async def running_dialer(tmp_path: Path, crm: FakeCrm,
                         control: FakeControl | None = None) -> AsyncIterator[Dialer]:
    """A started, connected dialer on the fakes (its store in ``tmp_path``), stopped after."""
    control = control or FakeControl()
    store = DialerStore(tmp_path / "dialer.sqlite3")
    await store.open()
    dialer = Dialer(control, store, crm, crm, EventBus(), Clock(), worker="w1")
    router = EventRouter()
    dialer.register(router)
    control.router = router
    await dialer.start()
    await dialer.on_connected(Reconnected(0))
    try:
        yield dialer
    finally:
        await dialer.stop()
        await store.close()


async def on_call(dialer: Dialer, control: FakeControl) -> str:
    """Agent a1 of a progressive campaign c1 is bridged to a customer who answered."""
    await dialer.start_campaign(CampaignConfig("c1", mode=DialMode.PROGRESSIVE))
    await dialer.login("a1", "1001", "c1")
    await until(lambda: len(control.verbs("originate")) == 2)
    call_id: str = control.verbs("originate")[1][1]
    await customer_answers(control, call_id)
    assert dialer.agents.sessions["a1"].state is AgentState.ON_CALL
    return call_id


class SnoopControl(FakeControl):
    """FakeControl plus snoop; supervisor phones and snoops enter the app at once."""

    def __init__(self) -> None:
        super().__init__()
        self.phone_answers = True

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str = "",
                        **kwargs: Any) -> dict[str, Any]:
        result = await super().originate(endpoint, channel_id=channel_id, app_args=app_args,
                                         **kwargs)
        if app_args.startswith("monitor,"):
            kind = "StasisStart" if self.phone_answers else "ChannelDestroyed"
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self.emit(kind, channel_id, app_args.split(","))))
        return result

    async def snoop(self, channel_id: str, *, snoop_id: str, spy: str = "in",
                    whisper: str = "none", app_args: str = "") -> dict[str, Any]:
        self.log.append(("snoop", (channel_id, snoop_id, spy, whisper)))
        self.channels.add(snoop_id)
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(self.emit("StasisStart", snoop_id,
                                                    app_args.split(","))))
        return {"id": snoop_id}

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        self.log.append(("remove_from_bridge", (bridge_id, channel_id)))
