"""Issue 17: ``dialcrm serve`` refuses the public sandbox secrets.

``main()`` runs in-process with a clean environment (no ``DIALCRM_*``/``ASTERISK_*``) up to the
point of serving: ``web.run_app`` is replaced, so nothing listens and nothing is opened."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ari_app.settings import load_settings
from crm.crypto import SANDBOX_KEY
from web.main import ALLOW_SANDBOX_SECRETS, main

OWN = {  # every secret set to a value of one's own
    "DIALCRM_RECORDING_KEYS": "k1:" + base64.b64encode(b"k" * 32).decode(),
    "DIALCRM_RECORDING_URL_SECRET": "own-url-secret-0123456789",
    "DIALCRM_SECRET_KEY": "own-session-secret-0123456789",
    "ASTERISK_ARI_PASSWORD": "own-ari-password",
    "ASTERISK_AMI_PASSWORD": "own-ami-password",
}
SANDBOX_VARIABLES = tuple(OWN)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[web.Application]:
    """A clean environment, cwd in tmp_path, and ``web.run_app`` recording instead of serving."""
    for name in list(os.environ):
        if name.startswith(("DIALCRM_", "ASTERISK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    apps: list[web.Application] = []

    def run_app(app: web.Application, **_kw: Any) -> None:
        apps.append(app)

    monkeypatch.setattr(web, "run_app", run_app)
    return apps


def test_given_default_settings_when_dialcrm_serve_then_exit_2_naming_every_sandbox_secret(
    served: list[web.Application], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert served == []  # it never got to serving
    for variable in SANDBOX_VARIABLES:
        assert variable in err
    for key in ("recording_keys", "recording_url_secret", "secret_key", "ari_password",
                "ami_password"):
        assert key in err
    assert ALLOW_SANDBOX_SECRETS in err


def test_given_one_secret_left_at_its_default_when_serve_then_refused_naming_only_it(
    served: list[web.Application], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in OWN.items():
        if name != "ASTERISK_AMI_PASSWORD":
            monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "ASTERISK_AMI_PASSWORD" in err and "AMI password" in err
    assert not any(v in err for v in SANDBOX_VARIABLES if v != "ASTERISK_AMI_PASSWORD")
    assert served == []


def test_given_the_allow_variable_when_dialcrm_serve_then_it_serves_with_a_loud_warning(
    served: list[web.Application], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(ALLOW_SANDBOX_SECRETS, "1")
    assert main(["serve"]) == 0
    assert len(served) == 1
    err = capsys.readouterr().err
    assert "WARNING" in err and "PUBLIC SANDBOX SECRETS" in err and ALLOW_SANDBOX_SECRETS in err
    assert all(v in err for v in SANDBOX_VARIABLES)


def test_given_dialcrm_demo_when_secrets_are_the_sandbox_ones_then_it_runs_with_the_warning(
    served: list[web.Application], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0  # as `make demo`, which sets the allow variable
    assert len(served) == 1
    assert "PUBLIC SANDBOX SECRETS" in capsys.readouterr().err


def test_given_the_allow_variable_set_to_0_when_serve_then_still_refused(
    served: list[web.Application], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_SANDBOX_SECRETS, "0")
    assert main(["serve"]) == 2
    assert served == []


def test_given_own_secrets_when_dialcrm_serve_then_it_serves_without_warning(
    served: list[web.Application], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in OWN.items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 0
    assert len(served) == 1
    err = capsys.readouterr().err
    assert "SANDBOX" not in err.upper()


def test_given_the_sandbox_key_kept_for_old_recordings_when_serve_then_serves_and_says_rotate(
    served: list[web.Application], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in OWN.items():
        monkeypatch.setenv(name, value)
    sandbox = base64.b64encode(SANDBOX_KEY).decode()
    monkeypatch.setenv("DIALCRM_RECORDING_KEYS", f"{OWN['DIALCRM_RECORDING_KEYS']},old:{sandbox}")
    assert main(["serve"]) == 0
    assert "rotate-recording-keys" in capsys.readouterr().err


def test_given_a_secret_in_the_config_file_when_loaded_then_warned_to_use_the_environment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dialcrm.toml"
    path.write_text('[dialer]\nami_password = "from-the-file"\nhttp_port = 8081\n'
                    '[crm]\nrecording_url_secret = "from-the-file-0123456789"\n')
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        chain = load_settings({"DIALCRM_CONFIG": str(path)})
    assert chain.dialer.ami_password == "from-the-file"  # still read: a working file keeps working
    warnings = [r.getMessage() for r in caplog.records if "is a secret" in r.getMessage()]
    assert len(warnings) == 2
    assert any("ami_password" in w and "ASTERISK_AMI_PASSWORD" in w for w in warnings)
    assert any("recording_url_secret" in w and "DIALCRM_RECORDING_URL_SECRET" in w
               for w in warnings)
    assert all("readable by others (mode 644)" in w for w in warnings)
    assert not any("http_port" in r.getMessage() for r in caplog.records)
