"""The API's words in English and Simplified Chinese: error messages by error id (and by the
field's problem code), and the services' sentences the pages show.

The CRM's and the dialer's errors carry a stable id and an English message (the API's language
when a client names none); the HTTP edge (:mod:`crm.http.errors_map`, ``web.http``) says them in
the request's language (:func:`request_language`) with these tables, zh and en side by side:

- ``ERRORS``: per error id, what is said when nothing more specific is known; in Chinese an
  unknown English message is kept after it (``输入无效：…``), so nothing is lost.
- ``PROBLEMS``: pydantic's problem codes (``less_than_equal``, ``extra_forbidden`` …) with the
  limits they carry (``{le}``); the English is pydantic's own message.
- ``ENTITIES``: the entities ``not_found`` and ``already_exists`` name.
- ``TEXTS``: the services' sentences under an id, the English exactly as the service says it with
  ``{placeholders}`` (a ``{why}`` is itself a sentence of this table), the Chinese beside it. The
  first that matches wins, so a specific one comes before a general one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import cache
from typing import Any

from aiohttp import web

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"  # the API's language for a client that names none


def request_language(request: web.Request) -> str:
    """``?lang=`` wins, then the ``lang`` cookie (both as the pages set them), then
    Accept-Language; English when none says Chinese (the API's clients get English)."""
    for candidate in (request.query.get("lang"), request.cookies.get("lang")):
        if candidate in LANGUAGES:
            return candidate
    accept = request.headers.get("Accept-Language", "")
    return "zh" if accept.strip().lower().startswith("zh") else DEFAULT_LANGUAGE


# fields a page shows to people, said by their label rather than their code (zh)
FIELD_NAMES: dict[str, str] = {"callback_at": "回拨时间", "disposition": "通话结果",
                               "pause_code": "暂停原因", "extension": "分机号"}

# -- by error id -----------------------------------------------------------------------------
ERRORS: dict[str, tuple[str, str]] = {  # id: (en, zh)
    "crm_error": ("request failed", "请求失败"),
    "http_error": ("request failed", "请求失败"),
    "invalid_input": ("invalid input", "输入无效"),
    "invalid_request": ("invalid input", "输入无效"),
    "invalid_phone_number": ("invalid phone number", "电话号码无效"),
    "not_found": ("not found", "不存在"),
    "agent_not_found": ("agent not logged in", "坐席未登录"),
    "campaign_not_found": ("campaign not found", "活动不存在"),
    "call_not_found": ("call not in progress", "通话不在进行中"),
    "monitor_not_found": ("not monitoring", "未在监听"),
    "conflict": ("conflict", "与当前状态冲突"),
    "number_conflict": ("phone number already belongs to another customer",
                        "该号码已属于其他客户"),
    "already_exists": ("already exists", "已存在"),
    "lead_locked": ("the lead is locked by another dialer worker", "该名单正被其他拨号进程占用"),
    "gone": ("gone", "已不存在"),
    "recording_purged": ("the recording was purged", "录音已被清除"),
    "recording_unreadable": ("the recording cannot be read", "录音无法读取"),
    "recording_key_unknown": ("the recording's key is unknown", "录音密钥未知"),
    "recording_integrity": ("the recording failed its integrity check", "录音未通过完整性校验"),
    "recording_tampered": ("the recording was tampered with", "录音已被篡改"),
    "recording_truncated": ("the recording is truncated", "录音不完整"),
    "url_invalid": ("invalid link", "链接无效"),
    "url_expired": ("the link has expired", "链接已过期"),
    "range_not_satisfiable": ("range not satisfiable", "请求的范围无效"),
    "unauthenticated": ("authentication required", "需要登录"),
    "forbidden": ("forbidden", "无权执行此操作"),
    "not_campaign_member": ("not a member of this campaign", "你不是该活动的成员"),
    "extension_not_bound": ("the extension is not bound to you", "该分机未绑定到你"),
    "method_not_allowed": ("method not allowed", "不支持此请求方法"),
    "too_large": ("request too large", "请求过大"),
    "too_many_attempts": ("too many attempts", "尝试次数过多"),
    "unsupported_media_type": ("unsupported media type", "不支持的内容类型"),
    "internal_error": ("internal error", "服务器内部错误"),
    "dialer_error": ("dialer error", "拨号器错误"),
    "agent_phone_unavailable": ("agent phone unavailable", "坐席话机不可用"),
    "telephony_unavailable": ("telephony unavailable", "电话系统不可用"),
}

# -- pydantic's problem codes (the English is pydantic's message) -----------------------------
PROBLEMS: dict[str, str] = {  # code: zh, with the problem's ctx as {placeholders}
    "less_than_equal": "不能大于 {le}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "须小于 {lt}",
    "greater_than": "须大于 {gt}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "finite_number": "须为有限数字",
    "int_parsing": "请输入数字",
    "int_type": "请输入数字",
    "float_parsing": "请输入数字",
    "float_type": "请输入数字",
    "int_from_float": "须为整数",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "literal_error": "只能是 {expected}",
    "enum": "只能是 {expected}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "须为文本",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "须为列表",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "extra_forbidden": "不支持此字段",
    "missing": "必填",
    "uuid_parsing": "须为 UUID",
    "uuid_type": "须为 UUID",
    "date_parsing": "日期格式须为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式须为 YYYY-MM-DD",
    "date_type": "日期格式须为 YYYY-MM-DD",
    "datetime_parsing": "时间格式须为 ISO 8601（如 2026-03-01T09:00:00+08:00）",
    "datetime_from_date_parsing": "时间格式须为 ISO 8601（如 2026-03-01T09:00:00+08:00）",
    "datetime_type": "时间格式须为 ISO 8601（如 2026-03-01T09:00:00+08:00）",
    "timezone_aware": "须带时区",
    "url_parsing": "网址格式不正确",
    "url_scheme": "网址格式不正确",
    "json_invalid": "不是有效的 JSON",
}
SPECIAL_PROBLEMS: dict[tuple[str, str], str] = {  # (code, one limit's value): zh
    ("string_too_short", "1"): "不能为空",
    ("too_short", "1"): "不能为空",
}

# -- entities named by not_found / already_exists --------------------------------------------
ENTITIES: dict[str, str] = {
    "agent": "坐席", "call": "通话", "call analysis": "通话分析", "campaign": "活动",
    "customer": "客户", "dnc entry": "免打扰号码", "experiment": "实验", "lead": "名单",
    "model version": "模型版本", "phone number": "电话号码", "recording": "录音",
    "recording of call": "通话录音", "rule": "规则", "task": "任务", "token": "令牌",
    "user": "用户", "script": "话术", "tag": "标签", "note": "备注",
    "campaign member": "活动成员",
}
NOT_FOUND: dict[str, str] = {  # entity: zh, when the general "{name} {id} 不存在" is not enough
    "agent": "坐席 {id} 不存在（或已不是坐席/主管）",
}

# -- the services' sentences ------------------------------------------------------------------
TEXTS: dict[str, tuple[str, str]] = {  # id: (en as the service says it, zh)
    # requests
    "auth.required": ("authentication required", "需要登录"),
    "auth.wrong_password": ("wrong username or password", "用户名或密码错误"),
    "auth.session_expired": ("session expired or unknown", "会话已过期，请重新登录"),
    "auth.bad_token": ("invalid or revoked token", "令牌无效或已撤销"),
    "auth.bad_token_expired": ("invalid, expired or revoked token", "令牌无效、已过期或已撤销"),
    "auth.throttled": ("too many failed logins; try again in {seconds} seconds",
                       "登录失败次数过多，请在 {seconds} 秒后重试"),
    "auth.current_password_required": ("the current password is required to change it",
                                       "修改密码需要输入当前密码"),
    "auth.current_password_wrong": ("the current password is wrong", "当前密码错误"),
    "token.not_yours": ("not your token", "不是你的令牌"),
    "token.others_admin": ("only an admin lists another user's tokens",
                           "只有管理员可以查看其他用户的令牌"),
    "auth.cross_origin": ("cross-origin request with a session cookie", "拒绝跨站请求"),
    "role.may_not": ("role {role} may not do this", "角色 {role} 无权执行此操作"),
    "campaign.not_yours": ("not your campaign", "不是你负责的活动"),
    "campaign.admin_reassigns": ("only an admin reassigns a campaign",
                                 "只有管理员可以重新分配活动"),
    "campaign.use_controls": ("use start, pause or stop", "请使用开始、暂停或停止"),
    "manual_dial.dnc": ("the number is on the do-not-call list", "该号码在免打扰名单上，不能拨打"),
    "manual_dial.window": ("outside the campaign's calling window in the number's time zone",
                           "按该号码所在时区，现在不在活动的拨打时段内"),
    "manual_dial.override": ("only a manager may override the calling window",
                             "只有主管可以越过拨打时段（需填写原因）"),
    "manual_dial.nothing": ("give a number or a customer to dial", "请输入号码或选择客户"),
    "manual_dial.unknown": ("no customer has this number", "没有客户使用这个号码"),
    "manual_dial.not_theirs": ("not a number of this customer", "这不是该客户的号码"),
    "manual_dial.no_number": ("the customer has no number to dial", "该客户没有可拨打的号码"),
    "manual_dial.busy_lead": ("the lead is being dialed already", "该线索正在被拨打"),
    "member.not_member": ("not a member of campaign {campaign}",
                          "你不是活动 {campaign} 的成员，请联系主管"),
    "member.no_user": ("no user named {name}", "没有名为 {name} 的用户"),
    "member.not_desk_user": ("{name} is not an agent or a manager", "{name} 不是坐席或主管"),
    "extension.not_yours": ("extension {extension} is not bound to you",
                            "分机 {extension} 未绑定到你的账号，请联系主管"),
    "extension.taken": ("extension {extension} is bound to another user",
                        "分机 {extension} 已绑定给其他用户"),
    "extension.too_many": ("at most {n} extensions", "最多 {n} 个分机"),
    "extension.admin_only": ("only an admin binds another manager's extensions",
                             "只有管理员可以为其他主管绑定分机"),
    "console.not_a_setting": ("not a console setting", "不是控制台设置项"),
    "body.json_required": ("a JSON body is required", "需要 JSON 请求体"),
    "body.json_type": ("Content-Type must be application/json",
                       "Content-Type 须为 application/json"),
    "body.not_utf8": ("the body is not UTF-8 text", "请求体不是 UTF-8 文本"),
    "body.bad_json": ("body is not valid JSON: {detail}", "请求体不是有效的 JSON：{detail}"),
    "data.conflict": ("the change conflicts with existing data", "修改与现有数据冲突"),
    "number.taken": ("phone number already belongs to another customer", "该号码已属于其他客户"),
    "internal": ("internal error", "服务器内部错误"),
    # fields
    "field.unknown": ("unknown field", "不支持此字段"),
    "field.null": ("{field} must not be null", "{field} 不能为空"),
    "field.number": ("must be a number", "请输入数字"),
    "field.whole_number": ("must be a whole number", "须为整数"),
    "field.bool": ("must be true or false", "须为 true 或 false"),
    "field.between_seconds": ("must be between {low} and {high} seconds",
                              "须在 {low} 到 {high} 秒之间"),
    "field.between_or_null": ("must be between {low} and {high}, or null",
                              "须在 {low} 到 {high} 之间，或留空"),
    "field.between": ("must be between {low} and {high}", "须在 {low} 到 {high} 之间"),
    "field.named_between": ("{field} must be between {low} and {high}",
                            "{field} 须在 {low} 到 {high} 之间"),
    "field.one_of_or_null": ("must be one of {choices} or null", "只能是 {choices}，或留空"),
    "field.one_of": ("must be one of {choices}", "只能是 {choices}"),
    "field.integer_in": ("must be an integer {range}", "须为整数 {range}"),
    "field.vocabulary": ("at most 100 words or phrases of 1 to 64 characters",
                         "最多 100 个词或短语，每个 1 到 64 个字符"),
    "field.timezone": ("unknown time zone", "未知时区"),
    "field.timezone_named": ("unknown time zone {zone}", "未知时区 {zone}"),
    "field.hhmm": ("expected HH:MM", "格式须为 HH:MM"),
    "field.expected": ("expected {what}", "格式须为 {what}"),
    "field.at_most_chars": ("at most {n} characters", "最多 {n} 个字符"),
    "field.name_required": ("name is required", "名称必填"),
    "phone.empty": ("phone number is empty", "电话号码为空"),
    "phone.too_long": ("phone number is too long", "电话号码过长"),
    "phone.invalid": ("not a valid phone number", "电话号码无效"),
    "phone.unparsable": ("not a phone number: {detail}", "不是电话号码：{detail}"),
    "window.empty": ("the calling window is empty (start = end)", "拨打时段为空（开始 = 结束）"),
    "report.to_before_from": ("'to' is before 'from'", "结束日期早于开始日期"),
    # experiments
    "experiment.stopped": ("the experiment is already stopped", "实验已停止"),
    "experiment.running": ("a {feature} experiment on {unit}s is already running",
                           "已有一个 {feature} 实验（单位：{unit}）在运行"),
    "experiment.no_abandon_per_agent": (
        "abandon rate is not reported per agent variant: abandoned calls never reach an agent",
        "按坐席分组时不报告放弃率：放弃的呼叫从未到达坐席"),
    "experiment.correlated_units": (
        "calls of one unit are correlated: with few units the intervals are optimistic",
        "同一单位的通话相互关联：单位较少时置信区间偏乐观"),
    # models
    "model.thin_rows": ("too little history to train ({rows}/{min} rows)",
                        "历史数据不足，无法训练（{rows}/{min} 行）"),
    "model.thin": ("too little history to train: {why}", "历史数据不足，无法训练：{why}"),
    "model.need_labelled": ("need >= {min} labelled customers, got {got}",
                            "至少需要 {min} 位有结果的客户，现有 {got}"),
    "model.need_rows": ("need >= {min} rows to train, got {got}", "至少需要 {min} 行，现有 {got}"),
    "model.trained_forced": ("trained {version} (forced)", "已训练 {version}"),
    "model.trained_replaces": ("trained {version} (replaces {old})",
                               "已训练 {version}（替换 {old}）"),
    "model.trained": ("trained {version}", "已训练 {version}"),
    "model.kept_rows": ("kept {version} ({n} new rows)", "保留 {version}（新增 {n} 行）"),
    "model.kept_customers": ("kept {version} ({n} customers called since)",
                             "保留 {version}（此后有 {n} 位客户被拨打）"),
    "model.no_conversion": ("no conversion model trained yet (needs >= {n} customers with calls)",
                            "尚未训练转化模型（至少需要 {n} 位有通话的客户）"),
    "model.prior_only": ("prior only ({rows} rows < {min})", "仅先验（{rows} 行 < {min}）"),
    # the dialer
    "dialer.agent_not_logged_in": ("agent {agent} is not logged in", "坐席 {agent} 未登录"),
    "dialer.campaign_missing": ("campaign {campaign} does not exist", "活动 {campaign} 不存在"),
    "dialer.call_gone": ("call {call} is not in progress", "通话 {call} 不在进行中"),
    "dialer.agent_phone": ("agent phone {extension}: {why}", "坐席话机 {extension}：{why}"),
    "dialer.phone_not_called": ("the phone could not be called", "无法呼叫该话机"),
    "dialer.phone_no_answer": ("the phone did not answer", "话机未接听"),
    "dialer.telephony_ref": ("telephony unavailable (ref {ref})", "电话系统不可用（编号 {ref}）"),
    "dialer.callback_time": ("a callback needs a date and time", "请选择回拨的日期和时间"),
    "dialer.callback_zone": ("give a time zone (e.g. +08:00)", "须带时区（如 +08:00）"),
    "dialer.future": ("must be in the future", "须晚于现在"),
}


@cache
def _pattern(english: str) -> re.Pattern[str]:
    """``"trained {version} (forced)"`` as an anchored regex capturing ``version``."""
    parts = []
    for literal, name, _spec, _conv in string.Formatter().parse(english):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def text(lang: str, english: str) -> str:
    """A service's English sentence said in ``lang``; unchanged when it is not in ``TEXTS``."""
    said = _known(lang, english)
    return english if said is None else said


def _known(lang: str, english: str) -> str | None:
    if lang == DEFAULT_LANGUAGE:
        return english
    for en, zh in TEXTS.values():
        found = _pattern(en).fullmatch(english)
        if found is not None:
            values = {k: text(lang, v) if k == "why" else v for k, v in found.groupdict().items()}
            return zh.format(**values)
    return None


def problem(lang: str, code: str, ctx: Mapping[str, Any] | None, english: str) -> str:
    """One field's problem (pydantic's ``type``, its ``ctx`` limits, pydantic's ``msg``)."""
    if lang == DEFAULT_LANGUAGE:
        return english
    limits = {k: _limit(v) for k, v in (ctx or {}).items()}
    zh = next((said for (kind, value), said in SPECIAL_PROBLEMS.items()
               if kind == code and value in limits.values()), PROBLEMS.get(code))
    if zh is not None:
        try:
            return zh.format(**limits)
        except (KeyError, IndexError):
            pass
    if code in ("value_error", "assertion_error") and ctx and "error" in ctx:
        return _said(lang, "invalid_input", str(ctx["error"]))
    return _said(lang, "invalid_input", english)


def _limit(value: Any) -> str:
    """A limit as said in Chinese: ``'a', 'b' or 'c'`` becomes ``'a'、'b' 或 'c'``."""
    return str(value).replace(" or ", " 或 ").replace(", ", "、")


def error_message(lang: str, error: str, message: str, details: Mapping[str, Any]) -> str:
    """The ``message`` of an error body in ``lang`` (``message`` is the English one)."""
    if lang == DEFAULT_LANGUAGE:
        return message
    entity = str(details.get("entity", ""))
    if error == "not_found" and entity and "id" in details:
        name = ENTITIES.get(entity, entity)
        return NOT_FOUND.get(entity, "{name} {id} 不存在").format(name=name, id=details["id"])
    if error == "already_exists" and entity and "field" in details:
        return (f"{ENTITIES.get(entity, entity)}（{details['field']}={details.get('value', '')}）"
                "已存在")
    field = details.get("field")
    if isinstance(field, str) and field and message.startswith(f"{field}: "):
        said = _said(lang, error, message[len(field) + 2:])
        if field in FIELD_NAMES:  # a field the pages show by name: its label, not its code
            return f"{FIELD_NAMES[field]}：{said}"
        return f"{field}: {said}"
    return _said(lang, error, message)


def _said(lang: str, error: str, english: str) -> str:
    """``english`` in ``lang``: a known sentence, the error id's own text, or the id's text
    with the English kept after it."""
    said = _known(lang, english)
    if said is not None:
        return said
    en, zh = ERRORS.get(error, ERRORS["crm_error"])
    if english.strip().lower() in ("", en.lower()):
        return zh
    return f"{zh}：{english}"


def localize_body(lang: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """An error body ``{"error", "message", "details"}`` (English) said in ``lang``: the
    message, and the per-field problems of ``details["problems"]`` (a list of
    ``{"field", "message"}`` or a mapping field → message)."""
    error = str(body.get("error", "crm_error"))
    details = dict(body.get("details") or {})
    problems = details.get("problems")
    if isinstance(problems, list):
        details["problems"] = [
            {**p, "message": _said(lang, error, str(p.get("message", "")))}
            if isinstance(p, dict) and lang != DEFAULT_LANGUAGE else p
            for p in problems
        ]
    elif isinstance(problems, dict) and lang != DEFAULT_LANGUAGE:
        details["problems"] = {k: _said(lang, error, str(v)) for k, v in problems.items()}
    return {**body, "error": error,
            "message": error_message(lang, error, str(body.get("message", "")), details),
            "details": details}


def texts(lang: str, data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """A copy of ``data`` with the sentences under ``keys`` (a string, or a list of strings)
    said in ``lang``: what a handler does to the human-readable fields of its reply."""
    out = dict(data)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = text(lang, value)
        elif isinstance(value, list):
            out[key] = [text(lang, v) if isinstance(v, str) else v for v in value]
    return out
