"""The conversion model in the CRM (issue 5 item 4): train on the CRM's own history, store
it versioned, score every customer, route leads (senior / standard / nurture).

- Rows: :mod:`crm.services.conversion_rows` (features before a cut-off, label = a sale in
  the ``label_days`` after it). Trained with :func:`predictive.models.conversion.
  train_conversion_model` (XGBoost, held-out calibration, Brier / log-loss / AUC /
  reliability on the newest 20 %).
- Storage: ``<model_dir>/conversion-<stamp>-<n>/`` in the one version store of
  :mod:`predictive.models.registry` (the answer model's layout: model, calibrator, vocab,
  card) plus ``routing.json``: the thresholds, set from the shares of the
  scored population (``senior_share`` at the top, ``nurture_share`` at the bottom).
- Scoring writes ``customer_routes`` (P(convert), the model's route, a readable reason).
  ``nurture`` customers are tagged ``nurture:low_propensity`` and their leads are not claimed
  by the dialer (``crm.db.leads``); a manager's override wins over the model until cleared.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models import Customer, CustomerTag, Tag
from crm.db.models_conversion import CustomerRoute
from crm.errors import InvalidInputError, NotFoundError
from crm.ports import Clock, LeadView
from crm.services.common import audit, transaction
from crm.services.conversion_rows import (
    NURTURE_TAG,
    customer_rows,
    customers_called_since,
)
from predictive.errors import ModelError
from predictive.models.conversion import (
    MIN_ROWS,
    ConversionModel,
    Customer360,
    Route,
    RoutingPolicy,
    train_conversion_model,
)
from predictive.models.registry import conversion_store, should_retrain

log = logging.getLogger(__name__)

ROUTES = tuple(r.value for r in Route)
WRITE_BATCH = 100  # customers per scoring transaction (short: other writers, the loop)
KIND = "conversion"


# --------------------------------------------------------------------------- results --
@dataclass(frozen=True)
class RetrainResult:
    version: str | None
    trained: bool
    why: str
    scored: int = 0


def reason_for(route: Route, p: float, policy: RoutingPolicy, version: str) -> str:
    if route is Route.SENIOR:
        return f"P(convert) {p:.3f} >= {policy.senior_at:.3f}: senior agents first ({version})"
    if route is Route.NURTURE:
        return (f"P(convert) {p:.3f} < {policy.nurture_below:.3f}: automated nurturing, "
                f"not dialed by agents ({version})")
    return (f"{policy.nurture_below:.3f} <= P(convert) {p:.3f} < {policy.senior_at:.3f}: "
            f"standard agents ({version})")


# --------------------------------------------------------------------------- service --
class ConversionService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 model_dir: Path, *, senior_share: float = 0.2, nurture_share: float = 0.2,
                 label_days: int = 30) -> None:
        self._sessions = sessions
        self._clock = clock
        self.store = conversion_store(model_dir)
        self.senior_share = senior_share
        self.nurture_share = nurture_share
        self.label_days = label_days
        self.max_age_days, self.max_new_fraction = 7.0, 0.25
        self._lock = asyncio.Lock()

    # ---- model --------------------------------------------------------------------
    def current(self) -> tuple[ConversionModel, RoutingPolicy] | None:
        """The newest stored version (loaded once per version)."""
        return self.store.current()

    async def training_rows(self, now: datetime | None = None) -> list[Customer360]:
        now = now or self._clock.now()
        cutoff = now - timedelta(days=self.label_days)
        async with self._sessions() as s:
            rows = await customer_rows(s, cutoff, label_until=now)
        random.Random(20260).shuffle(rows)  # the 60/20/20 split is taken in this order
        return rows

    async def scoring_rows(self, now: datetime | None = None) -> list[Customer360]:
        async with self._sessions() as s:
            return await customer_rows(s, now or self._clock.now())

    async def train(self, now: datetime | None = None) -> RetrainResult:
        """Train on all history, store the new version, rescore every customer. Raises
        :class:`ModelError` when fewer than ``MIN_ROWS`` customers have calls."""
        now = now or self._clock.now()
        rows = await self.training_rows(now)
        scoring = await self.scoring_rows(now)
        model, policy, scores = await asyncio.to_thread(self._fit, rows, scoring, now)
        log.info("conversion model %s trained on %d customers (Brier %.4f, AUC %.3f)",
                 model.card.version, len(rows), model.card.metrics.brier,
                 model.card.metrics.auc)
        scored = await self._write_scores(scoring, scores, policy, model.card.version, now)
        return RetrainResult(model.card.version, True, f"trained {model.card.version}", scored)

    def _fit(self, rows: list[Customer360], scoring: list[Customer360], now: datetime
             ) -> tuple[ConversionModel, RoutingPolicy, np.ndarray]:
        """The CPU part (a worker thread): XGBoost, calibration, thresholds, storage."""
        model = train_conversion_model(rows, now=now)
        scores = model.predict(scoring) if scoring else np.array([])
        policy = (RoutingPolicy.from_shares(scores, self.senior_share, self.nurture_share)
                  if len(scores) else RoutingPolicy())
        self.store.save((model, policy))  # the store's current version from now
        return model, policy, scores

    async def retrain(self, *, force: bool = False, now: datetime | None = None
                      ) -> RetrainResult:
        """One run of the periodic job (or the CLI / API): train when due (``force``: now,
        when history suffices), then rescore every customer with the current model."""
        async with self._lock:
            now = now or self._clock.now()
            loaded = self.current()
            if loaded is not None and not force:
                card = loaded[0].card
                async with self._sessions() as s:
                    since = await customers_called_since(
                        s, datetime.fromisoformat(card.trained_at))
                if not should_retrain(card, now, since, self.max_age_days,
                                      self.max_new_fraction):
                    scored = await self.score_all(now)
                    return RetrainResult(
                        card.version, False,
                        f"kept {card.version} ({since} customers called since)", scored)
            try:
                return await self.train(now)
            except ModelError as exc:
                scored = await self.score_all(now) if loaded is not None else 0
                return RetrainResult(loaded[0].card.version if loaded else None, False,
                                     f"too little history to train: {exc}", scored)

    async def score_all(self, now: datetime | None = None) -> int:
        """Rescore every customer with the current model (no model: nothing to do)."""
        loaded = self.current()
        if loaded is None:
            return 0
        model, policy = loaded
        now = now or self._clock.now()
        rows = await self.scoring_rows(now)
        scores = await asyncio.to_thread(model.predict, rows) if rows else np.array([])
        return await self._write_scores(rows, scores, policy, model.card.version, now)

    async def _write_scores(self, rows: Sequence[Customer360], scores: np.ndarray,
                            policy: RoutingPolicy, version: str, now: datetime) -> int:
        """Upsert every customer's route in short transactions of ``WRITE_BATCH`` (a long
        write would hold SQLite's lock past other writers' busy timeout), then the tags."""
        pairs = list(zip(rows, scores, strict=True))
        for start in range(0, len(pairs), WRITE_BATCH):
            chunk = pairs[start:start + WRITE_BATCH]
            ids = [uuid.UUID(r.customer_id) for r, _ in chunk]
            async with transaction(self._sessions) as s:
                have = {r.customer_id: r for r in await s.scalars(
                    sa.select(CustomerRoute).where(col(CustomerRoute.customer_id).in_(ids)))}
                for cid, (_, p) in zip(ids, chunk, strict=True):
                    route = policy.route(float(p))
                    cur = have.get(cid)
                    if cur is None:
                        cur = CustomerRoute(customer_id=cid, route=route.value)
                        s.add(cur)
                    cur.p_convert, cur.model_route, cur.model_version = (
                        float(p), route.value, version)
                    cur.reason = reason_for(route, float(p), policy, version)[:300]
                    cur.route = cur.override_route or route.value
                    cur.scored_at = cur.updated_at = now
        async with transaction(self._sessions) as s:
            await self._sync_nurture_tags(s)
        return len(rows)

    @staticmethod
    async def _sync_nurture_tags(s: AsyncSession) -> None:
        tag = await s.scalar(sa.select(Tag).where(col(Tag.name_key) == NURTURE_TAG))
        if tag is None:
            tag = Tag(name=NURTURE_TAG, name_key=NURTURE_TAG)
            s.add(tag)
            await s.flush()
        want = set(await s.scalars(sa.select(col(CustomerRoute.customer_id))
                                   .where(col(CustomerRoute.route) == Route.NURTURE.value)))
        have = set(await s.scalars(sa.select(col(CustomerTag.customer_id))
                                   .where(col(CustomerTag.tag_id) == tag.id)))
        gone = have - want
        if gone:
            await s.execute(sa.delete(CustomerTag).where(
                col(CustomerTag.tag_id) == tag.id, col(CustomerTag.customer_id).in_(gone)))
        assert tag.id is not None
        for cid in want - have:
            s.add(CustomerTag(customer_id=cid, tag_id=tag.id))

    # ---- routes -------------------------------------------------------------------
    async def annotate(self, views: Sequence[LeadView]) -> list[LeadView]:
        """The claimed leads with their customer's route and P(convert)."""
        if not views:
            return []
        ids = {v.customer_id for v in views}
        async with self._sessions() as s:
            found = {r.customer_id: r for r in await s.scalars(
                sa.select(CustomerRoute).where(col(CustomerRoute.customer_id).in_(ids)))}
        out = []
        for v in views:
            r = found.get(v.customer_id)
            out.append(v if r is None else replace(v, route=r.route, p_convert=r.p_convert))
        return out

    async def route_of(self, customer_id: uuid.UUID) -> dict[str, Any]:
        async with self._sessions() as s:
            row = await s.get(CustomerRoute, customer_id)
        return route_json(customer_id, row)

    async def override(self, customer_id: uuid.UUID, route: str | None, reason: str | None,
                       actor_id: uuid.UUID | None) -> dict[str, Any]:
        """A manager's route for this customer (``None`` clears it: the model's applies)."""
        if route is not None and route not in ROUTES:
            raise InvalidInputError("route", f"must be one of {', '.join(ROUTES)} or null")
        async with transaction(self._sessions) as s:
            if await s.get(Customer, customer_id) is None:
                raise NotFoundError("customer", customer_id)
            row = await s.get(CustomerRoute, customer_id)
            if row is None:
                if route is None:
                    return route_json(customer_id, None)
                row = CustomerRoute(customer_id=customer_id, route=route,
                                    reason=f"set by a manager: {reason or '-'}"[:300])
                s.add(row)
            before = row.route
            row.override_route, row.override_by = route, actor_id if route else None
            row.override_reason = (reason or None) if route else None
            row.route = route or row.model_route or Route.STANDARD.value
            row.updated_at = self._clock.now()
            audit(s, actor_id, "customer.route_overridden", "customer", customer_id,
                  {"before": before, "after": row.route, "override": route, "reason": reason})
            await s.flush()
            await self._sync_nurture_tags(s)
            return route_json(customer_id, row)

    async def summary(self) -> dict[str, Any]:
        """What ``GET /api/models/conversion`` shows."""
        loaded = self.current()
        async with self._sessions() as s:
            counts = dict((await s.execute(
                sa.select(col(CustomerRoute.route), sa.func.count())
                .group_by(col(CustomerRoute.route)))).all())
            overrides = int(await s.scalar(sa.select(sa.func.count()).where(
                col(CustomerRoute.override_route).is_not(None))) or 0)
        total = sum(counts.values())
        shares = {r: {"customers": int(counts.get(r, 0)),
                      "share": round(counts.get(r, 0) / total, 4) if total else 0.0}
                  for r in ROUTES}
        base: dict[str, Any] = {"kind": KIND, "shares": shares, "overrides": overrides,
                                "customers_scored": total, "versions": self.store.versions()}
        if loaded is None:
            return {**base, "version": None, "status": "no model",
                    "message": f"no conversion model trained yet (needs >= {MIN_ROWS} "
                               "customers with calls)"}
        model, policy = loaded
        card = model.card
        return {**base, "version": card.version, "status": "ok", "trained_at": card.trained_at,
                "n_train": card.n_train, "n_calibration": card.n_calibration,
                "calibration": card.calibration, "features": list(card.features),
                "metrics": card.metrics.to_dict(),
                "thresholds": {"senior_at": policy.senior_at,
                               "nurture_below": policy.nurture_below,
                               "senior_share": self.senior_share,
                               "nurture_share": self.nurture_share}}


def route_json(customer_id: uuid.UUID, row: CustomerRoute | None) -> dict[str, Any]:
    if row is None:
        return {"customer_id": str(customer_id), "route": None, "p_convert": None,
                "reason": "not scored yet", "model_route": None, "override_route": None}
    return {"customer_id": str(customer_id), "route": row.route, "p_convert": row.p_convert,
            "model_route": row.model_route, "model_version": row.model_version,
            "reason": row.reason, "override_route": row.override_route,
            "override_reason": row.override_reason,
            "override_by": str(row.override_by) if row.override_by else None,
            "scored_at": row.scored_at.isoformat() if row.scored_at else None}
