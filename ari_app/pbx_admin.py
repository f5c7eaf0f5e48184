"""What admins ask of Asterisk that ARI does not offer, through AMI.

- agent-phone and trunk registrations and reachability (``PJSIPShowContacts``);
- Asterisk's version, uptime and last reload (``CoreSettings``, ``CoreStatus``);
- configuration reloads (``Reload``), e.g. after editing pjsip.conf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ari_app.ami import AmiClient
from ari_app.dialer.errors import InvalidRequest
from ari_app.errors import AmiActionFailed

RELOADABLE = ("res_pjsip.so", "pbx_config.so", "res_ari.so", "manager", "app_amd.so", "")


@dataclass(frozen=True)
class Contact:
    endpoint: str
    uri: str
    status: str  # Reachable, Unreachable, NonQualified, Unknown
    rtt_ms: float | None
    user_agent: str

    def as_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "uri": self.uri, "status": self.status,
                "rtt_ms": self.rtt_ms, "user_agent": self.user_agent}


def parse_contacts(messages: list[dict[str, str]]) -> list[Contact]:
    contacts = []
    for m in messages:
        if m.get("Event") != "ContactList":
            continue
        rtt = m.get("RoundtripUsec", "")
        contacts.append(Contact(
            endpoint=m.get("Endpoint", ""), uri=m.get("Uri", ""),
            status=m.get("Status", "Unknown"),
            rtt_ms=round(int(rtt) / 1000, 3) if rtt.isdigit() else None,
            user_agent=m.get("UserAgent", ""),
        ))
    return sorted(contacts, key=lambda c: c.endpoint)


class PbxAdmin:
    def __init__(self, ami: AmiClient) -> None:
        self.ami = ami

    async def contacts(self) -> list[Contact]:
        try:
            return parse_contacts(await self.ami.action("PJSIPShowContacts"))
        except AmiActionFailed as exc:
            if "no contacts found" in str(exc).lower():  # AMI's answer for an empty list
                return []
            raise

    async def overview(self) -> dict[str, Any]:
        settings = (await self.ami.action("CoreSettings"))[0]
        status = (await self.ami.action("CoreStatus"))[0]
        return {
            "version": settings.get("AsteriskVersion"),
            "startup": f"{status.get('CoreStartupDate')} {status.get('CoreStartupTime')}",
            "last_reload": f"{status.get('CoreReloadDate')} {status.get('CoreReloadTime')}",
            "current_calls": int(status.get("CoreCurrentCalls", "0") or 0),
            "contacts": [c.as_json() for c in await self.contacts()],
        }

    async def reload(self, module: str = "") -> str:
        if module not in RELOADABLE:
            raise InvalidRequest("module", f"one of {', '.join(m or '(all)' for m in RELOADABLE)}")
        fields = {"Module": module} if module else {}
        reply = (await self.ami.action("Reload", **fields))[0]
        return reply.get("Message", "reloaded")
