"""The API's errors (and the services' sentences the pages show) said on the server in the
request's language: by error id, by the field's problem code, by the service's sentence; English
for a client that names no language, as before (``crm.http.messages``, ``crm.http.errors_map``,
the dialer's mapping in ``web.http``)."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ari_app.dialer.errors import AgentNotFound, InvalidRequest
from ari_app.dialer.model import InvalidCampaignConfig
from crm.http import messages
from crm.http.errors_map import error_response, localized
from web.http import dialer_errors

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}

# What the pages' client-side tables (console.js, models.js) said in Chinese before the server
# did: every case is said so by the server now.
FORMER_CLIENT_TABLES = [
    ("must be between 5 and 120 seconds", "须在 5 到 120 秒之间"),
    ("must be between 1 and 10", "须在 1 到 10 之间"),
    ("must be one of preview, progressive, predictive", "只能是 preview, progressive, predictive"),
    ("must be an integer 0..100", "须为整数 0..100"),
    ("unknown time zone", "未知时区"),
    ("expected HH:MM", "格式须为 HH:MM"),
    ("the calling window is empty (start = end)", "拨打时段为空（开始 = 结束）"),
    ("name is required", "名称必填"),
    ("'to' is before 'from'", "结束日期早于开始日期"),
    ("expected a sound name: letters, digits, _ / . -",
     "格式须为 a sound name: letters, digits, _ / . -"),
    ("abandon rate is not reported per agent variant: abandoned calls never reach an agent",
     "按坐席分组时不报告放弃率：放弃的呼叫从未到达坐席"),
    ("calls of one unit are correlated: with few units the intervals are optimistic",
     "同一单位的通话相互关联：单位较少时置信区间偏乐观"),
    ("too little history to train (0/2000 rows)", "历史数据不足，无法训练（0/2000 行）"),
    ("too little history to train: need >= 500 labelled customers, got 12",
     "历史数据不足，无法训练：至少需要 500 位有结果的客户，现有 12"),
    ("too little history to train: something else", "历史数据不足，无法训练：something else"),
    ("trained answer-20260301T0900 (forced)", "已训练 answer-20260301T0900"),
    ("trained answer-2 (replaces answer-1)", "已训练 answer-2（替换 answer-1）"),
    ("trained conversion-7", "已训练 conversion-7"),
    ("kept answer-1 (42 new rows)", "保留 answer-1（新增 42 行）"),
    ("kept conversion-1 (3 customers called since)", "保留 conversion-1（此后有 3 位客户被拨打）"),
    ("no conversion model trained yet (needs >= 500 customers with calls)",
     "尚未训练转化模型（至少需要 500 位有通话的客户）"),
]


@pytest.mark.parametrize(("english", "chinese"), FORMER_CLIENT_TABLES)
def test_given_service_sentence_when_said_then_chinese_in_zh_and_unchanged_in_en(
    english: str, chinese: str
) -> None:
    assert messages.text("zh", english) == chinese
    assert messages.text("en", english) == english


def test_given_every_sentence_when_said_in_chinese_then_its_own_translation_wins() -> None:
    """No general sentence shadows a specific one listed after it."""
    for sid, (en, zh) in messages.TEXTS.items():
        names = {n for _, n, _, _ in string.Formatter().parse(en) if n}
        sample = {n: f"<{n}{i}>" for i, n in enumerate(sorted(names))}
        assert messages.text("zh", en.format(**sample)) == zh.format(**sample), sid


@pytest.mark.parametrize(("code", "ctx", "chinese"), [
    ("less_than_equal", {"le": 120}, "不能大于 120"),
    ("greater_than_equal", {"ge": 1}, "不能小于 1"),
    ("less_than", {"lt": 5}, "须小于 5"),
    ("greater_than", {"gt": 0}, "须大于 0"),
    ("int_parsing", {}, "请输入数字"),
    ("float_parsing", {}, "请输入数字"),
    ("literal_error", {"expected": "'hangup' or 'message'"}, "只能是 'hangup' 或 'message'"),
    ("string_too_short", {"min_length": 1}, "不能为空"),
    ("string_too_short", {"min_length": 3}, "至少 3 个字符"),
    ("string_too_long", {"max_length": 128}, "最多 128 个字符"),
    ("string_pattern_mismatch", {"pattern": "^x$"}, "格式不正确"),
    ("extra_forbidden", None, "不支持此字段"),
    ("missing", None, "必填"),
])
def test_given_pydantic_problem_when_said_then_by_code_and_limits(
    code: str, ctx: dict[str, Any] | None, chinese: str
) -> None:
    assert messages.problem("zh", code, ctx, "pydantic's English") == chinese
    assert messages.problem("en", code, ctx, "pydantic's English") == "pydantic's English"


def test_given_unknown_problem_or_sentence_when_said_in_chinese_then_error_text_keeps_english(
) -> None:
    assert messages.problem("zh", "some_new_code", {}, "Input is odd") == "输入无效：Input is odd"
    body = {"error": "forbidden", "message": "not allowed today", "details": {}}
    assert messages.localize_body("zh", body)["message"] == "无权执行此操作：not allowed today"
    generic = {"error": "internal_error", "message": "internal error", "details": {}}
    assert messages.localize_body("zh", generic)["message"] == "服务器内部错误"
    assert messages.localize_body("en", body) == body


@pytest.mark.parametrize(("body", "chinese"), [
    ({"error": "not_found", "message": "agent mdl_a2 not found",
      "details": {"entity": "agent", "id": "mdl_a2"}}, "坐席 mdl_a2 不存在（或已不是坐席/主管）"),
    ({"error": "not_found", "message": "campaign 7 not found",
      "details": {"entity": "campaign", "id": "7"}}, "活动 7 不存在"),
    ({"error": "already_exists", "message": "user with username=li already exists",
      "details": {"entity": "user", "field": "username", "value": "li"}},
     "用户（username=li）已存在"),
    ({"error": "unauthenticated", "message": "authentication required", "details": {}},
     "需要登录"),
    ({"error": "invalid_input", "message": "ring_timeout_s: must be between 5 and 120 seconds",
      "details": {"field": "ring_timeout_s"}}, "ring_timeout_s: 须在 5 到 120 秒之间"),
])
def test_given_error_body_when_said_in_chinese_then_by_error_id_and_field(
    body: dict[str, Any], chinese: str
) -> None:
    said = messages.localize_body("zh", body)
    assert said["message"] == chinese
    assert said["error"] == body["error"] and said["details"] == body["details"]
    assert messages.localize_body("en", body)["message"] == body["message"]


@pytest.mark.parametrize(("query", "cookie", "accept", "lang"), [
    ("", None, None, "en"),  # an API client naming no language: English, as before
    ("", None, "fr-FR,fr", "en"),
    ("", None, "zh-CN,zh;q=0.9", "zh"),
    ("", None, "en-GB,en;q=0.9", "en"),
    ("", "zh", "en-GB", "zh"),  # the lang cookie the pages set wins over Accept-Language
    ("?lang=en", "zh", "zh-CN", "en"),  # ?lang= wins over both
    ("?lang=klingon", "en", "zh-CN", "en"),
])
def test_given_request_when_picking_language_then_query_cookie_accept_then_english(
    query: str, cookie: str | None, accept: str | None, lang: str
) -> None:
    headers = {}
    if accept:
        headers["Accept-Language"] = accept
    if cookie:
        headers["Cookie"] = f"lang={cookie}"
    request = make_mocked_request("GET", f"/api/x{query}", headers=headers)
    assert messages.request_language(request) == lang


def _body(response: web.StreamResponse, lang: str) -> dict[str, Any]:
    said = localized(response, lang)
    assert isinstance(said, web.Response) and said.text is not None
    return json.loads(said.text)


async def test_given_dialer_errors_when_mapped_then_said_in_the_request_language() -> None:
    async def bad_config(ctx: Any) -> web.StreamResponse:
        raise InvalidCampaignConfig([("ring_timeout_s", "must be between 5 and 120 seconds"),
                                     ("dial_ratio", "must be between 1 and 10")])

    async def bad_field(ctx: Any) -> web.StreamResponse:
        raise InvalidRequest("mode", "must be one of listen, whisper, barge")

    async def no_agent(ctx: Any) -> web.StreamResponse:
        raise AgentNotFound("1001")

    en = _body(await dialer_errors(bad_config)(None), "en")  # type: ignore[arg-type]
    assert en["message"] == "ring_timeout_s: must be between 5 and 120 seconds"
    zh = _body(await dialer_errors(bad_config)(None), "zh")  # type: ignore[arg-type]
    assert zh["message"] == "ring_timeout_s: 须在 5 到 120 秒之间"
    assert zh["details"]["problems"] == {"ring_timeout_s": "须在 5 到 120 秒之间",
                                         "dial_ratio": "须在 1 到 10 之间"}
    zh = _body(await dialer_errors(bad_field)(None), "zh")  # type: ignore[arg-type]
    assert zh["error"] == "invalid_request"
    assert zh["message"] == "mode: 只能是 listen, whisper, barge"
    zh = _body(await dialer_errors(no_agent)(None), "zh")  # type: ignore[arg-type]
    assert zh["message"] == "坐席 '1001' 未登录" and zh["details"] == {"field": "agent_id"}


def test_given_error_response_when_english_then_body_as_before() -> None:
    response = error_response(409, "conflict", "the experiment is already stopped",
                              {"field": "status"})
    assert _body(response, "en") == {"error": "conflict",
                                     "message": "the experiment is already stopped",
                                     "details": {"field": "status"}}
    assert _body(response, "zh")["message"] == "实验已停止"


async def test_given_bad_requests_when_client_asks_chinese_then_messages_in_chinese(
    crm_client, crm_actors
) -> None:
    admin, manager = crm_actors["admin"].headers, crm_actors["manager"].headers
    agent = crm_actors["agent"].headers
    cases = [  # (method, path, body, who, English as before, Chinese)
        ("POST", "/api/customers", {"name": "x", "nmae": "typo"}, admin,
         "nmae: Extra inputs are not permitted", "nmae: 不支持此字段"),
        ("GET", "/api/customers?limit=0", None, admin,
         "limit: Input should be greater than or equal to 1", "limit: 不能小于 1"),
        ("POST", "/api/campaigns", {"name": "c", "timezone": "Mars/Base"}, admin,
         "unknown time zone", "未知时区"),
        ("GET", "/api/reports/days?from=2026-03-31&to=2026-03-01", None, manager,
         "'to' is before 'from'", "结束日期早于开始日期"),
        ("PUT", "/api/agents/nobody/seniority", {"seniority": "senior"}, manager,
         "agent nobody not found", "坐席 nobody 不存在（或已不是坐席/主管）"),
        ("GET", "/api/campaigns", None, agent,
         "role agent may not do this", "角色 agent 无权执行此操作"),
        ("GET", "/api/no-such-route", None, admin, "Not Found", "不存在"),
    ]
    for method, path, body, who, english, chinese in cases:
        plain = await crm_client.request(method, path, json=body, headers=who)
        asked = await crm_client.request(method, path, json=body, headers={**who, **ZH})
        assert plain.status == asked.status >= 400, path
        en, zh = await plain.json(), await asked.json()
        assert en["message"] == english, (path, en)
        assert zh["message"] == chinese, (path, zh)
        assert zh["error"] == en["error"] and set(zh) == {"error", "message", "details"}
    problems = (await (await crm_client.post(
        "/api/customers", json={"name": "", "nmae": 1}, headers={**admin, **ZH})).json()
    )["details"]["problems"]
    assert [p["message"] for p in problems] == ["不能为空", "不支持此字段"]


async def test_given_lang_cookie_when_calling_api_then_its_language(crm_client, crm_actors
                                                                    ) -> None:
    who = crm_actors["admin"].headers
    path = "/api/customers/00000000-0000-0000-0000-000000000000"
    zh = await crm_client.get(path, headers={**who, "Cookie": "lang=zh"})
    assert (await zh.json())["message"] == (
        "客户 00000000-0000-0000-0000-000000000000 不存在")
    en = await crm_client.get(path, headers={**who, "Cookie": "lang=en", **ZH})
    assert (await en.json())["message"] == (
        "customer 00000000-0000-0000-0000-000000000000 not found")


async def test_given_model_endpoints_when_asked_in_chinese_then_their_sentences_in_chinese(
    crm_client, crm_actors
) -> None:
    manager = crm_actors["manager"].headers
    plain = await (await crm_client.post("/api/models/answer/retrain", json={"force": True},
                                         headers=manager)).json()
    assert plain["result"].startswith("too little history to train (0/")
    run = await (await crm_client.post("/api/models/answer/retrain", json={"force": True},
                                       headers={**manager, **ZH})).json()
    assert run["result"].startswith("历史数据不足，无法训练（0/")
    assert run["model"]["last_run"]["result"] == run["result"]
    assert run["model"]["message"].startswith("仅先验（0 行 < ")
    status = await (await crm_client.get("/api/models/answer", headers=manager)).json()
    assert status["last_run"]["result"] == plain["result"]  # the service's own is unchanged
    summary = await (await crm_client.get("/api/models/conversion",
                                          headers={**manager, **ZH})).json()
    assert summary["message"].startswith("尚未训练转化模型（至少需要 ")
