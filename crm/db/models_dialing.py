"""How a campaign dials, as edited from the manager console (issue 7).

One row per campaign; the dialer's ``CampaignConfig`` is built from it when the console starts
the campaign, so a controller restart or a new worker dials with the same settings. The columns'
defaults and text lengths are the settings' own (:mod:`crm.domain.dialing_settings`); the
migration that made the table (0006) states the same.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from crm.db.models import _ts
from crm.domain.dialing_settings import BY_NAME
from crm.domain.dialing_settings import DEFAULTS as _D


def _len(name: str) -> int | None:
    return BY_NAME[name].max_length


class CampaignDialing(SQLModel, table=True):
    __tablename__ = "campaign_dialing_settings"

    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", primary_key=True)
    mode: str = Field(default=_D["mode"], max_length=16)
    pacing: str = Field(default=_D["pacing"], max_length=8)
    dial_ratio: float = _D["dial_ratio"]
    max_lines: int = _D["max_lines"]
    abandon_target: float = _D["abandon_target"]
    abandon_window: str = Field(default=_D["abandon_window"], max_length=8)  # 30d or 24h
    abandon_after_s: float = _D["abandon_after_s"]
    pause_predictive_on_abandon_alarm: bool = _D["pause_predictive_on_abandon_alarm"]  # 0010
    ring_timeout_s: int = _D["ring_timeout_s"]
    amd: bool = _D["amd"]
    machine_action: str = Field(default=_D["machine_action"], max_length=16)
    machine_message: str = Field(default=_D["machine_message"], max_length=_len("machine_message"))
    safe_harbour: str = Field(default=_D["safe_harbour"], max_length=_len("safe_harbour"))
    wrap_up_limit_s: float = _D["wrap_up_limit_s"]
    caller_id: str = Field(default=_D["caller_id"], max_length=_len("caller_id"))
    channel_template: str = Field(default=_D["channel_template"],
                                  max_length=_len("channel_template"))
    record: bool = _D["record"]
    callback_grace_min: int = _D["callback_grace_min"]  # 0015
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
