"""The experiment report: per variant, from the call records, with 95 % confidence intervals.

- talk time: mean talk seconds of connected calls (t interval), and the difference to the
  control (the first variant) with Welch's interval, also as a relative change;
- conversion: success dispositions (``dispositions.is_success``, e.g. ``sale``) / connects
  (Wilson), difference with Newcombe's interval;
- abandon rate: abandoned / (connects + abandoned) (Wilson / Newcombe). Only for experiments on
  leads: an abandoned call never reaches an agent, so it has no agent variant.

Calls count when they ended and started after the experiment's start (and before its stop).
Each unit's variant is its recorded assignment, or the same deterministic assignment for a unit
that was never asked for (e.g. a lead dialed before the hook ran). Calls of one unit are not
independent (an agent's calls share the agent): with few units the intervals are too narrow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm import spreadsheet
from crm.db.models import Call
from crm.db.models_experiments import Experiment, ExperimentAssignment
from crm.db.models_ops import Disposition, User
from crm.experiments.assign import Variant, assign_variant
from crm.experiments.stats import mean_ci, newcombe_diff, welch_diff, wilson

ABANDONED = "abandoned"
CSV_COLUMNS = ("experiment", "variant", "metric", "n", "value", "ci_low", "ci_high",
               "diff_vs_control", "diff_ci_low", "diff_ci_high", "relative_change")


@dataclass
class Arm:
    name: str
    weight: float
    units: set[str] = field(default_factory=set)
    assigned: int = 0
    calls: int = 0
    talk: list[float] = field(default_factory=list)
    sales: int = 0
    abandoned: int = 0

    @property
    def connects(self) -> int:
        return len(self.talk)


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    arms: list[Arm]

    def _metrics(self, arm: Arm, control: Arm) -> dict[str, dict[str, Any] | None]:
        talk = mean_ci(arm.talk)
        out: dict[str, dict[str, Any] | None] = {
            "talk_seconds_mean": {**talk.json(), "diff_vs_control": None, "relative_change": None},
            "conversion_rate": {**wilson(arm.sales, arm.connects).json(), "successes": arm.sales,
                                "diff_vs_control": None},
            "abandon_rate": None,
        }
        if self.experiment.unit == "lead":
            out["abandon_rate"] = {
                **wilson(arm.abandoned, arm.connects + arm.abandoned).json(),
                "abandoned": arm.abandoned, "diff_vs_control": None}
        if arm is control:
            return out
        diff = welch_diff(arm.talk, control.talk)
        base = talk_mean(control)
        talk_out, conv_out, abandon_out = (out["talk_seconds_mean"], out["conversion_rate"],
                                           out["abandon_rate"])
        assert talk_out is not None and conv_out is not None
        talk_out["diff_vs_control"] = diff.json()
        if diff.value is not None and base:
            talk_out["relative_change"] = {
                "value": round(diff.value / base, 6),
                "low": round(diff.low / base, 6) if diff.low is not None else None,
                "high": round(diff.high / base, 6) if diff.high is not None else None}
        conv_out["diff_vs_control"] = newcombe_diff(
            arm.sales, arm.connects, control.sales, control.connects).json()
        if abandon_out is not None:
            abandon_out["diff_vs_control"] = newcombe_diff(
                arm.abandoned, arm.connects + arm.abandoned,
                control.abandoned, control.connects + control.abandoned).json()
        return out

    def json(self) -> dict[str, Any]:
        exp = self.experiment
        control = self.arms[0]
        return {
            "experiment": {"id": str(exp.id), "key": exp.key, "name": exp.name,
                           "feature": exp.feature, "unit": exp.unit, "status": exp.status,
                           "started_at": exp.started_at.isoformat(),
                           "stopped_at": exp.stopped_at.isoformat() if exp.stopped_at else None},
            "control": control.name,
            "confidence": 0.95,
            "methods": {"talk_seconds_mean": "t interval; difference: Welch t",
                        "conversion_rate": "Wilson score; difference: Newcombe hybrid score",
                        "abandon_rate": "Wilson score; difference: Newcombe hybrid score"},
            "notes": ([] if exp.unit == "lead" else
                      ["abandon rate is not reported per agent variant: abandoned calls never "
                       "reach an agent"])
            + ["calls of one unit are correlated: with few units the intervals are optimistic"],
            "variants": [
                {"variant": arm.name, "weight": arm.weight, "units_with_calls": len(arm.units),
                 "units_assigned": arm.assigned, "calls": arm.calls, "connects": arm.connects,
                 **self._metrics(arm, control)}
                for arm in self.arms
            ],
        }

    def csv(self) -> str:
        buf = io.StringIO()
        writer = spreadsheet.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for variant in self.json()["variants"]:
            for metric in ("talk_seconds_mean", "conversion_rate", "abandon_rate"):
                m = variant[metric]
                if m is None:
                    continue
                diff = m.get("diff_vs_control") or {}
                rel = (m.get("relative_change") or {}).get("value")
                writer.writerow([self.experiment.key, variant["variant"], metric, m["n"],
                                 _cell(m["value"]), _cell(m["low"]), _cell(m["high"]),
                                 _cell(diff.get("value")), _cell(diff.get("low")),
                                 _cell(diff.get("high")), _cell(rel)])
        return buf.getvalue()


def talk_mean(arm: Arm) -> float | None:
    return sum(arm.talk) / len(arm.talk) if arm.talk else None


def _cell(value: Any) -> Any:
    return "" if value is None else value  # a number stays a number (not escaped as text)


async def build_report(s: AsyncSession, exp: Experiment) -> Report:
    variants = [Variant(str(v["name"]), float(v["weight"])) for v in exp.variants]
    arms = {v.name: Arm(v.name, v.weight) for v in variants}
    recorded: dict[str, str] = {str(u): str(v) for u, v in (await s.execute(
        sa.select(col(ExperimentAssignment.unit_id), col(ExperimentAssignment.variant))
        .where(col(ExperimentAssignment.experiment_id) == exp.id))).all()}
    for variant_name in recorded.values():
        if variant_name in arms:
            arms[variant_name].assigned += 1
    success = set((await s.scalars(
        sa.select(col(Disposition.code)).where(col(Disposition.is_success)))).all())
    for unit, bridged, talk, disposition, outcome in await _calls(s, exp):
        name = recorded.get(unit) or assign_variant(str(exp.id), unit, variants)
        arm = arms.get(name)
        if arm is None:
            continue
        arm.calls += 1
        arm.units.add(unit)
        if bridged:
            arm.talk.append(float(talk or 0.0))
            arm.sales += disposition in success
        elif outcome == ABANDONED:
            arm.abandoned += 1
    return Report(exp, [arms[v.name] for v in variants])


async def _calls(s: AsyncSession, exp: Experiment) -> list[tuple[Any, ...]]:
    when = sa.func.coalesce(col(Call.originated_at), col(Call.bridged_at), col(Call.ended_at))
    fields = (col(Call.bridged_at).is_not(None), col(Call.talk_seconds), col(Call.disposition),
              col(Call.outcome))
    stmt: Any
    if exp.unit == "agent":
        stmt = sa.select(col(User.username), *fields).join(User, col(User.id) == Call.agent_id)
    else:
        stmt = sa.select(col(Call.lead_id), *fields).where(col(Call.lead_id).is_not(None))
    stmt = stmt.where(col(Call.ended_at).is_not(None), when >= exp.started_at)
    if exp.stopped_at is not None:
        stmt = stmt.where(when <= exp.stopped_at)
    rows = (await s.execute(stmt)).all()
    return [(str(r[0]), *r[1:]) for r in rows]
