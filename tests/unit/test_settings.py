"""Typed settings: defaults, config file, environment; loud on bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.errors import ConfigurationError
from ari_app.settings import DialerSettings


def test_given_no_config_then_sandbox_defaults() -> None:
    settings = DialerSettings.load({})
    assert settings.ari.url == "http://127.0.0.1:8088"
    assert settings.ami.port == 5038
    assert settings.default_region == "CN" and settings.timezone == "Asia/Shanghai"


def test_given_asterisk_env_then_it_selects_the_asterisk() -> None:
    settings = DialerSettings.load({
        "ASTERISK_ARI_URL": "http://10.0.0.5:8088", "ASTERISK_ARI_PASSWORD": "s3cret",
        "ASTERISK_AMI_PORT": "5039", "DIALCRM_HTTP_PORT": "9090",
    })
    assert settings.ari.url == "http://10.0.0.5:8088" and settings.ari.password == "s3cret"
    assert settings.ami.port == 5039 and settings.http_port == 9090


def test_given_file_and_env_when_loaded_then_env_wins(tmp_path: Path) -> None:
    config = tmp_path / "dialcrm.toml"
    config.write_text('timezone = "Europe/London"\n[dialer]\nhttp_port = 8181\n')
    settings = DialerSettings.load({"DIALCRM_CONFIG": str(config), "DIALCRM_HTTP_PORT": "8282"})
    assert settings.http_port == 8282 and settings.timezone == "Europe/London"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASTERISK_AMI_PORT": "five"}, "ami_port"),
        ({"DIALCRM_CONFIG": "/nonexistent/dialcrm.toml"}, "does not exist"),
    ],
)
def test_given_bad_setting_when_loaded_then_error_names_it(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DialerSettings.load(env)


def test_given_unknown_key_in_file_then_error(tmp_path: Path) -> None:
    config = tmp_path / "dialcrm.toml"
    config.write_text("[dialer]\nari_urll = 'x'\n")
    with pytest.raises(ConfigurationError, match="ari_urll"):
        DialerSettings.load({"DIALCRM_CONFIG": str(config)})
