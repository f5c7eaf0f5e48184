"""Scripts with fields (issue 13 item 8): a script names the customer's and the lead's fields,
the pop shows it filled in (zh and en, the script chosen as before), safely: one pass, only the
allowed names, values inserted as text and never read again as a template."""

from __future__ import annotations

import html
from typing import Any

from ari_app.dialer.events import ScreenPop
from crm.domain.enums import Language
from crm.domain.script_fields import FIELDS, render, unknown_fields, with_script_rendered
from crm.service import CrmService
from crm.services.customers import CustomerInput
from crm.testing import CrmActor
from web.agent.pops import pop_message

VALUES = {"customer.name": "王芳", "customer.phone": "+8613800138000",
          "customer.tags": ["VIP", "续费"], "lead.phone": "+8613900139000"}


def test_given_zh_script_with_fields_when_rendered_then_filled_in() -> None:
    body = "您好，{{customer.name}}！您的号码 {{ customer.phone }}（{{customer.tags}}）"
    assert render(body, VALUES) == "您好，王芳！您的号码 +8613800138000（VIP, 续费）"


def test_given_en_script_when_field_unknown_value_then_empty_and_others_kept() -> None:
    assert render("Hello {{customer.name}}, calling {{lead.phone}}", {"lead.phone": "+861"}) \
        == "Hello , calling +861"


def test_given_injection_attempts_when_rendered_then_no_access_beyond_the_fields() -> None:
    body = ("{{customer.__class__}} {{customer.name.__class__.__mro__}} {{ 7*7 }} "
            "{% for x in y %}{{lead.phone|safe}}{% endfor %} {{config}}")
    assert render(body, VALUES) == body  # nothing of this is a field: left as written
    assert set(unknown_fields(body)) == {"customer.__class__",
                                         "customer.name.__class__.__mro__", "7*7",
                                         "lead.phone|safe", "config"}


def test_given_value_holding_template_and_markup_when_rendered_then_text_never_reread() -> None:
    evil = {"customer.name": "{{lead.phone}}<script>alert(1)</script>\x00\x1b",
            "lead.phone": "+8613900139000"}
    text = render("Hi {{customer.name}}", evil)
    assert text == "Hi {{lead.phone}}<script>alert(1)</script>"  # one pass, control chars gone
    assert render("Hi {{customer.name}}", evil, escape=html.escape) \
        == "Hi {{lead.phone}}&lt;script&gt;alert(1)&lt;/script&gt;"  # for an HTML context
    assert len(render("{{customer.name}}", {"customer.name": "x" * 10_000})) == 200


def test_given_summary_when_popped_then_script_rendered_and_cached_summary_untouched() -> None:
    summary: dict[str, Any] = {
        "name": "李娜", "tags": ["VIP"], "numbers": [{"e164": "+8613800138011"}],
        "recommended_script": {"id": "s", "name": "vip_zh", "language": "zh",
                               "body": "{{customer.name}}，您好，我们拨打的是 {{lead.phone}}"}}
    event = ScreenPop("a1", "call-1", "cust", "lead", "c1", "+8613800138011", "ringing", 0.0)
    popped = pop_message(event, summary, 1.0)["customer"]["recommended_script"]
    assert popped["body"] == "李娜，您好，我们拨打的是 +8613800138011"
    assert popped["template"] == summary["recommended_script"]["body"]
    assert "{{" in summary["recommended_script"]["body"]  # the shared summary is as read
    assert with_script_rendered({"name": "x", "recommended_script": None}) \
        == {"name": "x", "recommended_script": None}


async def test_given_script_with_fields_when_pre_call_chooses_by_language_then_rendered(
        crm_service: CrmService) -> None:
    for language, body in ((Language.ZH, "{{customer.name}}您好"),
                           (Language.EN, "Hello {{customer.name}}")):
        await crm_service.reference.add_script(name="greet", body=body, language=language,
                                               tags=["VIP"])
    customer, _ = await crm_service.customers.create(
        CustomerInput(name="王芳", phones=["13800138000"], tags=["VIP"]))
    for language, expected in ((Language.ZH, "王芳您好"), (Language.EN, "Hello 王芳")):
        summary = await crm_service.customer_summary(customer.id, language=language)
        rendered = with_script_rendered(summary, "+8613800138000")
        assert rendered["recommended_script"]["body"] == expected


async def test_given_script_naming_unknown_field_when_saved_then_400_naming_body(
        crm_client: Any, crm_actors: dict[str, CrmActor]) -> None:
    admin = crm_actors["admin"].headers
    bad = await crm_client.post("/api/scripts", json={
        "name": "evil", "body": "Hi {{customer.__class__}}", "language": "en"}, headers=admin)
    assert bad.status == 400
    err = await bad.json()
    assert err["details"]["field"] == "body" and "customer.name" in err["message"]
    good = await crm_client.post("/api/scripts", json={
        "name": "ok", "body": "Hi {{customer.name}}", "language": "en"}, headers=admin)
    assert good.status == 201
    sid = (await good.json())["id"]
    patched = await crm_client.patch(f"/api/scripts/{sid}", json={"body": "{{ lead.notes }}"},
                                     headers=admin)
    assert patched.status == 400 and (await patched.json())["details"]["field"] == "body"
    assert set(FIELDS) >= {"customer.name", "lead.phone"}
