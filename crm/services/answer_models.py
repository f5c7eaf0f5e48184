"""The answer-probability model in production: training on the CRM's history, the versioned
registry, scoring the leads the hopper claims and the best time of a lead's next attempt.

The model (``predictive.models``: XGBoost + held-out calibration) is trained from
:func:`crm.services.answer_history.load_history` and stored by version, with its held-out
metrics, under ``CrmSettings.model_dir``. Until there is enough history for a model
(``MIN_TRAIN_ROWS``), leads are scored with the Beta-Binomial prior by (list, local hour) and
:meth:`AnswerModelService.status` says so. The state (model, prior, per-list contact rates) is
loaded once and swapped whole by :meth:`refresh` / :meth:`retrain`, so a claim only scores.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_ops import AuditLog, Campaign, Lead
from crm.domain.enums import AttemptOutcome
from crm.domain.leads import CallingWindow
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock, LeadView
from crm.services.answer_history import (
    LeadFacts,
    load_history,
    model_outcome,
    number_type_of,
    number_types,
    prospective_row,
    region_of,
)
from crm.services.common import audit
from predictive.errors import ModelError
from predictive.models.answer_model import (
    MIN_TRAIN_ROWS,
    AnswerModel,
    AnswerScorer,
    train_answer_model,
)
from predictive.models.best_time import (
    CallWindow,
    ScheduledAttempt,
    best_call_time,
    slot_probabilities,
)
from predictive.models.features import ListRateTracker
from predictive.models.history import CallHistoryRow
from predictive.models.prior import BetaBinomialPrior
from predictive.models.registry import ModelRegistry, retrain_if_due

log = logging.getLogger(__name__)
BEST_TIME_OUTCOMES = (AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY, AttemptOutcome.MACHINE)
BEST_TIME_HORIZON = timedelta(days=3)
# a day's wait must buy > 10 % more answer probability (the model's weekday noise must not push
# retries days out; best_call_time's own default is 2 %)
BEST_TIME_DAILY_DISCOUNT = 0.10
_VERSION_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True, eq=False)
class ModelState:
    """What scoring needs, loaded once: the model (or None: the prior alone), the prior and
    each list's recent contact rate, from ``rows`` history rows."""

    scorer: AnswerScorer
    tracker: ListRateTracker
    rows: int
    loaded_at: datetime

    @property
    def source(self) -> str:
        return self.scorer.model.card.version if self.scorer.model else "prior"

    def score(self, rows: Sequence[CallHistoryRow]) -> list[float]:
        if not rows:
            return []
        rates = {r.list_id: self.tracker.rate(r.list_id) for r in rows}
        p, _ = self.scorer.score(rows, rates)
        return [float(x) for x in p]


class _CampaignSlots:
    """``best_time.CallWindow``'s role for a campaign window that must hold in every zone the
    lead's number may be in (slot times are lead-local, aware)."""

    def __init__(self, window: CallingWindow, zones: Sequence[str]) -> None:
        self.window, self.zones = window, tuple(zones)

    def allows(self, t: datetime) -> bool:
        return all(self.window.allows(t, z) for z in self.zones)


