"""Password hashing (scrypt) and opaque tokens (API tokens, session ids) stored only hashed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_PREFIX = "dcrm_"
MAX_TOKEN_DAYS = 3650  # the longest an API token may live (a dialer's service token)
_SCRYPT_R = 8
_SCRYPT_P = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = 2**14) -> str:
    """``scrypt$n$r$p$salt$hash`` (parameters stored, so the cost can be raised later)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=128 * n * _SCRYPT_R * 2,
        dklen=32,
    )
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n_s, r_s, p_s, salt_s, hash_s = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, expected = base64.b64decode(salt_s), base64.b64decode(hash_s)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=128 * n * r * 2,
        dklen=len(expected),
    )
    return hmac.compare_digest(digest, expected)


def new_token() -> str:
    """A fresh high-entropy bearer token / session id (shown once, stored hashed)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 is enough for 256-bit random tokens (no KDF needed, unlike passwords)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
