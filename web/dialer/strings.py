"""The agent page's manual-dial control (issue 13 item 2), zh and en."""

from __future__ import annotations

MANUAL_DIAL_STRINGS: dict[str, dict[str, str]] = {
    "manual_dial": {"zh": "手动拨号", "en": "Manual dial"},
    "manual_dial_hint": {"zh": "暂停时可手动拨打本活动的客户号码",
                         "en": "While paused, dial a customer of your campaign by hand"},
    "manual_dial_number": {"zh": "电话号码", "en": "Number"},
    "manual_dial_go": {"zh": "拨打", "en": "Call"},
    "manual_dial_override": {"zh": "越过拨打时段的原因（仅主管）",
                             "en": "Reason to call outside the window (managers only)"},
    "manual_dial_placed": {"zh": "正在呼叫 {number}…", "en": "Calling {number}…"},
    "manual_dial_login_first": {"zh": "请先签入拨号器并暂停",
                                "en": "Log in to the dialer and pause first"},
}