class AnswerModelService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 default_timezone: str, model_dir: Path, *, max_age_days: float = 7.0,
                 max_new_fraction: float = 0.25) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tz = default_timezone
        self.registry = ModelRegistry(model_dir)
        self.max_age_days = max_age_days
        self.max_new_fraction = max_new_fraction
        self._state: ModelState | None = None
        self._lock = asyncio.Lock()
        self.last_run: dict[str, Any] | None = None
        self.load_error: str | None = None

    # --- state ---------------------------------------------------------------------------
    async def history(self) -> list[CallHistoryRow]:
        async with self._sessions() as s:
            return await load_history(s, self._tz)

    async def state(self) -> ModelState:
        """The loaded state (loaded on first use)."""
        if self._state is None:
            async with self._lock:
                if self._state is None:
                    await self._load(await self.history(), None)
        assert self._state is not None
        return self._state

    async def refresh(self) -> ModelState:
        """Reload the history's prior and list rates and the newest stored model version."""
        async with self._lock:
            return await self._load(await self.history(), None)

    async def _load(self, rows: list[CallHistoryRow], model: AnswerModel | None) -> ModelState:
        if model is None:
            model = await asyncio.to_thread(self._newest_model)
        prior, tracker = await asyncio.to_thread(_fit_prior_and_rates, rows)
        state = ModelState(AnswerScorer(prior, model), tracker, len(rows), self._clock.now())
        self._state = state
        return state

    def _newest_model(self) -> AnswerModel | None:
        current = self._state.scorer.model if self._state else None
        try:
            model = self.registry.current()  # read once per version
        except Exception as exc:  # noqa: BLE001 - a broken stored version must not stop the hopper
            newest = self.registry.versions()[-1]
            log.exception("answer model: cannot load %s; keeping %s", newest,
                          current.card.version if current else "the prior")
            self.load_error = f"{newest}: {exc}"
            return current
        if model is not None:
            self.load_error = None
        return model

    async def retrain(self, *, force: bool = False) -> dict[str, Any]:
        """One run of the periodic job: ``retrain_if_due`` on the whole history (``force``:
        train a new version now when there is enough history). Returns what happened."""
        async with self._lock:
            rows = await self.history()
            now = self._clock.now()
            model, why = await asyncio.to_thread(self._train, rows, now, force)
            state = await self._load(rows, model)
        self.last_run = {"at": now.isoformat(), "result": why, "rows": len(rows),
                         "source": state.source}
        log.info("answer model: %s (%d history rows)", why, len(rows))
        return self.last_run

    def _train(self, rows: list[CallHistoryRow], now: datetime, force: bool
               ) -> tuple[AnswerModel | None, str]:
        if not force:
            return retrain_if_due(self.registry, rows, now, self.max_age_days,
                                  self.max_new_fraction)
        if len(rows) < MIN_TRAIN_ROWS:
            return self._newest_model(), (
                f"too little history to train ({len(rows)}/{MIN_TRAIN_ROWS} rows)")
        model = train_answer_model(rows, now=now)
        self.registry.save(model)
        return model, f"trained {model.card.version} (forced)"

    # --- scoring at claim -------------------------------------------------------------------
    async def annotate(self, views: Sequence[LeadView]) -> list[LeadView]:
        """The claimed leads with ``p_answer`` (and its source) for an attempt now."""
        if not views:
            return []
        state = await self.state()
        async with self._sessions() as s:
            types = await number_types(s, [v.phone_e164 for v in views])
        now = self._clock.now()
        rows = [
            prospective_row(
                LeadFacts(str(v.id), str(v.campaign_id), v.timezone,
                          types.get(v.phone_e164, "unknown"), region_of(v.phone_e164),
                          v.created_at or now),
                now, v.attempts, v.last_attempt_at, v.last_outcome)
            for v in views
        ]
        try:
            scores = state.score(rows)
        except Exception:  # noqa: BLE001 - the claim must not fail because of the model
            log.exception("answer model: scoring %d claimed leads failed; they go unscored",
                          len(views))
            return list(views)
        return [replace(v, p_answer=p, p_answer_source=state.source)
                for v, p in zip(views, scores, strict=True)]

    # --- best time of the next attempt ----------------------------------------------------
    async def plan_retry(self, s: AsyncSession, lead: Lead, campaign: Campaign,
                         zones: Sequence[str], window: CallingWindow, outcome: AttemptOutcome,
                         now: datetime, earliest: datetime) -> datetime | None:
        """The lead's next attempt at its best hour inside the window, never before
        ``earliest`` (the retry delay); writes why to the audit log (``lead.best_time``).
        ``lead`` is still as before this attempt. None: keep ``earliest``."""
        if outcome not in BEST_TIME_OUTCOMES:
            return None
        try:
            return await self._plan_retry(s, lead, campaign, zones, window, outcome, now,
                                          earliest)
        except Exception:  # noqa: BLE001 - recording the attempt must not fail because of it
            log.exception("answer model: best time for lead %s failed; retry delay kept",
                          lead.id)
            return None

    async def _plan_retry(self, s: AsyncSession, lead: Lead, campaign: Campaign,
                          zones: Sequence[str], window: CallingWindow, outcome: AttemptOutcome,
                          now: datetime, earliest: datetime) -> datetime | None:
        state = await self.state()
        ntype = number_type_of((await number_types(s, [lead.phone_e164])).get(lead.phone_e164))
        facts = LeadFacts(str(lead.id), str(campaign.id), zones[0], ntype,
                          region_of(lead.phone_e164), lead.created_at)
        last = prospective_row(facts, now, lead.attempts, lead.last_attempt_at,
                               lead.last_outcome, model_outcome(outcome.value) or "no_answer")
        p_at = slot_probabilities(state.score, last, lead.attempts + 1)
        zone = ZoneInfo(zones[0])
        slots = _CampaignSlots(window, zones)
        plan = best_call_time(now.astimezone(zone), cast(CallWindow, slots), p_at,
                              BEST_TIME_HORIZON,
                              not_before=earliest.astimezone(zone),
                              daily_discount=BEST_TIME_DAILY_DISCOUNT)
        if plan is None:
            return None
        plan = _prefer_earliest(plan, earliest.astimezone(zone), slots, p_at, now)
        when = plan.at.astimezone(earliest.tzinfo)
        if when == earliest:
            return None  # the retry delay's own time is the best: nothing to record
        audit(s, None, "lead.best_time", "lead", lead.id, {
            "outcome": outcome.value, "retry_delay_until": earliest.isoformat(),
            "scheduled_at": when.isoformat(), "local": f"{plan.at:%Y-%m-%d %a %H:%M} {zones[0]}",
            "p_answer": round(plan.p_answer, 4), "source": state.source, "reason": plan.reason,
        })
        return when

    # --- what the API shows ---------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        state = await self.state()
        out: dict[str, Any] = {
            "source": "model" if state.scorer.model else "prior", "rows": state.rows,
            "min_rows": MIN_TRAIN_ROWS, "versions": self.registry.versions(),
            "load_error": self.load_error,
            "loaded_at": state.loaded_at.isoformat(), "last_run": self.last_run,
            "prior": {"pooled": round(state.scorer.prior.pooled, 4),
                      "groups": len(state.scorer.prior.counts)},
        }
        if state.scorer.model is None:
            out["message"] = f"prior only ({state.rows} rows < {MIN_TRAIN_ROWS})"
            return out
        return {**out, **card_json(state.scorer.model)}

    def version(self, version: str) -> dict[str, Any]:
        if not version or len(version) > 80 or not set(version) <= _VERSION_CHARS \
                or not version.startswith("answer-"):
            raise InvalidInputError("version", "expected a version id like "
                                    "answer-YYYYmmddHHMMSS-xxxxxxxx")
        if version not in self.registry.versions():
            raise NotFoundError("model version", version)
        try:
            return card_json(self.registry.load(version))
        except ModelError:
            raise NotFoundError("model version", version) from None

    async def best_time_log(self, lead_id: uuid.UUID) -> list[dict[str, Any]]:
        """Why each of the lead's retries was moved (newest first, at most 100)."""
        async with self._sessions() as s:
            if await s.get(Lead, lead_id) is None:
                raise NotFoundError("lead", lead_id)
            found = await s.scalars(
                sa.select(AuditLog)
                .where(col(AuditLog.entity_type) == "lead",
                       col(AuditLog.entity_id) == str(lead_id),
                       col(AuditLog.action) == "lead.best_time")
                .order_by(col(AuditLog.id).desc()).limit(100))
            return [{"at": e.at.isoformat(), **e.details} for e in found.all()]


