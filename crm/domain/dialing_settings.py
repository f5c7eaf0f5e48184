"""How a campaign dials: the ONE definition of its dialing settings (issue 12).

Each setting is a :class:`SettingSpec`: name, Python type, default, range or choices, unit, the
zh/en labels and a help text, where it lives (the dialer's config, the CRM's row) and how a change
reaches a running campaign. Everything else is derived from :data:`SETTINGS`:

- the dialer's ``CampaignConfig`` (:mod:`ari_app.dialer.model`): its defaults and its
  validation (:func:`problems`);
- the CRM's row (:mod:`crm.db.models_dialing`): its column defaults and lengths; and the CRM's
  checks (:mod:`crm.services.dialing`, again :func:`problems`);
- the HTTP schemas (``DialingPatch`` of the console API, ``CampaignRunIn`` of the dialer API,
  both built by ``web.http.settings_model``);
- the console's form (``web/templates/console_campaign.html``: inputs, ranges, sections) and its
  labels (``web/i18n_console.py``).

Why here, in the CRM's domain: the CRM keeps the settings (its row, its checks) and must not
import the dialer (``ari_app`` imports ``crm``, never the other way; the CRM also runs as its
own service behind ``ari_app.adapters.crm_http``), while the dialer and the web shell may import
the CRM. A pure module (no I/O, no pydantic, no SQL) keeps the dialer's domain free of I/O when
it imports this. The dialer's enums (``DialMode``, ``MachineAction``) keep their home in the
dialer; their values are the choices here (a unit test holds them equal).

The text rules (sound names, caller id, channel template) are regular expressions checked by
:func:`problems`, not by the HTTP schemas, so that a refusal says what is expected in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crm.domain.dial_strings import (
    CALLER_ID_HINT,
    CALLER_ID_PATTERN,
    TEMPLATE_HINT,
    TEMPLATE_PATTERN,
)


class Live(StrEnum):
    """How a change reaches a campaign that is dialing."""

    SWITCH = "switch"  # its own live switch (the mode: withdraws preview offers)
    RECONFIGURE = "reconfigure"  # the running campaign is given its new config at once
    REPORT = "report"  # not the dialer's: read by the CRM's reports only


class Section(StrEnum):
    """The console form's fieldset a setting is shown in (``sec_<value>`` is its title)."""

    NONE = ""  # not in the settings form (the mode has its own switch; vocabulary: API only)
    DIALING = "dialing"
    ABANDON = "abandon"
    AMD = "amd"
    AGENT = "agent"


@dataclass(frozen=True)
class SettingSpec:
    name: str
    type: type  # bool, int, float, str or tuple (a list of words)
    default: Any
    zh: str
    en: str
    help: str = ""
    unit: str = ""  # "s" (seconds), "ratio" (0.03 = 3 %), "lines", ...
    low: float | None = None  # inclusive range of a number
    high: float | None = None
    step: float | None = None  # the form's precision for a number
    choices: tuple[str, ...] = ()
    choice_labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # value: (zh, en)
    label_prefix: str = ""  # the i18n key of a choice is f"{label_prefix}_{value}"
    max_length: int | None = None  # a text's length; a word list's length of one word
    max_items: int | None = None  # a word list's length
    pattern: str | None = None  # the regular expression a text must match
    hint: str = ""  # what the pattern means, for the error message
    dialer: bool = True  # a field of the dialer's CampaignConfig
    stored: bool = True  # kept by the CRM (its row) and edited in the console
    live: Live = Live.RECONFIGURE
    section: Section = Section.NONE

    @property
    def kind(self) -> str:
        """What input it is: choice, bool, number, text or words."""
        if self.choices:
            return "choice"
        return {bool: "bool", int: "number", float: "number", tuple: "words"}.get(
            self.type, "text")

    def choice_key(self, value: str) -> str:
        return f"{self.label_prefix or self.name}_{value}"

    def range_text(self) -> str:
        unit = " seconds" if self.unit == "s" else ""
        return f"must be between {self.low:g} and {self.high:g}{unit}"


