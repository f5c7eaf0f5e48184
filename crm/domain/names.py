"""Name normalisation for search and ordering (Chinese and Latin names alike)."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 200
_SPACES = re.compile(r"\s+")


def clean_display_name(raw: str) -> str:
    """NFC, trimmed, inner whitespace collapsed; the form we store and show."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()


def name_key(raw: str) -> str:
    """The search/sort key: NFKC (full-width → ASCII, compatibility ideographs → unified),
    casefolded, whitespace collapsed. ``"ＺＨＡＮＧ  San"`` → ``"zhang san"``; ``"张三"`` stays.

    Ordered with a binary collation (SQLite ``BINARY``, PostgreSQL ``"C"``) it sorts identically
    on both engines: Latin letters alphabetically, Han characters in Unicode radical-stroke order.
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", raw).casefold()).strip()


def like_pattern(query: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern for a substring search on :func:`name_key` values."""
    escaped = name_key(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
