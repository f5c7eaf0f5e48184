"""A/B experiments (seed S11): deterministic assignment of agents or leads to variants of a
feature, and a report comparing talk time, conversion and abandon rate with 95 % confidence
intervals.

- :mod:`crm.experiments.assign` — the pure assignment function (hash of experiment + unit);
- :mod:`crm.experiments.stats` — Welch t, Wilson and Newcombe intervals (pure);
- :mod:`crm.experiments.service` — :class:`ExperimentService`: create / list / stop, the
  ``variant_for(key, unit_id)`` hook the rest of the app calls, assignments, the report.
"""

from crm.experiments.assign import Variant, assign_variant
from crm.experiments.service import ExperimentService

__all__ = ["ExperimentService", "Variant", "assign_variant"]
