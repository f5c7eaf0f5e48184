"""How a campaign dials, as edited from the manager console (issue 7).

One row per campaign; the dialer's ``CampaignConfig`` is built from it when the console starts
the campaign, so a controller restart or a new worker dials with the same settings.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from crm.db.models import _ts


class CampaignDialing(SQLModel, table=True):
    __tablename__ = "campaign_dialing_settings"

    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", primary_key=True)
    mode: str = Field(default="progressive", max_length=16)
    pacing: str = Field(default="model", max_length=8)
    dial_ratio: float = 2.0
    max_lines: int = 50
    abandon_target: float = 0.03
    abandon_window: str = Field(default="30d", max_length=8)  # regulatory window: 30d or 24h
    abandon_after_s: float = 2.0
    ring_timeout_s: int = 25
    amd: bool = True
    machine_action: str = Field(default="hangup", max_length=16)
    machine_message: str = Field(default="dialcrm/machine-message", max_length=128)
    safe_harbour: str = Field(default="sound:dialcrm/safe-harbour", max_length=128)
    wrap_up_limit_s: float = 60.0
    caller_id: str = Field(default="", max_length=64)
    channel_template: str = Field(default="Local/{number}@sim-pstn", max_length=200)
    record: bool = True
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
