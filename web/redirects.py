"""Where the login may send a browser next: only a path of this site (issue 17, #11).

``next=//evil.example``, ``/\\evil.example`` (``%5C``), ``/\\t/evil.example`` (``%09``: browsers
drop tabs and newlines, then read ``//``), ``https://evil.example`` are refused for the default.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

MAX_NEXT = 2000


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a same-site path (``/x?y``), else ``default``."""
    if not target or len(target) > MAX_NEXT or not target.startswith("/"):
        return default
    if target[1:2] in ("/", "\\") or "\\" in target:
        return default
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def login_url(path: str) -> str:
    """``/login?next=<path>``, the path quoted (a page's own path, back after the login)."""
    return "/login?next=" + quote(safe_next(path, "/"), safe="/")
