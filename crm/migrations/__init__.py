"""Alembic migrations for the CRM schema, usable without an ``alembic.ini``.

``upgrade(database_url)`` brings a database to the newest revision (it is synchronous: call it
from a CLI or ``asyncio.to_thread``); ``alembic_config(database_url)`` gives a Config for other
Alembic commands (``alembic.command.revision(cfg, autogenerate=True, message=...)``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (``head`` by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
