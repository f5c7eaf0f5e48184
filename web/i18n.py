"""UI strings in Simplified Chinese (default) and English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"zh": "外呼 CRM", "en": "Outbound CRM"},
    "tagline": {
        "zh": "拨号器与 CRM 一体的外呼中心",
        "en": "The outbound call centre where the dialer and the CRM are one",
    },
    "system_status": {"zh": "系统状态", "en": "System status"},
    "ari": {"zh": "ARI（呼叫控制）", "en": "ARI (call control)"},
    "ami": {"zh": "AMI（管理接口）", "en": "AMI (management)"},
    "connected": {"zh": "已连接", "en": "connected"},
    "disconnected": {"zh": "未连接", "en": "not connected"},
    "asterisk_version": {"zh": "Asterisk 版本", "en": "Asterisk version"},
    "language": {"zh": "语言", "en": "Language"},
    "reconnects": {"zh": "重连次数", "en": "reconnects"},
}


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        entry = STRINGS.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry["en"]

    return t
