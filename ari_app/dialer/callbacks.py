"""Personal callbacks at dialing time (issue 13 item 3): a ready agent's own due callbacks are
claimed for that agent only and reserve them before any pooled lead.

The CRM decides which leads a claim may take (:func:`crm.domain.callbacks.claimable`): a claim
naming owners gets only those owners' personal callbacks; the hopper's general claim gets the
campaign's callbacks and the personal ones fallen back (owner not logged in, grace over), and
says who is logged in through :meth:`CallbackReserver.presence`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from ari_app.dialer.agents import AgentDesk
from ari_app.dialer.model import AgentSession, AgentState, CampaignConfig
from ari_app.dialer.ports import Clock, Lead, LeadSource
from crm.domain.callbacks import ClaimFor

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0  # a ready agent's own callbacks are asked for at most this often


class CallbackReserver:
    """Claims the due personal callbacks of ready agents and reserves their owners."""

    def __init__(self, config: Callable[[], CampaignConfig], agents: AgentDesk,
                 source: LeadSource, worker: str, clock: Clock) -> None:
        self._config = config
        self.agents = agents
        self.source = source
        self.worker = worker
        self.clock = clock
        self._checked: dict[str, float] = {}  # agent -> when their callbacks were last asked

    def presence(self) -> ClaimFor:
        """A general claim's view: who is logged in, and the campaign's grace."""
        config = self._config()
        present = tuple(a.agent_id for a in self.agents.of_campaign(config.campaign_id))
        return ClaimFor((), present, timedelta(minutes=config.callback_grace_min))

    def _due(self, ready: list[AgentSession]) -> list[AgentSession]:
        now = self.clock.now()
        due = [a for a in ready if a.state is AgentState.READY
               and now - self._checked.get(a.agent_id, float("-inf")) >= CHECK_EVERY_S]
        for agent in due:
            self._checked[agent.agent_id] = now
        return due

    async def reserve(self, ready: list[AgentSession]) -> list[tuple[AgentSession, Lead]]:
        """Each ready agent with a due personal callback: reserved, with that callback (one per
        agent); the callbacks not given are released at once."""
        due = self._due(ready)
        if not due:
            return []
        campaign = self._config().campaign_id
        leads = await self.source.claim(campaign, self.worker, len(due),
                                        ClaimFor(tuple(a.agent_id for a in due)))
        owners = {a.agent_id: a for a in due}
        pairs: list[tuple[AgentSession, Lead]] = []
        try:
            for lead in leads:
                agent = owners.pop(lead.owner or "", None)
                if agent is None or agent.state is not AgentState.READY:
                    continue
                await self.agents.move(agent, AgentState.RESERVED)
                pairs.append((agent, lead))
        except Exception:
            await self.undo(pairs)
            pairs = []
            raise
        finally:
            paired = {id(lead) for _, lead in pairs}
            unused = [lead.lead_id for lead in leads if id(lead) not in paired]
            if unused:
                await self.source.release(unused, self.worker)
        for agent, lead in pairs:
            log.info("campaign %s: personal callback %s for agent %s",
                     campaign, lead.lead_id, agent.agent_id)
        return pairs

    async def undo(self, pairs: list[tuple[AgentSession, Lead]]) -> None:
        """Reserved for callbacks never placed: the agents go back to ready, the leads back."""
        for agent, _ in pairs:
            if agent.state is AgentState.RESERVED and agent.call_id is None:
                try:
                    await self.agents.move(agent, AgentState.READY)
                except Exception:  # noqa: BLE001 - the store failed: at least in memory
                    agent.move(AgentState.READY, self.clock.now())
        if pairs:
            await self.source.release([lead.lead_id for _, lead in pairs], self.worker)
