"""SQLModel tables of who works where (issue 17 item 7): a campaign's members (the agents who
may log into its dialing) and the SIP extensions bound to each user (the phones the dialer may
call for them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from crm.db.models import _ts


class CampaignMember(SQLModel, table=True):
    """A user (agent or manager) who may log into the campaign's dialing."""

    __tablename__ = "campaign_members"

    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    added_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    added_at: datetime = _ts()


class AgentExtension(SQLModel, table=True):
    """A SIP extension bound to one user (a user may have a few: desk, headset, softphone)."""

    __tablename__ = "agent_extensions"

    extension: str = Field(primary_key=True, max_length=8)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    bound_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    bound_at: datetime = _ts()
