"""The opt-out key (issue 14 item 1): a customer presses the campaign's key during a prompt.

While the dialer plays a campaign prompt to a customer (the safe-harbour message of an
abandoned call: phase ``MESSAGE``), ARI's ``ChannelDtmfReceived`` on that customer's channel
is read. The campaign's ``opt_out_key`` puts the number on the do-not-call list (the campaign's
or the global one: ``opt_out_scope``) through the durable outbox's ``dnc`` lane, marks the call
(an ``updated`` call event with disposition ``opted_out``: the call's row, its audit trail and the
reports' disposition counts), and plays the confirmation prompt; the call ends when it is done.
Any other key, a key pressed while talking to an agent, a second press: ignored.
"""

from __future__ import annotations

import logging

from ari_app.ari import AriEvent
from ari_app.dialer import events as ev
from ari_app.dialer.calls import CONFIRM_PREFIX, OPTED_OUT, CallDesk
from ari_app.dialer.model import CallAttempt, CallPhase
from ari_app.errors import TelephonyError

log = logging.getLogger(__name__)

CONFIRM_SOUND = "sound:dialcrm/opt-out-confirm"


class OptOut:
    def __init__(self, calls: CallDesk) -> None:
        self.calls = calls

    async def on_dtmf(self, event: AriEvent) -> None:
        call = self.calls.calls.get(event.channel_id or "")
        if call is None or call.phase is not CallPhase.MESSAGE or OPTED_OUT in call.extra:
            return
        config = self.calls.config_of(call.campaign_id)
        digit = str(event.raw.get("digit", ""))
        if digit != config.opt_out_key:
            log.debug("call %s: key %r is not the opt-out key", call.call_id, digit)
            return
        await self.opt_out(call, "campaign" if config.opt_out_scope == "campaign" else "global")

    async def opt_out(self, call: CallAttempt, scope: str) -> None:
        call.extra[OPTED_OUT] = scope
        log.info("call %s (campaign %s): the customer pressed the opt-out key: %s DNC",
                 call.call_id, call.campaign_id, scope)
        store = self.calls.store
        await store.append(f"dnc-optout-{call.call_id}", "dnc", {
            "number": call.number,
            "campaign_id": call.campaign_id if scope == "campaign" else None,
            "reason": f"opt-out key pressed (call {call.call_id})",
        })
        now = self.calls.clock.now()
        await self.calls.emit(ev.CallEvent(
            "updated", call.call_id, now,
            {**ev.call_identity(call), "disposition": OPTED_OUT},
            event_id=f"optout-{call.call_id}"))
        try:  # queued after the prompt playing now (ARI plays a channel's media in turn)
            await self.calls.control.play("channels", call.call_id, CONFIRM_SOUND,
                                          f"{CONFIRM_PREFIX}:{call.call_id}")
        except TelephonyError as exc:  # the customer is gone: the DNC entry stands
            log.info("call %s: opt-out confirmation: %s", call.call_id, exc)
