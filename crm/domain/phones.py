"""Phone-number normalisation to E.164 (pure; wraps ``phonenumbers``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import phonenumbers.timezone
from phonenumbers import PhoneNumberType as _T

from crm.domain.enums import PhoneType
from crm.errors import InvalidPhoneNumberError

_TYPE_MAP = {
    _T.MOBILE: PhoneType.MOBILE,
    _T.FIXED_LINE: PhoneType.LANDLINE,
    _T.FIXED_LINE_OR_MOBILE: PhoneType.UNKNOWN,
    _T.VOIP: PhoneType.VOIP,
}
MAX_RAW_LENGTH = 64


@dataclass(frozen=True)
class NormalisedNumber:
    e164: str
    number_type: PhoneType
    region: str | None
    national: str


def normalise_number(raw: object, default_region: str, *, field: str = "phone") -> NormalisedNumber:
    """Parse ``raw`` (``138 0013 8000``, ``+86 10 …``, ``010-…``) into a valid E.164 number.

    Raises :class:`InvalidPhoneNumberError` naming ``field`` when it cannot.
    """
    text = str(raw).strip() if raw is not None else ""
    if not text:
        raise InvalidPhoneNumberError(field, "phone number is empty")
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidPhoneNumberError(field, "phone number is too long")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError(field, f"not a phone number: {exc}", value=text) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumberError(field, "not a valid phone number", value=text)
    return NormalisedNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        number_type=_TYPE_MAP.get(phonenumbers.number_type(parsed), PhoneType.UNKNOWN),
        region=phonenumbers.region_code_for_number(parsed),
        national=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
    )


def try_normalise(raw: object, default_region: str) -> NormalisedNumber | None:
    try:
        return normalise_number(raw, default_region)
    except InvalidPhoneNumberError:
        return None


@lru_cache(maxsize=65536)
def zones_for_number(e164: str) -> tuple[str, ...]:
    """The time zones a number may be in (from its country and area code), best first.

    Empty when phonenumbers cannot tell (the caller falls back to the campaign's zone).
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phonenumbers.timezone.time_zones_for_number(parsed)
    return tuple(z for z in zones if z and z != "Etc/Unknown")
