"""JSON views of stored rows (secrets never leave: password and token hashes are excluded)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from sqlmodel import SQLModel

from crm.db.models_ops import ApiToken, User
from crm.ports import LeadView
from crm.services.common import Page

_SECRET_FIELDS = {"password_hash", "token_hash"}
_TIME = TypeAdapter(datetime)


def row(obj: SQLModel) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude=_SECRET_FIELDS)


def user_json(user: User) -> dict[str, Any]:
    data = row(user)
    data["has_password"] = user.password_hash is not None
    return data


def json_time(value: datetime) -> str:
    """A time as :func:`row` writes one (``2026-03-02T03:00:00Z``)."""
    return str(_TIME.dump_python(value, mode="json"))


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as its owner sees it (never the token or its hash)."""
    return row(token)


def lead_view_json(v: LeadView) -> dict[str, Any]:
    data = dataclasses.asdict(v)
    return {
        k: (
            val.isoformat()
            if hasattr(val, "isoformat")
            else str(val)
            if val is not None and not isinstance(val, int | float | str | dict)
            else val
        )
        for k, val in data.items()
    }


def page_json(page: Page[Any], fn: Callable[[Any], dict[str, Any]] = row) -> dict[str, Any]:
    return {
        "items": [fn(x) for x in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