_SOUND = r"^[A-Za-z0-9_/.-]{1,128}$"
_SAFE_HARBOUR = r"^sound:[A-Za-z0-9_/.-]{1,120}$"
_KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")  # a phone's keys
_CALLER_ID = CALLER_ID_PATTERN  # what Asterisk may be given: crm.domain.dial_strings
_TEMPLATE = TEMPLATE_PATTERN

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "mode", str, "progressive", "拨号模式", "Dialing mode",
        choices=("preview", "progressive", "predictive"),
        choice_labels={"preview": ("预览式", "preview"),
                       "progressive": ("渐进式", "progressive"),
                       "predictive": ("预测式", "predictive")},
        live=Live.SWITCH),
    SettingSpec(
        "pacing", str, "model", "预测算法", "Pacing",
        help='predictive mode: "model" (answer-probability pacing) or "ratio"',
        choices=("model", "ratio"),
        choice_labels={"model": ("接通概率模型", "answer-probability model"),
                       "ratio": ("固定比例", "fixed ratio")},
        section=Section.DIALING),
    SettingSpec(
        "dial_ratio", float, 2.0, "每位就绪坐席线路数", "Lines per ready agent",
        help="lines per ready agent", unit="lines", low=1, high=10, step=0.1,
        section=Section.DIALING),
    SettingSpec(
        "max_lines", int, 50, "最大并发线路", "Max lines", unit="lines", low=1, high=1000,
        step=1, section=Section.DIALING),
    SettingSpec(
        "ring_timeout_s", int, 25, "振铃超时（秒）", "Ring timeout (s)", unit="s", low=5,
        high=120, step=1, section=Section.DIALING),
    SettingSpec(
        "caller_id", str, "", "主叫号码", "Caller ID", max_length=64, pattern=_CALLER_ID,
        hint=CALLER_ID_HINT, section=Section.DIALING),
    SettingSpec(
        "channel_template", str, "Local/{number}@sim-pstn", "通道模板", "Channel template",
        help="the channel each number is dialed on", max_length=200, pattern=_TEMPLATE,
        hint=TEMPLATE_HINT, section=Section.DIALING),
    SettingSpec(
        "abandon_target", float, 0.03, "放弃率上限（0.03 = 3%）", "Abandon-rate cap (0.03 = 3 %)",
        help="0.03 = 3 %", unit="ratio", low=0.001, high=0.2, step=0.001,
        section=Section.ABANDON),
    SettingSpec(
        "abandon_window", str, "30d", "监管统计窗口", "Regulatory window",
        help="the regulatory window the abandon rate is measured over",
        choices=("30d", "24h"),
        choice_labels={"30d": ("30 天", "30 days"), "24h": ("24 小时", "24 hours")},
        label_prefix="window", section=Section.ABANDON),  # the reports' and the dialer's brake
    SettingSpec(
        "pause_predictive_on_abandon_alarm", bool, True, "放弃率告警时暂停预测式",
        "Pause predictive on an abandon alarm",
        help="too many abandons in the last 15 minutes: switch to progressive until a manager "
             "resumes predictive", section=Section.ABANDON),
    SettingSpec(
        "abandon_brake", bool, True, "放弃率硬制动", "Abandon brake",
        help="cut every predictive launch that could push the abandon rate over its cap (off "
             "only to test the safe-harbour path)", stored=False),
    SettingSpec(
        "abandon_after_s", float, 2.0, "无坐席时放弃前等待（秒）",
        "Wait for an agent before abandoning (s)", unit="s", low=0.5, high=10, step=0.1,
        section=Section.ABANDON),
    SettingSpec(
        "safe_harbour", str, "sound:dialcrm/safe-harbour", "放弃提示音（安全港）",
        "Safe-harbour message", help="played to abandoned customers", max_length=128,
        pattern=_SAFE_HARBOUR, hint="sound:<name>, e.g. sound:dialcrm/safe-harbour",
        section=Section.ABANDON),
    SettingSpec(
        "opt_out_key", str, "9", "退订按键", "Opt-out key",
        help="the key a customer presses during the safe-harbour message (or any campaign "
             "prompt) to be put on the do-not-call list",
        choices=_KEYS, choice_labels={k: (k, k) for k in _KEYS}, label_prefix="key",
        stored=False),
    SettingSpec(
        "opt_out_scope", str, "global", "退订范围", "Opt-out scope",
        help="the do-not-call list an opt-out goes on: the campaign's or the global one",
        choices=("campaign", "global"),
        choice_labels={"campaign": ("本活动", "this campaign"), "global": ("全局", "global")},
        label_prefix="optout", stored=False),
    SettingSpec(
        "amd", bool, True, "启用答录机检测", "Detect answering machines", section=Section.AMD),
    SettingSpec(
        "machine_action", str, "hangup", "检测到答录机时", "On a machine",
        choices=("hangup", "message"),
        choice_labels={"hangup": ("挂断", "hang up"), "message": ("留言", "leave a message")},
        label_prefix="action", section=Section.AMD),
    SettingSpec(
        "machine_message", str, "dialcrm/machine-message", "留言音频", "Message sound",
        help="sound left on answering machines (message action), played after the beep",
        max_length=128, pattern=_SOUND, hint="a sound name: letters, digits, _ / . -",
        section=Section.AMD),
    SettingSpec(
        "wrap_up_limit_s", float, 60.0, "话后处理上限（秒）", "Wrap-up limit (s)", unit="s",
        low=0, high=3600, step=1, section=Section.AGENT),
    SettingSpec(
        "callback_grace_min", int, 30, "个人回拨保留（分钟）", "Personal callback grace (min)",
        help="a personal callback whose agent is not logged in goes to the whole campaign this "
             "long after its due time", unit="min", low=0, high=1440, step=1,
        section=Section.AGENT),
    SettingSpec(
        "record", bool, True, "通话录音", "Record calls", section=Section.AGENT),
    SettingSpec(
        "vocabulary", tuple, (), "识别词表", "Recognition vocabulary",
        help="words that steer live speech recognition (empty: the CRM lexicon's)",
        max_length=64, max_items=100, stored=False),
)

