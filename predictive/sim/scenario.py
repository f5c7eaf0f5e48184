"""Scenario definitions for the pacing simulator (frozen, loaded from YAML/JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from predictive.errors import ScenarioError

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
# list_switch: from step_at_s on, the hopper holds a new list (true p x step_factor, the model
# still says the old rate); new_list: from step_at_s on, every other lead comes from such a list
P_PROFILES = ("flat", "step", "daily", "list_switch", "new_list")
LIST_PROFILES = ("list_switch", "new_list")
P_INFO = ("lead", "model", "pooled")  # true per-lead p, learned p, one pooled rate


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated campaign. Times are in seconds, rates are probabilities."""

    name: str
    agents: int
    answer_rate: float
    talk_mean_s: float
    talk_cv: float
    wrap_s: int = 10
    busy_rate: float = 0.045
    machine_rate: float = 0.12
    amd_false_negative: float = 0.05
    amd_false_positive: float = 0.01
    # seconds AMD() takes from the answer to its verdict, drawn per lead uniformly in
    # [lo, hi] (real lines: 1.5-5 s; the sandbox's sim-pstn humans: ~1.5 s, see
    # bench/pacing_live.py); a number in a file means a fixed delay
    amd_delay_s: tuple[float, float] = (1.5, 5.0)
    ring_timeout_s: int = 25
    ring_clusters: tuple[tuple[int, int, float], ...] = ((6, 10, 0.55), (18, 22, 0.45))
    busy_detect_s: tuple[int, int] = (1, 3)
    machine_talk_s: tuple[int, int] = (4, 12)
    day_s: int = 8 * 3600
    p_profile: str = "flat"
    step_at_s: int = 4 * 3600
    step_factor: float = 0.5
    heterogeneous: bool = False
    p_info: str = "lead"
    # the reported p is the truth times this: a miscalibrated model, which the policy's online
    # correction (observed answers / predicted) must absorb
    p_bias: float = 1.0
    pauses_per_agent: int = 2
    pause_s: int = 600
    login_stagger_s: int = 0  # agents log in uniformly over the first this-many seconds
    early_logout_share: float = 0.0  # share of agents logging out in the second half
    abandon_window_s: float = 2.0
    max_lines_per_agent: float = 4.0
    cap: float = 0.03
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def has_lists(self) -> bool:
        return self.p_profile in LIST_PROFILES

    @property
    def max_lines(self) -> int:
        return max(1, int(self.max_lines_per_agent * self.agents))


def _validate(s: Scenario) -> None:
    if s.agents < 1:
        raise ScenarioError(f"{s.name}: agents must be >= 1")
    if not 0.0 < s.answer_rate < 1.0:
        raise ScenarioError(f"{s.name}: answer_rate must be in (0, 1)")
    if s.answer_rate + s.busy_rate + s.machine_rate > 1.0:
        raise ScenarioError(f"{s.name}: answer + busy + machine rates exceed 1")
    if s.p_profile not in P_PROFILES:
        raise ScenarioError(f"{s.name}: p_profile must be one of {P_PROFILES}")
    if s.p_info not in P_INFO:
        raise ScenarioError(f"{s.name}: p_info must be one of {P_INFO}")
    if not 0.1 <= s.p_bias <= 10.0:
        raise ScenarioError(f"{s.name}: p_bias must be in [0.1, 10]")
    if s.talk_mean_s <= 0 or s.talk_cv <= 0:
        raise ScenarioError(f"{s.name}: talk mean and cv must be positive")
    if len(s.amd_delay_s) != 2 or not 0.0 <= s.amd_delay_s[0] <= s.amd_delay_s[1] <= 30.0:
        raise ScenarioError(f"{s.name}: amd_delay_s must be [lo, hi] with 0 <= lo <= hi <= 30")
    if any(hi > s.ring_timeout_s or lo < 1 for lo, hi, _ in s.ring_clusters):
        raise ScenarioError(f"{s.name}: ring clusters must lie in [1, ring_timeout_s]")


def scenario_from_dict(raw: dict[str, Any]) -> Scenario:
    """Build a scenario, failing loudly on unknown or missing keys."""
    known = {f.name for f in fields(Scenario)}
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"unknown scenario keys: {sorted(unknown)}")
    values = dict(raw)
    for key in ("ring_clusters",):
        if key in values:
            values[key] = tuple(tuple(c) for c in values[key])
    if isinstance(values.get("amd_delay_s"), int | float):
        values["amd_delay_s"] = (float(values["amd_delay_s"]),) * 2
    for key in ("busy_detect_s", "machine_talk_s", "tags", "amd_delay_s"):
        if key in values:
            values[key] = tuple(values[key])
    try:
        return Scenario(**values)
    except TypeError as exc:
        raise ScenarioError(f"bad scenario {raw.get('name')!r}: {exc}") from None


def load_scenarios(path: Path) -> list[Scenario]:
    """Load a YAML or JSON file holding a list of scenarios (or ``{scenarios: [...]}``)."""
    text = path.read_text()
    raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if isinstance(raw, dict):
        defaults = raw.get("defaults", {})
        items = raw.get("scenarios", [])
    else:
        defaults, items = {}, raw
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{path}: expected a non-empty list of scenarios")
    return [scenario_from_dict({**defaults, **item}) for item in items]


def load_named(name: str) -> list[Scenario]:
    """Load ``predictive/scenarios/<name>.yaml``."""
    return load_scenarios(SCENARIO_DIR / f"{name}.yaml")


def grid(seed_name: str = "grid") -> list[Scenario]:
    """The issue's grid: N x p x talk profile, wrap 10 s."""
    talks = ((45.0, 0.5), (120.0, 1.0), (400.0, 0.5))
    out = []
    for n in (5, 10, 20, 50, 100):
        for p in (0.10, 0.15, 0.30, 0.50):
            for t, cv in talks:
                name = f"{seed_name}_n{n}_p{int(p * 100):02d}_t{int(t)}"
                out.append(Scenario(name=name, agents=n, answer_rate=p, talk_mean_s=t, talk_cv=cv))
    return out


def with_agents(s: Scenario, agents: int) -> Scenario:
    return replace(s, agents=agents, name=f"{s.name}_n{agents}")
