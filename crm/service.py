"""``CrmService``: the one in-process facade the dialer and the HTTP layer call.

Build it with :meth:`CrmService.open` (creates the engine) or pass an engine you own. Every method
is one transaction and raises only :mod:`crm.errors` types.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from crm.analysis import load_lexicon
from crm.crypto import UrlSigner
from crm.db.engine import make_engine, make_sessionmaker
from crm.db.leads import SqlLeadRepository
from crm.db.models import Recording
from crm.domain.callbacks import ClaimFor
from crm.domain.calls import CallEvent, CallEventType
from crm.domain.enums import AttemptOutcome, Language
from crm.experiments import ExperimentService
from crm.ports import Clock, LeadView, SystemClock
from crm.services.access import AccessFacts
from crm.services.agent_skills import AgentSkillService
from crm.services.answer_models import AnswerModelService
from crm.services.auth import AuthService
from crm.services.calls import CallService
from crm.services.campaigns import CampaignService
from crm.services.conversion_models import ConversionService
from crm.services.customer_360 import Customer360Service
from crm.services.customers import ConflictPolicy, CustomerService
from crm.services.desk import DeskService
from crm.services.dialing import DialingSettingsService
from crm.services.dnc import DncService
from crm.services.import_report import RowResult
from crm.services.imports import LeadImporter
from crm.services.lists import ListService
from crm.services.live_rules import LiveRules
from crm.services.login_throttle import LoginThrottle, ThrottlePolicy
from crm.services.manual_dial import ManualDialService
from crm.services.members import MemberService
from crm.services.privacy import PrivacyService
from crm.services.recording_upkeep import RecordingUpkeep
from crm.services.recordings import EncryptedFileStore, RecordingService
from crm.services.reference import ReferenceService
from crm.services.reports import ReportService
from crm.services.rules_store import RuleAudit, RulesStore
from crm.services.summary import SummaryService
from crm.services.supervision import SupervisionService
from crm.services.transcripts import AddResult, LivePublisher, TranscriptService
from crm.services.work import WorkService
from crm.settings import CrmSettings


class CrmService:
    """Composition of the CRM use cases over one database.

    The sub-services are public attributes for the HTTP layer (``customers``, ``calls``,
    ``work``, ``dnc``, ``campaigns``, ``leads``, ``imports``, ``auth``, ``reference``,
    ``recordings``, ``recording_upkeep``, ``privacy``, ``supervision``); the methods below are
    the dialer's contract.
    """

    def __init__(
        self, settings: CrmSettings, engine: AsyncEngine, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        sessions = make_sessionmaker(engine)
        region, clk = settings.default_region, self.clock
        self.customers = CustomerService(sessions, clk, region)
        self.calls = CallService(sessions, clk, region)
        self.summaries = SummaryService(sessions)
        self.customer360 = Customer360Service(sessions)  # the /customers/{id} page
        self.work = WorkService(sessions, clk)
        self.desk = DeskService(sessions, clk)  # the agent page's reads (callbacks, names)
        self.access = AccessFacts(sessions)  # the facts crm.domain.access decides on
        self.dnc = DncService(sessions, region)
        self.campaigns = CampaignService(sessions, clk)
        self.leads = SqlLeadRepository(sessions, clk, settings.timezone)
        self.answer_models = AnswerModelService(sessions, clk, settings.timezone,
                                                settings.model_dir)
        self.leads.retry_planner = self.answer_models  # best hour of a retry (issue 5)
        self.conversion = ConversionService(  # P(convert) and routes (issue 5 item 4)
            sessions, clk, settings.model_dir, senior_share=settings.conversion_senior_share,
            nurture_share=settings.conversion_nurture_share)
        self.agent_skills = AgentSkillService(sessions, clk)
        self.members = MemberService(sessions, clk)  # campaign members, bound extensions
        self.manual_dial = ManualDialService(sessions, clk, region, settings.timezone)
        self.imports = LeadImporter(sessions, region, settings.import_batch_size)
        self.auth = AuthService(
            sessions,
            clk,
            scrypt_n=settings.password_scrypt_n,
            session_ttl=timedelta(seconds=settings.session_ttl_seconds),
            token_ttl=timedelta(days=settings.token_ttl_days),
            throttle=LoginThrottle(clk, ThrottlePolicy(
                account_free=settings.login_account_failures,
                address_free=settings.login_address_failures,
                cap=timedelta(seconds=settings.login_lockout_max_seconds),
            )),
        )
        self.reference = ReferenceService(sessions)
        self.experiments = ExperimentService(sessions, clk)
        self.dialing = DialingSettingsService(sessions, clk)  # the manager console (issue 7)
        self.lists = ListService(sessions, clk, settings.timezone)
        self.reports = ReportService(sessions, settings.timezone)
        store = EncryptedFileStore(settings.recordings_dir, clk, settings.keyring)
        self.recordings = RecordingService(
            sessions,
            store,
            clk,
            UrlSigner(settings.recording_url_secret),
            timedelta(seconds=settings.recording_url_ttl_seconds),
        )
        self.recording_upkeep = RecordingUpkeep(sessions, store, clk)
        self.privacy = PrivacyService(sessions, store, clk)
        self.lexicon = load_lexicon()
        self.rules = RulesStore(sessions, clk, self.lexicon.concept_names())
        self.live = LiveRules(sessions, clk, self.lexicon, self.rules, settings.timezone,
                              self.calls)
        self.rule_audit = RuleAudit(sessions)
        self.supervision = SupervisionService(sessions, self.rule_audit)  # wallboard, monitor
        self.transcripts = TranscriptService(sessions, clk)
        self.transcripts.processor = self.live
        self.calls.listeners.append(self._on_call_event)

    @classmethod
    def open(cls, settings: CrmSettings, *, clock: Clock | None = None) -> CrmService:
        return cls(
            settings, make_engine(settings.database_url, echo=settings.sql_echo), clock=clock
        )

    async def close(self) -> None:
        await self.engine.dispose()

    # --- the dialer's contract -------------------------------------------------------------
    async def ingest_call_event(self, event: Mapping[str, Any]) -> bool:
        """Store a call event; True if new, False if we already had its ``event_id``."""
        return (await self.calls.ingest(event)).created

    async def add_transcript_segment(self, call_id: str, segment: Mapping[str, Any]) -> AddResult:
        """Store one transcript segment or gap marker (idempotent by ``segment_id``), analyse
        it and run the in-call rules; the call's events may arrive before or after."""
        return await self.transcripts.add(call_id, segment)

    def attach_live(self, publisher: LivePublisher) -> None:
        """Push transcript lines, suggestions and rule tasks to agents (the ``/ws/agent`` hub)."""
        self.live.publisher = publisher

    def on_task_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (in-process, no arguments) after a task is created or updated by
        the task API or by a rule (the wallboard's supervisor to-do list). Returns the
        function that unsubscribes it."""
        self.work.task_listeners.append(listener)
        self.live.task_listeners.append(listener)

        def remove() -> None:
            for listeners in (self.work.task_listeners, self.live.task_listeners):
                if listener in listeners:
                    listeners.remove(listener)

        return remove

    async def _on_call_event(self, event: CallEvent) -> None:
        await self.transcripts.on_call_event(event.call_id)
        if event.type is CallEventType.ENDED:
            await self.live.post_call(event.call_id)

    async def customer_summary(
        self, customer_id: uuid.UUID | str, *, language: Language = Language.ZH,
        campaign_id: uuid.UUID | str | None = None,
    ) -> dict[str, Any]:
        """The screen-pop data: name, numbers, tags, recent contacts, open tasks, script (the
        pre-call rules' choice when its template exists; among every campaign's scripts and
        those of ``campaign_id``, the call's campaign, only)."""
        cid = customer_id if isinstance(customer_id, uuid.UUID) else _uuid(customer_id)
        campaign = _campaign_uuid(campaign_id)
        summary, scripts = await self.summaries.customer_summary_and_scripts(
            cid, language=language, campaign_id=campaign)
        await self.live.apply_pre_call_many([(summary, language.value, campaign)], scripts)
        return summary

    async def customer_summaries(
        self, keys: Sequence[tuple[str, Language, str | None]]
    ) -> dict[tuple[str, Language, str | None], dict[str, Any]]:
        """:meth:`customer_summary` of many (customer id, language, campaign id) keys, a burst
        of screen pops, from one query set; keyed as given. Ids that are not a customer's are
        left out."""
        wanted: dict[tuple[uuid.UUID, Language, uuid.UUID | None],
                     list[tuple[str, Language, str | None]]] = {}
        for given in keys:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                parsed = (uuid.UUID(given[0]), given[1], _campaign_uuid(given[2]))
                wanted.setdefault(parsed, []).append(given)
        found = await self.summaries.customer_summaries(list(wanted))
        await self.live.apply_pre_call_many(
            [(summary, key[1].value, key[2]) for key, summary in found.items()])
        return {given: summary for key, summary in found.items() for given in wanted[key]}

    async def abandon_counts(self, campaign_id: uuid.UUID, since: datetime) -> tuple[int, int]:
        """(live answers, abandons) of the campaign's calls originated since ``since`` (the
        dialer's abandon brake, issue 18)."""
        found = (await self.reports.abandon_rates([campaign_id], since))[str(campaign_id)]
        return found["answered"], found["abandoned"]

    async def supervisor_alert(self, campaign_id: uuid.UUID, key: str, title: Mapping[str, str],
                               evidence: Sequence[str]) -> uuid.UUID | None:
        """A to-do for the campaign's manager on the supervisor's list (and the wallboard's),
        raised by the dialer (an abandon alarm); idempotent by ``key``. Returns the task's id
        (None when ``key`` was seen before)."""
        return await self.live.system_todo(campaign_id, key, title, evidence)

    async def is_dnc(self, e164: str, campaign_id: uuid.UUID | None = None) -> bool:
        return await self.dnc.is_dnc(e164, campaign_id)

    async def next_eligible_leads(self, campaign_id: uuid.UUID, limit: int) -> Sequence[LeadView]:
        return await self.leads.next_eligible(campaign_id, limit)

    async def claim_leads(
        self, campaign_id: uuid.UUID, worker: str, limit: int,
        ttl: timedelta = timedelta(minutes=5), who: ClaimFor | None = None,
    ) -> Sequence[LeadView]:
        views = await self.leads.claim(campaign_id, worker, limit, ttl, who)
        views = await self.answer_models.annotate(views)  # p_answer of each lead, now
        return await self.conversion.annotate(views)  # the customer's route, P(convert)

    async def unlock_leads(self, lead_ids: Sequence[uuid.UUID], worker: str) -> int:
        return await self.leads.unlock(lead_ids, worker)

    async def record_attempt(
        self,
        lead_id: uuid.UUID,
        outcome: AttemptOutcome,
        *,
        worker: str | None = None,
        call_id: str | None = None,
        disposition: str | None = None,
        callback_at: datetime | None = None,
        callback_owner: str | None = None,
    ) -> LeadView:
        return await self.leads.record_attempt(
            lead_id,
            outcome,
            worker=worker,
            call_id=call_id,
            disposition=disposition,
            callback_at=callback_at,
            callback_owner=callback_owner,
        )

    async def store_recording(
        self,
        call_id: str,
        source: bytes | Path,
        *,
        duration_seconds: float | None = None,
        content_type: str = "audio/wav",
    ) -> Recording:
        return await self.recordings.store(
            call_id, source, duration_seconds=duration_seconds, content_type=content_type
        )

    def import_leads(
        self,
        campaign_id: uuid.UUID,
        rows: Iterable[Mapping[str, Any]],
        *,
        mapping: Mapping[str, str] | None = None,
        policy: ConflictPolicy = ConflictPolicy.MERGE,
        actor_id: uuid.UUID | None = None,
    ) -> AsyncIterator[RowResult]:
        return self.imports.run(
            campaign_id, rows, mapping=mapping, policy=policy, actor_id=actor_id
        )


def _uuid(value: str) -> uuid.UUID:
    from crm.services.common import parse_uuid

    return parse_uuid(value, "customer_id")


def _campaign_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    """The pop's campaign (a dialer-only campaign whose id is no UUID: none, so only every
    campaign's scripts show)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
