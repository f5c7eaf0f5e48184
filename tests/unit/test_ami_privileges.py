"""The sandbox's AMI user may do what the app does and no more; RTP is bound to the configured
(loopback) address (issue 17 finding 14)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from ari_app import sandbox

ROOT = Path(__file__).resolve().parents[2]
# the privilege classes each AMI action needs, any one of them (`manager show command X`,
# Asterisk 22): every action the app sends must be listed here
ACTION_CLASSES = {
    "PJSIPShowContacts": {"system"},
    "CoreSettings": {"system", "reporting"},
    "CoreStatus": {"system", "reporting"},
    "Reload": {"system", "config"},
    "PJSIPQualify": {"system", "reporting"},
}
EVENTS_READ = {"cdr", "dialplan"}  # Cdr (the CDR cross-check), Newexten (bench/live_trigger)


def _conf(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",),
                                       interpolation=None)
    text = (sandbox.CONFIG_DIR / name).read_text()
    parser.read_string(re.sub(r"^(\[[^\]]+\])\(.*\)$", r"\1", text, flags=re.M))
    return parser


def _classes(raw: str) -> set[str]:
    return {c.strip() for c in raw.split(",") if c.strip()}


def _actions_sent() -> set[str]:
    found: set[str] = set()
    for folder in ("ari_app", "web", "crm", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"""\.action\(\s*["'](\w+)["']""", path.read_text()))
    return found


def test_given_app_sources_when_ami_actions_listed_then_each_allowed_by_the_ami_user() -> None:
    user = _conf("manager.conf")["dialcrm"]
    write = _classes(user["write"])
    sent = _actions_sent()
    assert sent <= set(ACTION_CLASSES), f"classes unknown for {sent - set(ACTION_CLASSES)}"
    for action in sent:
        assert ACTION_CLASSES[action] & write, f"{action} needs one of {ACTION_CLASSES[action]}"


def test_given_ami_user_then_no_privilege_beyond_what_the_app_uses() -> None:
    user = _conf("manager.conf")["dialcrm"]
    write, read = _classes(user["write"]), _classes(user["read"])
    assert not write & {"command", "originate", "call", "agent", "user", "all"}, write
    assert write == {"system"}, "PJSIPShowContacts needs system; it covers the rest"
    assert read == EVENTS_READ, read


def test_given_pjsip_endpoints_then_rtp_bound_to_the_transport_address() -> None:
    pjsip = _conf("pjsip.conf")
    host = pjsip["transport-udp"]["bind"].rsplit(":", 1)[0]
    endpoints = [s for s in pjsip.sections() if pjsip[s].get("type") == "endpoint"]
    assert {"agent-endpoint", "trunk-endpoint"} <= set(endpoints)
    for name in endpoints:
        assert pjsip[name].get("media_address") == host, name
        assert pjsip[name].get("bind_rtp_to_media_address") == "yes", name