BY_NAME: dict[str, SettingSpec] = {s.name: s for s in SETTINGS}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
DIALER_FIELDS = tuple(s.name for s in SETTINGS if s.dialer)  # the dialer's CampaignConfig
STORED_FIELDS = tuple(s.name for s in SETTINGS if s.stored)  # the CRM's row, the console
CONFIG_FIELDS = tuple(s.name for s in SETTINGS if s.dialer and s.stored)  # row -> config
RECONFIGURED = frozenset(s.name for s in SETTINGS if s.live is Live.RECONFIGURE)
SECTIONS = tuple(s for s in Section if s is not Section.NONE)


def in_section(section: Section | str) -> tuple[SettingSpec, ...]:
    return tuple(s for s in SETTINGS if s.section == section)


def labels() -> dict[str, dict[str, str]]:
    """The zh/en UI strings: each setting's label under its name, each choice's under
    :meth:`SettingSpec.choice_key`."""
    out = {s.name: {"zh": s.zh, "en": s.en} for s in SETTINGS}
    for s in SETTINGS:
        for value, (zh, en) in s.choice_labels.items():
            out[s.choice_key(value)] = {"zh": zh, "en": en}
    return out


def problems(values: Mapping[str, Any], names: Iterable[str] | None = None
             ) -> list[tuple[str, str]]:
    """``(field, why)`` for each value that breaks its setting's rules, in :data:`SETTINGS`'
    order; ``names`` (default: the keys of ``values``) picks the settings checked."""
    chosen = set(values if names is None else names)
    found = []
    for spec in SETTINGS:
        if spec.name in chosen and spec.name in values:
            why = problem(spec, values[spec.name])
            if why:
                found.append((spec.name, why))
    return found


def problem(spec: SettingSpec, value: Any) -> str | None:
    """Why ``value`` is not a valid ``spec`` (None: it is)."""
    if value is None:
        return "must not be null"
    kind = spec.kind
    if kind == "choice":
        return None if value in spec.choices else "must be one of " + ", ".join(spec.choices)
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "number":
        return _number_problem(spec, value)
    if kind == "words":
        return _words_problem(spec, value)
    return _text_problem(spec, value)


def _number_problem(spec: SettingSpec, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if spec.type is int and not float(value).is_integer():
        return "must be a whole number"
    if spec.low is not None and spec.high is not None and not spec.low <= value <= spec.high:
        return spec.range_text()
    return None


def _text_problem(spec: SettingSpec, value: Any) -> str | None:
    if not isinstance(value, str) or (spec.pattern and not re.match(spec.pattern, value)):
        return f"expected {spec.hint}"
    if spec.max_length is not None and len(value) > spec.max_length:
        return f"at most {spec.max_length} characters"
    return None


def _words_problem(spec: SettingSpec, value: Any) -> str | None:
    most, longest = spec.max_items or 0, spec.max_length or 0
    if (not isinstance(value, list | tuple) or len(value) > most
            or not all(isinstance(w, str) and 1 <= len(w.strip()) <= longest for w in value)):
        return f"at most {most} words or phrases of 1 to {longest} characters"
    return None
