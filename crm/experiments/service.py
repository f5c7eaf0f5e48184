"""``ExperimentService``: define, stop and read experiments; the ``variant_for`` hook; assignments.

Assignment is a pure function of (experiment id, unit id) (:mod:`crm.experiments.assign`);
the first time a unit is asked for, its variant is recorded in ``experiment_assignments``.
Definitions are cached for a few seconds and assignments for the process lifetime, so the
hook costs no query on the hot path (a screen pop) once a unit has been seen.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from crm.db.models_experiments import Experiment, ExperimentAssignment
from crm.errors import AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError
from crm.experiments.assign import Variant, assign_variant
from crm.experiments.report import Report, build_report
from crm.ports import Clock
from crm.services.common import Page, audit, paginate, transaction

UNITS = ("agent", "lead")
FEATURES = ("pop", "script", "pacing", "other")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
POP_VARIANTS = {"on", "off"}
CACHE_S = 5.0
CACHE_MAX = 100_000  # entries per cache; cleared whole when full (assignments are recomputable)


def variants_of(exp: Experiment) -> list[Variant]:
    return [Variant(str(v["name"]), float(v["weight"])) for v in exp.variants]


def _validate(data: Mapping[str, Any]) -> dict[str, Any]:
    key = str(data.get("key") or "")
    if not KEY_RE.match(key):
        raise InvalidInputError("key", "2-64 characters: a-z, 0-9, '_', '-', '.'")
    name = str(data.get("name") or "").strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInputError("name", "a name of 1 to 200 characters is required")
    unit, feature = data.get("unit"), data.get("feature")
    if unit not in UNITS:
        raise InvalidInputError("unit", f"must be one of {', '.join(UNITS)}")
    if feature not in FEATURES:
        raise InvalidInputError("feature", f"must be one of {', '.join(FEATURES)}")
    raw = data.get("variants")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not 2 <= len(raw) <= 10:
        raise InvalidInputError("variants", "2 to 10 variants are required")
    variants: list[dict[str, Any]] = []
    for i, v in enumerate(raw):
        vname = v.get("name") if isinstance(v, Mapping) else None
        weight = v.get("weight", 1.0) if isinstance(v, Mapping) else None
        if not isinstance(vname, str) or not NAME_RE.match(vname):
            raise InvalidInputError(f"variants.{i}.name", "1-64 characters: A-Z a-z 0-9 _ . -")
        if isinstance(weight, bool) or not isinstance(weight, int | float) \
                or not 0 < weight <= 1000 or weight != weight:
            raise InvalidInputError(f"variants.{i}.weight", "a weight > 0 and <= 1000")
        variants.append({"name": vname, "weight": float(weight)})
    if len({v["name"] for v in variants}) != len(variants):
        raise InvalidInputError("variants", "variant names must be unique")
    if feature == "pop" and {v["name"] for v in variants} != POP_VARIANTS:
        raise InvalidInputError("variants", "a pop experiment has exactly the variants on, off")
    description = data.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise InvalidInputError("description", "at most 2000 characters")
    return {"key": key, "name": name, "unit": unit, "feature": feature, "variants": variants,
            "description": description}


class ExperimentService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._defs: dict[str, tuple[float, Experiment | None]] = {}  # key -> (when, running exp)
        self._features: dict[tuple[str, str], tuple[float, Experiment | None]] = {}
        self._feature_reads: dict[tuple[str, str], asyncio.Future[Experiment | None]] = {}
        self._generation = 0  # bumped by every change: a read that predates it is not cached
        self._assigned: dict[tuple[uuid.UUID, str], str] = {}

    # ------------------------------------------------------------ definitions --
    async def create(self, data: Mapping[str, Any], *, actor_id: uuid.UUID | None = None
                     ) -> Experiment:
        values = _validate(data)
        now = self._clock.now()
        async with transaction(self._sessions) as s:
            if await s.scalar(sa.select(col(Experiment.id))
                              .where(col(Experiment.key) == values["key"])):
                raise AlreadyExistsError("experiment", "key", values["key"])
            if values["feature"] != "other" and await s.scalar(
                    sa.select(col(Experiment.key)).where(
                        col(Experiment.feature) == values["feature"],
                        col(Experiment.unit) == values["unit"],
                        col(Experiment.status) == "running")):
                raise ConflictError(
                    f"a {values['feature']} experiment on {values['unit']}s is already running",
                    details={"field": "feature"})
            exp = Experiment(**values, created_by=actor_id, created_at=now, started_at=now)
            s.add(exp)
            await s.flush()
            audit(s, actor_id, "experiment.created", "experiment", exp.id,
                  {"key": exp.key, "feature": exp.feature, "unit": exp.unit,
                   "variants": exp.variants})
        self._forget()
        return exp

    async def stop(self, experiment_id: uuid.UUID, *, actor_id: uuid.UUID | None = None
                   ) -> Experiment:
        async with transaction(self._sessions) as s:
            exp = await s.get(Experiment, experiment_id)
            if exp is None:
                raise NotFoundError("experiment", experiment_id)
            if exp.status != "running":
                raise ConflictError("the experiment is already stopped",
                                    details={"field": "status"})
            exp.status = "stopped"
            exp.stopped_at = self._clock.now()
            audit(s, actor_id, "experiment.stopped", "experiment", exp.id, {"key": exp.key})
        self._forget()
        return exp

    async def get(self, experiment_id: uuid.UUID) -> Experiment:
        async with self._sessions() as s:
            exp = await s.get(Experiment, experiment_id)
        if exp is None:
            raise NotFoundError("experiment", experiment_id)
        return exp

    async def list(self, *, status: str | None = None, limit: int = 100, offset: int = 0
                   ) -> Page[Experiment]:
        stmt = sa.select(Experiment).order_by(col(Experiment.created_at).desc(),
                                              col(Experiment.key))
        if status is not None:
            stmt = stmt.where(col(Experiment.status) == status)
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    def _forget(self) -> None:
        self._defs.clear()
        self._features.clear()
        self._feature_reads.clear()  # a read under way may predate the change: not shared
        self._generation += 1

    # ------------------------------------------------------------------ hook --
    async def variant_for(self, experiment_key: str, unit_id: str) -> str | None:
        """The variant of ``unit_id`` in the running experiment ``experiment_key`` (recorded
        the first time); None when no such experiment is running."""
        exp = await self._running_by_key(experiment_key)
        return None if exp is None else await self._assign(exp, unit_id)

    async def feature_variant(self, feature: str, unit: str, unit_id: str
                              ) -> tuple[str, str] | None:
        """(experiment key, variant) of the running ``feature`` experiment on ``unit``s."""
        exp = await self._running_by_feature(feature, unit)
        return None if exp is None else (exp.key, await self._assign(exp, unit_id))

    async def _running_by_key(self, key: str) -> Experiment | None:
        cached = self._defs.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        async with self._sessions() as s:
            exp = await s.scalar(sa.select(Experiment).where(
                col(Experiment.key) == key, col(Experiment.status) == "running"))
        if len(self._defs) >= CACHE_MAX:
            self._defs.clear()
        self._defs[key] = (time.monotonic(), exp)
        return exp

    async def _running_by_feature(self, feature: str, unit: str) -> Experiment | None:
        """Cached for ``CACHE_S``; when it runs out, one read for everyone asking meanwhile (a
        burst of 101 pops asks at once: one query, not 101)."""
        key = (feature, unit)
        cached = self._features.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        reading = self._feature_reads.get(key)
        if reading is None:
            reading = self._feature_reads[key] = asyncio.ensure_future(
                self._read_running(feature, unit))
            reading.add_done_callback(
                lambda done: self._feature_reads.pop(key, None)
                if self._feature_reads.get(key) is done else None)
        return await asyncio.shield(reading)

    async def _read_running(self, feature: str, unit: str) -> Experiment | None:
        generation = self._generation
        async with self._sessions() as s:
            exp = await s.scalar(sa.select(Experiment).where(
                col(Experiment.feature) == feature, col(Experiment.unit) == unit,
                col(Experiment.status) == "running").order_by(col(Experiment.created_at)))
        if generation == self._generation:
            self._features[(feature, unit)] = (time.monotonic(), exp)
        return exp

    async def _assign(self, exp: Experiment, unit_id: str) -> str:
        unit_id = str(unit_id)[:128]
        known = self._assigned.get((exp.id, unit_id))
        if known is not None:
            return known
        variant = assign_variant(str(exp.id), unit_id, variants_of(exp))
        try:
            async with self._sessions.begin() as s:
                recorded = await s.scalar(sa.select(col(ExperimentAssignment.variant)).where(
                    col(ExperimentAssignment.experiment_id) == exp.id,
                    col(ExperimentAssignment.unit_id) == unit_id))
                if recorded is None:
                    s.add(ExperimentAssignment(experiment_id=exp.id, unit_id=unit_id,
                                               variant=variant,
                                               assigned_at=self._clock.now()))
                else:
                    variant = recorded
        except IntegrityError:
            pass  # another process recorded the same (deterministic) variant first
        if len(self._assigned) >= CACHE_MAX:
            self._assigned.clear()
        self._assigned[(exp.id, unit_id)] = variant
        return variant

    # ------------------------------------------------------------ assignments --
    async def assignments(self, experiment_id: uuid.UUID, *, limit: int = 100,
                          offset: int = 0) -> Page[ExperimentAssignment]:
        await self.get(experiment_id)
        stmt = (sa.select(ExperimentAssignment)
                .where(col(ExperimentAssignment.experiment_id) == experiment_id)
                .order_by(col(ExperimentAssignment.id)))
        async with self._sessions() as s:
            return await paginate(s, stmt, limit, offset)

    async def report(self, experiment_id: uuid.UUID) -> Report:
        exp = await self.get(experiment_id)
        async with self._sessions() as s:
            return await build_report(s, exp)
