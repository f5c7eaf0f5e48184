"""Deterministic assignment: the same experiment and unit always get the same variant.

``sha256(f"{experiment_id}:{unit_id}")`` read as a number in [0, 1) is placed on the
cumulative weights of the variants. Different experiments split the same units
independently (the experiment id is in the hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

SCALE = float(1 << 64)


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float


def unit_point(experiment_id: str, unit_id: str) -> float:
    """A uniform point in [0, 1) for this (experiment, unit)."""
    digest = hashlib.sha256(f"{experiment_id}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / SCALE


def assign_variant(experiment_id: str, unit_id: str, variants: Sequence[Variant]) -> str:
    """The variant of ``unit_id``; weights need not sum to 1 (they are normalised)."""
    if not variants:
        raise ValueError("an experiment needs at least one variant")
    total = sum(v.weight for v in variants)
    if total <= 0 or any(v.weight < 0 for v in variants):
        raise ValueError("weights must be >= 0 with a positive sum")
    point = unit_point(experiment_id, unit_id) * total
    edge = 0.0
    for variant in variants:
        edge += variant.weight
        if point < edge:
            return variant.name
    return next(v.name for v in reversed(variants) if v.weight > 0)
