"""What a campaign may put into Asterisk's dial string and caller id (issue 17): the patterns
the one settings definition (:mod:`crm.domain.dialing_settings`) checks ``channel_template``
and ``caller_id`` with, wherever they are accepted (the console's settings, the dialer's
``run``, the CRM's dialing settings, the dialer's own ``CampaignConfig``).

- ``channel_template``: ``Tech/resource`` where the resource holds the one placeholder
  ``{number}`` and otherwise only letters, digits and ``_ . @ - + : /`` (e.g.
  ``PJSIP/{number}@trunk``, ``Local/{number}@sim-pstn``, ``SIP/trunk/{number}``). No other
  braces (``{number.__class__}``, ``{0}``, ``{number[0]}`` are refused; the dialer substitutes
  the number with ``str.replace``, never ``str.format``), no ``&`` (several channels), ``,``
  (dial options), whitespace or control characters.
- ``caller_id``: empty (Asterisk's default), a number (5 to 20 digits, optional leading ``+``),
  or ``"Name" <number>`` with a name of 1 to 40 printable characters, not starting with a
  space, without ``"``, ``<``, ``>``, ``\\`` or control characters. The 5-digit minimum
  refuses short service and emergency codes (110, 112, 911 ...) as a presented number.
"""

from __future__ import annotations

TEMPLATE_HINT = "Tech/…{number}…, e.g. PJSIP/{number}@trunk"
CALLER_ID_HINT = 'a number of 5 to 20 digits (optional +), or "Name" <number>'

_TECH = r"[A-Za-z][A-Za-z0-9]{0,31}"
_RESOURCE = r"[A-Za-z0-9_.@:+/-]{0,160}"
TEMPLATE_PATTERN = rf"^{_TECH}/{_RESOURCE}\{{number\}}{_RESOURCE}$"

_NUMBER = r"\+?[0-9]{5,20}"
_NAME_CHAR = r'[^"<>\\\x00-\x1f\x7f-\x9f]'
_NAME = rf'[^"<>\\\s\x00-\x1f\x7f-\x9f]{_NAME_CHAR}{{0,39}}'
CALLER_ID_PATTERN = rf'^$|^{_NUMBER}$|^"{_NAME}" <{_NUMBER}>$'
