"""Lead-import vocabulary: the column mapping (with Chinese aliases) and the per-row report."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from crm.domain.names import name_key
from crm.errors import InvalidInputError

FIELDS = (
    "name",
    "phone",
    "alt_phone",
    "email",
    "tags",
    "priority",
    "timezone",
    "agent",
    "external_ref",
)
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "customer_name", "full_name", "姓名", "客户姓名", "名字", "客户"),
    "phone": (
        "phone",
        "mobile",
        "phone_number",
        "number",
        "tel",
        "手机",
        "手机号",
        "电话",
        "电话号码",
        "联系电话",
    ),
    "alt_phone": ("alt_phone", "landline", "phone2", "座机", "固话", "备用电话"),
    "email": ("email", "e-mail", "邮箱", "电子邮箱"),
    "tags": ("tags", "tag", "标签"),
    "priority": ("priority", "优先级"),
    "timezone": ("timezone", "time_zone", "tz", "时区"),
    "agent": ("agent", "agent_username", "owner", "坐席", "负责人"),
    "external_ref": ("external_ref", "external_id", "id", "customer_id", "客户编号"),
}
Status = Literal["created", "merged", "rejected"]


@dataclass(frozen=True)
class ColumnMapping:
    """Our field → the source column. Unmapped fields are ignored."""

    columns: Mapping[str, str]

    @classmethod
    def resolve(
        cls, header: Iterable[str], explicit: Mapping[str, str] | None = None
    ) -> ColumnMapping:
        explicit = dict(explicit or {})
        unknown = sorted(set(explicit) - set(FIELDS))
        if unknown:
            raise InvalidInputError("mapping", f"unknown target fields: {unknown}")
        by_key = {name_key(h): h for h in header if h is not None}
        cols = {f: c for f, c in explicit.items()}
        for target, names in ALIASES.items():
            if target not in cols:
                hit = next((by_key[name_key(n)] for n in names if name_key(n) in by_key), None)
                if hit is not None:
                    cols[target] = hit
        if "phone" not in cols:
            raise InvalidInputError(
                "mapping",
                "no phone column found; map one explicitly",
                columns=list(by_key.values()),
            )
        return cls(cols)

    def get(self, row: Mapping[str, Any], target: str) -> str:
        col = self.columns.get(target)
        value = row.get(col) if col is not None else None
        return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class RowResult:
    row: int
    status: Status
    reason: str | None = None
    field: str | None = None
    e164: str | None = None
    customer_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "status": self.status,
            "reason": self.reason,
            "field": self.field,
            "e164": self.e164,
            "customer_id": str(self.customer_id) if self.customer_id else None,
            "lead_id": str(self.lead_id) if self.lead_id else None,
        }


@dataclass
class ImportSummary:
    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, r: RowResult) -> None:
        self.rows += 1
        self.counts[r.status] += 1
        if r.reason:
            self.reasons[r.reason] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.counts["created"],
            "merged": self.counts["merged"],
            "rejected": self.counts["rejected"],
            "reasons": dict(self.reasons),
        }
