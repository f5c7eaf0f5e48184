"""A campaign's dialing settings have one definition (:mod:`crm.domain.dialing_settings`, issue
12): the dialer's config, the two request schemas (console ``DialingPatch``, dialer
``CampaignRunIn``), the CRM's row and the console's form list the same fields with the same
defaults, ranges and choices; a value out of range is a 400 naming the field through both APIs."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ari_app.dialer.model import CampaignConfig, DialMode, InvalidCampaignConfig, MachineAction
from crm.app import create_crm_app
from crm.db.engine import create_all, make_engine
from crm.db.models_dialing import CampaignDialing
from crm.domain import dialing_settings as ds
from crm.domain.enums import Role
from crm.http.routing import SESSION_COOKIE
from crm.service import CrmService
from crm.settings import CrmSettings
from web.console.api import DialingPatch, console_routes
from web.console.pages import add_console_pages
from web.dialer.api import CampaignRunIn, dialer_routes
from web.i18n import STRINGS

PASSWORD = "pw-123456789"
RANGED = [s for s in ds.SETTINGS if s.kind == "number"]
CHOSEN = [s for s in ds.SETTINGS if s.kind == "choice"]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ------------------------------------------------------------------------------ the dialer --
def test_given_spec_when_listing_dialer_config_then_same_fields_defaults_and_choices() -> None:
    fields = [f.name for f in dataclasses.fields(CampaignConfig)][2:]  # campaign_id, name
    assert set(fields) == set(ds.DIALER_FIELDS)
    config = CampaignConfig("c1")
    assert {f: getattr(config, f) for f in fields} == {f: ds.DEFAULTS[f] for f in fields}
    assert tuple(DialMode) == ds.BY_NAME["mode"].choices
    assert tuple(MachineAction) == ds.BY_NAME["machine_action"].choices
    given = CampaignConfig("c1", mode="predictive", machine_action="message")  # JSON values
    assert given.mode is DialMode.PREDICTIVE and given.machine_action is MachineAction.MESSAGE


@pytest.mark.parametrize("spec", RANGED, ids=lambda s: s.name)
def test_given_number_outside_its_range_when_configuring_dialer_then_refused_naming_it(
    spec: ds.SettingSpec,
) -> None:
    for value in (spec.low - 1, spec.high + 1):  # type: ignore[operator]
        if spec.dialer:
            with pytest.raises(InvalidCampaignConfig) as caught:
                CampaignConfig("c1", **{spec.name: value})
            assert caught.value.problems == [(spec.name, spec.range_text())]
        assert ds.problems({spec.name: value}) == [(spec.name, spec.range_text())]
    assert ds.problems({spec.name: spec.low, "other": 1}) == []


# ----------------------------------------------------------------------- schemas and row --
def _properties(model: Any) -> dict[str, dict[str, Any]]:
    props = model.model_json_schema()["properties"]
    return {name: {**p, **p.get("anyOf", [{}])[0]} for name, p in props.items()}


@pytest.mark.parametrize(("model", "fields"), [(DialingPatch, ds.STORED_FIELDS),
                                               (CampaignRunIn, ds.DIALER_FIELDS)],
                         ids=["console DialingPatch", "dialer CampaignRunIn"])
def test_given_spec_when_reading_api_schema_then_same_fields_ranges_and_choices(
    model: Any, fields: tuple[str, ...],
) -> None:
    props = _properties(model)
    assert list(props) == list(fields)
    for name, prop in props.items():
        spec = ds.BY_NAME[name]
        assert (prop.get("minimum"), prop.get("maximum")) == (spec.low, spec.high), name
        assert tuple(prop.get("enum", ())) == spec.choices, name
        if spec.kind == "text":
            assert (prop["maxLength"], prop["pattern"]) == (spec.max_length, spec.pattern), name
        if spec.kind == "words":
            assert prop["maxItems"] == spec.max_items
            assert prop["items"]["maxLength"] == spec.max_length
        assert prop["type"] == {"bool": "boolean", "number": "number" if spec.type is float
                                else "integer", "words": "array"}.get(spec.kind, "string"), name


def test_given_spec_when_reading_defaults_then_dialer_api_and_crm_row_agree() -> None:
    run = CampaignRunIn.model_fields
    assert {f: _plain(run[f].get_default(call_default_factory=True)) for f in ds.DIALER_FIELDS} \
        == {f: _plain(ds.DEFAULTS[f]) for f in ds.DIALER_FIELDS}
    assert all(DialingPatch.model_fields[f].default is None for f in ds.STORED_FIELDS)
    row = CampaignDialing(campaign_id=uuid.uuid4())
    assert {f: getattr(row, f) for f in ds.STORED_FIELDS} \
        == {f: ds.DEFAULTS[f] for f in ds.STORED_FIELDS}
    for spec in ds.SETTINGS:
        if spec.stored and spec.kind == "text":
            column = CampaignDialing.__table__.columns[spec.name]  # type: ignore[attr-defined]
            assert column.type.length == spec.max_length, spec.name


def test_given_spec_when_translating_then_every_label_and_choice_in_zh_and_en() -> None:
    for key, text in ds.labels().items():
        assert STRINGS[key] == text, key
    for spec in CHOSEN:
        assert all(spec.choice_key(v) in STRINGS for v in spec.choices)


# -------------------------------------------------------------------- console form and APIs --
class _Form(HTMLParser):
    """Every ``data-testid="f-<name>"`` input or select: its attributes and options."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, Any]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        testid = a.get("data-testid") or ""
        if tag in ("input", "select") and testid.startswith("f-"):
            self.inputs[testid[2:]] = {**a, "tag": tag, "options": []}
            self._select = testid[2:] if tag == "select" else None
        elif tag == "select" and testid == "mode-switch":
            self.inputs["mode"] = {**a, "tag": tag, "options": []}
            self._select = "mode"
        elif tag == "option" and self._select:
            self.inputs[self._select]["options"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[TestClient, CrmService, dict[str, str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = make_engine(url)
    await create_all(engine)
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           password_scrypt_n=16, auto_migrate=False)
    crm = CrmService(settings, engine)
    boss = await crm.auth.create_user("boss", Role.MANAGER, password=PASSWORD)
    headers = {"Authorization": f"Bearer {(await crm.auth.issue_token(boss.id)).token}"}
    app = create_crm_app(settings, service=crm,
                         extra_routes=[*dialer_routes(), *console_routes()])
    add_console_pages(app)  # no dialer: the pages show the saved settings, nothing live
    async with TestClient(TestServer(app)) as client:
        yield client, crm, headers
    await crm.close()


async def _form(client: TestClient, crm: CrmService, campaign_id: str,
                lang: str) -> tuple[dict[str, dict[str, Any]], str]:
    session_id, _ = await crm.auth.login("boss", PASSWORD)
    resp = await client.get(f"/console/campaigns/{campaign_id}?lang={lang}",
                            cookies={SESSION_COOKIE: session_id})
    assert resp.status == 200
    text = await resp.text()
    form = _Form()
    form.feed(text)
    return form.inputs, text


async def test_given_new_campaign_when_opening_console_form_then_every_setting_from_spec(
    rig: tuple[TestClient, CrmService, dict[str, str]],
) -> None:
    client, crm, headers = rig
    created = await client.post("/api/console/campaigns", headers=headers, json={"name": "Spec"})
    assert created.status == 201
    campaign_id = (await created.json())["campaign"]["id"]
    inputs, en = await _form(client, crm, campaign_id, "en")
    _, zh = await _form(client, crm, campaign_id, "zh")
    dialing = {n: i for n, i in inputs.items() if n in ds.BY_NAME}
    assert set(dialing) == set(ds.STORED_FIELDS)
    for name, got in dialing.items():
        spec = ds.BY_NAME[name]
        assert spec.en in en and spec.zh in zh, name
        if spec.kind == "choice":
            assert tuple(o["value"] for o in got["options"]) == spec.choices, name
            assert [o["value"] for o in got["options"] if "selected" in o] == [spec.default]
        elif spec.kind == "bool":
            assert got["type"] == "checkbox" and ("checked" in got) is spec.default, name
        elif spec.kind == "number":
            assert got["type"] == "number", name
            assert (float(got["min"]), float(got["max"])) == (spec.low, spec.high), name
            assert float(got["value"]) == spec.default, name
        else:
            assert int(got["maxlength"]) == spec.max_length and got["value"] == spec.default


def _bad_values() -> list[tuple[str, Any]]:
    bad: list[tuple[str, Any]] = []
    for spec in RANGED:
        bad += [(spec.name, spec.low - 1), (spec.name, spec.high + 1)]  # type: ignore[operator]
    bad += [(spec.name, "turbo") for spec in CHOSEN]
    bad += [("caller_id", "call me"), ("channel_template", "Local/nothing"),
            ("safe_harbour", "dialcrm/safe-harbour"), ("machine_message", "a b")]
    return bad


async def test_given_value_out_of_range_when_sent_to_either_api_then_400_naming_the_field(
    rig: tuple[TestClient, CrmService, dict[str, str]],
) -> None:
    client, crm, headers = rig
    created = await client.post("/api/console/campaigns", headers=headers, json={"name": "Spec"})
    cid = (await created.json())["campaign"]["id"]
    for name, value in _bad_values():
        spec = ds.BY_NAME[name]
        calls = [("POST", "/api/console/campaigns", {"name": "Bad", name: value}),
                 ("PATCH", f"/api/console/campaigns/{cid}", {name: value})]
        if not spec.stored:
            calls = []
        if spec.dialer:
            calls.append(("POST", f"/api/dialer/campaigns/{cid}/run", {name: value}))
        for method, path, body in calls:
            resp = await client.request(method, path, json=body, headers=headers)
            answer = await resp.json()
            assert resp.status == 400, (method, path, body, answer)
            assert answer["details"]["field"] == name, (method, path, body, answer)
    assert (await crm.campaigns.list()).total == 1  # nothing created
    assert (await crm.dialing.get(uuid.UUID(cid)))["dialing"] == {
        f: ds.DEFAULTS[f] for f in ds.STORED_FIELDS}  # nothing changed
