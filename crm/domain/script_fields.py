"""Scripts with fields (issue 13 item 8), pure: a script template may name the customer's and
the lead's fields (``{{customer.name}}``, ``{{lead.phone}}``); the pop shows it filled in.

A small safe substitution, not a template engine: one pass over the body, only the names of
:data:`FIELDS` (no attribute access, no expressions, no filters); a value is inserted as text and
never read again as a template (a customer named ``{{lead.phone}}`` stays that name). The page
shows the script as text (``textContent``), so a value holding markup is shown, never run; for
an HTML context pass ``escape=html.escape``. Which script (zh or en, by tags or by a pre-call
rule) is chosen as before: rendering comes after the choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# the fields a script may use, with the zh/en words the console can show beside them
FIELDS: dict[str, tuple[str, str]] = {
    "customer.name": ("客户姓名", "customer's name"),
    "customer.phone": ("客户电话", "customer's number"),
    "customer.tags": ("客户标签", "customer's tags"),
    "lead.phone": ("本次拨打号码", "the number dialled"),
}

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+)\.([a-z][a-z_]{0,31})\s*\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{(.{0,80}?)\}\}", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_VALUE = 200


def unknown_fields(body: str) -> list[str]:
    """The placeholders of ``body`` that name no allowed field (a script is refused with them)."""
    found = []
    for m in _ANY_PLACEHOLDER.finditer(body):
        name = m.group(1).strip()
        if name not in FIELDS:
            found.append(name)
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return _CONTROL.sub("", str(value))[:MAX_VALUE]


def render(body: str, values: Mapping[str, Any],
           escape: Callable[[str], str] = lambda s: s) -> str:
    """``body`` with each allowed placeholder replaced by ``escape(value)`` (empty when the
    value is unknown); anything else is left as written."""
    def one(m: re.Match[str]) -> str:
        name = f"{m.group(1)}.{m.group(2)}"
        if name not in FIELDS:
            return m.group(0)
        return escape(_text(values.get(name)))
    return _PLACEHOLDER.sub(one, body)


def pop_values(customer: Mapping[str, Any], number: str | None = None) -> dict[str, Any]:
    """The fields' values from a pop's customer summary and its lead (the number dialled)."""
    numbers = customer.get("numbers") or []
    first = numbers[0].get("e164") if numbers and isinstance(numbers[0], Mapping) else None
    return {"customer.name": customer.get("name"), "customer.phone": first or number,
            "customer.tags": customer.get("tags") or [], "lead.phone": number or first}


def with_script_rendered(customer: dict[str, Any], number: str | None = None) -> dict[str, Any]:
    """The summary with its recommended script filled in (a copy; the summary, cached and shared
    by pops, is left as read)."""
    script = customer.get("recommended_script")
    if not isinstance(script, Mapping) or "{{" not in str(script.get("body", "")):
        return customer
    body = render(str(script["body"]), pop_values(customer, number))
    return {**customer, "recommended_script": {**script, "body": body,
                                               "template": script["body"]}}