def _fit_prior_and_rates(rows: list[CallHistoryRow]
                         ) -> tuple[BetaBinomialPrior, ListRateTracker]:
    tracker = ListRateTracker()
    for r in rows:
        tracker.update(r.list_id, r.live)
    return BetaBinomialPrior.fit(rows), tracker


def _prefer_earliest(plan: ScheduledAttempt, earliest: datetime, slots: _CampaignSlots,
                     p_at: Any, now: datetime) -> ScheduledAttempt:
    """``best_call_time`` looks at whole hours after ``earliest``; ``earliest`` itself (when the
    window allows it) wins when it is at least as good, so the retry is never delayed for
    nothing."""
    if plan.at == earliest or not slots.allows(earliest):
        return plan
    p0 = float(p_at([earliest])[0])
    if p0 + 1e-9 >= plan.p_answer:
        return ScheduledAttempt(earliest, p0, f"retry delay slot {earliest:%a %H:%M} is already "
                                f"the best (p={p0:.3f} >= {plan.p_answer:.3f})")
    return plan


def card_json(model: AnswerModel) -> dict[str, Any]:
    card, m = model.card, model.card.metrics
    return {
        "version": card.version, "trained_at": card.trained_at, "n_train": card.n_train,
        "n_calibration": card.n_calibration, "n_test": m.n, "calibration": card.calibration,
        "features": list(card.features), "brier": m.brier, "log_loss": m.log_loss, "auc": m.auc,
        "ece": m.ece, "brier_base_rate": m.brier_base_rate, "base_rate": m.base_rate,
        "reliability": [asdict(b) for b in m.reliability],
    }
