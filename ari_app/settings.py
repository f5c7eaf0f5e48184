"""Typed settings of the dialer controller: defaults → config file → environment.

The config file is TOML, named by ``DIALCRM_CONFIG`` (optional), with a
``[dialer]`` table whose keys are the field names below. Environment variables
win: ``ASTERISK_ARI_URL``, ``ASTERISK_ARI_USER``, ``ASTERISK_ARI_PASSWORD``,
``ASTERISK_AMI_HOST``, ``ASTERISK_AMI_PORT``, ``ASTERISK_AMI_USER``,
``ASTERISK_AMI_PASSWORD`` select an Asterisk; ``DIALCRM_<FIELD>`` sets any
other field (e.g. ``DIALCRM_HTTP_PORT=8080``). The built-in passwords are the
sandbox's; they are only good for the local sandbox.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ari_app.ami import AmiConfig
from ari_app.ari import AriConfig
from ari_app.errors import ConfigurationError

ASTERISK_ENV = {
    "ari_url": "ASTERISK_ARI_URL",
    "ari_user": "ASTERISK_ARI_USER",
    "ari_password": "ASTERISK_ARI_PASSWORD",
    "ami_host": "ASTERISK_AMI_HOST",
    "ami_port": "ASTERISK_AMI_PORT",
    "ami_user": "ASTERISK_AMI_USER",
    "ami_password": "ASTERISK_AMI_PASSWORD",
}


@dataclass(frozen=True)
class DialerSettings:
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "dialcrm"
    ari_password: str = "dialcrm-sandbox-ari"
    ari_app: str = "dialcrm"
    ari_timeout: float = 5.0
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "dialcrm"
    ami_password: str = "dialcrm-sandbox-ami"
    ami_timeout: float = 5.0
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    default_region: str = "CN"
    timezone: str = "Asia/Shanghai"
    data_dir: str = "var"
    worker_id: str = ""  # lead locks carry it; keep it stable across restarts (default: host)
    crm_url: str = ""  # empty: the CRM in this process; else its base URL (dialer elsewhere)
    crm_token: str = ""  # bearer token of a "dialer" user (DIALCRM_CRM_TOKEN; a secret)
    # Live transcripts (ari_app/speech/fork.py): "lazy" starts the recogniser with the first
    # connected call, "eager" at start-up, "off" forks nothing.
    asr_start: str = "lazy"
    asr_model: str = "base"  # tiny.en | base | a CTranslate2 model directory (speech/MODELS.md)
    asr_workers: int = 2  # one per speaker: the agent's talk never queues the customer's
    asr_fork_format: str = "slin16"  # slin16 | slin | ulaw: what Asterisk sends the fork

    @property
    def ari(self) -> AriConfig:
        return AriConfig(
            url=self.ari_url, user=self.ari_user, password=self.ari_password,
            app=self.ari_app, request_timeout=self.ari_timeout,
        )

    @property
    def ami(self) -> AmiConfig:
        return AmiConfig(
            host=self.ami_host, port=self.ami_port, user=self.ami_user,
            password=self.ami_password, action_timeout=self.ami_timeout,
        )

    @property
    def worker(self) -> str:
        import socket

        return self.worker_id or f"dialer-{socket.gethostname()}"

    @property
    def public_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}/"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> DialerSettings:
        env = os.environ if environ is None else environ
        settings = cls()
        config_file = env.get("DIALCRM_CONFIG")
        if config_file:
            settings = settings.merged(_read_file(Path(config_file)), source=config_file)
        values: dict[str, str] = {}
        for field in fields(cls):
            name = ASTERISK_ENV.get(field.name)
            if name and name in env:
                values[field.name] = env[name]
            elif f"DIALCRM_{field.name.upper()}" in env:
                values[field.name] = env[f"DIALCRM_{field.name.upper()}"]
        return settings.merged(values, source="environment")

    def merged(self, values: Mapping[str, Any], source: str) -> DialerSettings:
        known = {f.name: f for f in fields(self)}
        converted: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise ConfigurationError(f"{source}: unknown setting {key!r}")
            kind = type(getattr(self, key))
            try:
                converted[key] = kind(raw)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"{source}: setting {key!r} must be {kind.__name__}, not {raw!r}"
                ) from None
        return replace(self, **converted)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path}: {exc}") from None
    table = data.get("dialer", {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"config file {path}: [dialer] must be a table")
    return table
