"""The one settings chain (crm/settings_chain.py): one TOML file for the dialer and the CRM,
defaults → file → environment → command line, the shared keys defined once, the former
DIALCRM_CONFIG_FILE still read with a deprecation warning, loud errors naming the key."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from ari_app.errors import ConfigurationError
from ari_app.settings import ASTERISK_ENV, DialerSettings, load_settings
from crm.errors import InvalidInputError
from crm.settings import CrmSettings
from crm.settings_chain import SharedSettings, field_types
from web.main import main

ONE_FILE = """
default_region = "HK"
timezone = "Europe/London"

[dialer]
http_port = 8181
ari_timeout = 2
asr_workers = 3

[crm]
import_batch_size = 7
cookie_secure = true
recordings_dir = "/srv/recordings"
conversion_senior_share = 0.3
"""


def _file(tmp_path: Path, text: str, name: str = "dialcrm.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_given_one_toml_file_when_loaded_then_it_sets_both_the_dialer_and_the_crm(
    tmp_path: Path,
) -> None:
    chain = load_settings({"DIALCRM_CONFIG": _file(tmp_path, ONE_FILE)})
    dialer, crm = chain.dialer, chain.crm
    assert (dialer.http_port, dialer.ari_timeout, dialer.asr_workers) == (8181, 2.0, 3)
    assert isinstance(dialer.ari_timeout, float)
    assert (crm.import_batch_size, crm.cookie_secure) == (7, True)
    assert crm.recordings_dir == Path("/srv/recordings") and crm.conversion_senior_share == 0.3
    assert (crm.default_region, crm.timezone) == ("HK", "Europe/London")
    assert (dialer.default_region, dialer.timezone) == ("HK", "Europe/London")
    assert CrmSettings.from_env({"DIALCRM_CONFIG": _file(tmp_path, ONE_FILE)}) == crm


def test_given_file_and_environment_when_loaded_then_the_environment_wins(tmp_path: Path) -> None:
    chain = load_settings({
        "DIALCRM_CONFIG": _file(tmp_path, ONE_FILE),
        "DIALCRM_HTTP_PORT": "9090", "ASTERISK_ARI_URL": "http://10.0.0.5:8088",
        "DIALCRM_IMPORT_BATCH_SIZE": "9", "DIALCRM_COOKIE_SECURE": "no",
        "DIALCRM_TIMEZONE": "Asia/Tokyo",
    })
    assert chain.dialer.http_port == 9090 and chain.dialer.ari_url == "http://10.0.0.5:8088"
    assert chain.crm.import_batch_size == 9 and chain.crm.cookie_secure is False
    assert chain.crm.timezone == chain.dialer.timezone == "Asia/Tokyo"
    assert chain.crm.default_region == "HK"  # the file's, no variable for it


def test_given_environment_when_command_line_merged_then_the_command_line_wins() -> None:
    dialer = load_settings({"DIALCRM_HTTP_PORT": "9090", "DIALCRM_HTTP_HOST": "0.0.0.0"}).dialer
    merged = dialer.merged({"http_port": 7070}, source="command line")
    assert (merged.http_port, merged.http_host) == (7070, "0.0.0.0")
    with pytest.raises(ConfigurationError, match="http_port") as err:
        dialer.merged({"http_port": "eighty"}, source="command line")
    assert err.value.key == "http_port"


def test_given_deprecated_yaml_variable_when_loaded_then_it_works_with_a_deprecation_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = _file(tmp_path, "crm:\n  import_batch_size: 7\n  timezone: Europe/London\n"
                             "  cookie_secure: yes\n", name="crm.yaml")
    with caplog.at_level(logging.WARNING), pytest.warns(DeprecationWarning, match="DIALCRM_CONFIG"):
        chain = load_settings({"DIALCRM_CONFIG_FILE": legacy})
    assert (chain.crm.import_batch_size, chain.crm.cookie_secure) == (7, True)
    assert chain.crm.timezone == chain.dialer.timezone == "Europe/London"
    assert "use DIALCRM_CONFIG" in caplog.text
    with pytest.warns(DeprecationWarning, match="use DIALCRM_CONFIG"):
        flat = _file(tmp_path, "import_batch_size: 8\n", name="flat.yaml")
        assert CrmSettings.from_env({"DIALCRM_CONFIG_FILE": flat}).import_batch_size == 8


def test_given_both_variables_when_loaded_then_dialcrm_config_wins_and_the_warning_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = _file(tmp_path, "import_batch_size: 3\n", name="crm.yaml")
    env = {"DIALCRM_CONFIG": _file(tmp_path, ONE_FILE), "DIALCRM_CONFIG_FILE": legacy}
    with caplog.at_level(logging.WARNING), pytest.warns(DeprecationWarning) as caught:
        crm = load_settings(env).crm
    assert crm.import_batch_size == 7  # DIALCRM_CONFIG's file; the YAML one is not read
    message = str(caught[0].message)
    assert "DIALCRM_CONFIG_FILE" in message and "ignored" in message and "wins" in message
    assert "DIALCRM_CONFIG (" in caplog.text


@pytest.mark.parametrize(
    ("env", "text", "key"),
    [
        ({"ASTERISK_AMI_PORT": "five"}, "", "ami_port"),
        ({"DIALCRM_COOKIE_SECURE": "maybe"}, "", "cookie_secure"),
        ({"DIALCRM_IMPORT_BATCH_SIZE": "0"}, "", "import_batch_size"),  # the CRM's range check
        ({"DIALCRM_DEFAULT_REGION": "XX"}, "", "default_region"),
        ({}, '[dialer]\nhttp_port = "eighty"\n', "http_port"),
        ({}, "[crm]\nimport_batch_size = 5.5\n", "import_batch_size"),
        ({}, "[crm]\nno_such_setting = 1\n", "no_such_setting"),
        ({}, "[dialer]\ndatabase_url = 'x'\n", "database_url"),  # a CRM key in the dialer table
        ({}, "http_port = 8080\n", "http_port"),  # only the shared keys at the top level
        ({}, "dialer = 5\n", "dialer"),
    ],
)
def test_given_a_bad_value_when_loaded_then_the_error_names_the_key(
    tmp_path: Path, env: dict[str, str], text: str, key: str
) -> None:
    if text:
        env = {**env, "DIALCRM_CONFIG": _file(tmp_path, text)}
    with pytest.raises(ConfigurationError, match=key) as err:
        load_settings(env)
    assert err.value.key == key


def test_given_a_bad_crm_value_when_the_crm_loads_alone_then_its_error_names_the_key() -> None:
    with pytest.raises(InvalidInputError, match="import_batch_size") as err:
        CrmSettings.from_env({"DIALCRM_IMPORT_BATCH_SIZE": "0"})
    assert err.value.field == "import_batch_size"


def test_given_default_region_when_loaded_then_defined_once_and_dialer_and_crm_see_one_value(
    tmp_path: Path,
) -> None:
    dialer_fields = {f.name for f in dataclasses.fields(DialerSettings)}
    shared = {f.name for f in dataclasses.fields(SharedSettings)}
    assert shared == {"default_region", "timezone"} and not shared & dialer_fields
    assert issubclass(CrmSettings, SharedSettings)  # the CRM's come from the one definition
    for env in ({}, {"DIALCRM_DEFAULT_REGION": "GB"},
                {"DIALCRM_CONFIG": _file(tmp_path, 'default_region = "US"\n')}):
        chain = load_settings(env)
        assert chain.dialer.default_region == chain.crm.default_region
        assert chain.dialer.shared == chain.crm.shared
    assert load_settings({"DIALCRM_DEFAULT_REGION": "GB"}).dialer.default_region == "GB"


def test_given_shared_key_in_a_table_when_loaded_then_it_is_read_with_a_warning(
    tmp_path: Path,
) -> None:
    old = _file(tmp_path, '[dialer]\ntimezone = "Europe/Paris"\n')
    with pytest.warns(DeprecationWarning, match="top level"):
        chain = load_settings({"DIALCRM_CONFIG": old})
    assert chain.crm.timezone == chain.dialer.timezone == "Europe/Paris"
    twice = _file(tmp_path, 'timezone = "Europe/Paris"\n[crm]\ntimezone = "Asia/Tokyo"\n')
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="timezone"):
        load_settings({"DIALCRM_CONFIG": twice})


def test_given_the_dialer_and_the_crm_when_listed_then_no_variable_names_two_settings() -> None:
    dialer = set(field_types(DialerSettings))
    crm = set(field_types(CrmSettings))
    assert not dialer & crm
    assert set(ASTERISK_ENV) <= dialer


def test_given_defaults_when_loaded_through_the_chain_then_sandbox_secrets_are_flagged() -> None:
    crm = load_settings({}).crm
    assert crm.is_sandbox_secret and crm.is_sandbox_recording_url_secret
    assert crm.uses_sandbox_recording_key
    crm = load_settings({"DIALCRM_SECRET_KEY": "x" * 40}).crm
    assert not crm.is_sandbox_secret


def test_given_a_bad_setting_when_dialcrm_starts_then_it_exits_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIALCRM_HTTP_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "http_port" in capsys.readouterr().err
