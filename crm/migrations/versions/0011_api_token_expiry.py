"""API tokens expire (issue 17 item 9): ``api_tokens.expires_at``.

Tokens issued before this revision get 90 days from the upgrade (a token without an expiry is
refused), so a running integration has time to be given a new one.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from crm.db.types import UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None

GRACE = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", UtcDateTime(timezone=True), nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires_at", UtcDateTime(timezone=True)),
                      sa.column("revoked_at", UtcDateTime(timezone=True)))
    op.execute(
        tokens.update()
        .where(tokens.c.revoked_at.is_(None))
        .values(expires_at=datetime.now(UTC) + GRACE)
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
