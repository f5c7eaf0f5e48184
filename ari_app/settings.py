"""Typed settings of the dialer controller, one part of the product's one settings chain.

defaults → the ``[dialer]`` table of the TOML file named by ``DIALCRM_CONFIG`` → environment →
command line (:mod:`crm.settings_chain` reads the file and types the values; it lives in ``crm``,
the lower package, so that the CRM's command line reads the same file without the dialer).
Environment variables: ``ASTERISK_ARI_URL``, ``ASTERISK_ARI_USER``, ``ASTERISK_ARI_PASSWORD``,
``ASTERISK_AMI_HOST``, ``ASTERISK_AMI_PORT``, ``ASTERISK_AMI_USER``, ``ASTERISK_AMI_PASSWORD``
select an Asterisk; ``DIALCRM_<FIELD>`` sets any other field (e.g. ``DIALCRM_HTTP_PORT=8080``).
The built-in passwords are the sandbox's, only good for the local sandbox: ``dialcrm serve``
refuses them and the CRM's sandbox secrets (:meth:`Settings.sandbox_secrets`) unless
``DIALCRM_ALLOW_SANDBOX_SECRETS=1``. Fields marked ``SECRET`` belong in the environment.

``default_region`` and ``timezone`` are not the dialer's own: they are defined once in
:class:`crm.settings_chain.SharedSettings` (the file's top level), and :func:`load_settings`
hands the dialer the CRM's values. The composition root calls :func:`load_settings` once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ari_app.ami import SANDBOX_AMI_PASSWORD, AmiConfig
from ari_app.ari import AriConfig
from ari_app.ari.config import SANDBOX_ARI_PASSWORD
from ari_app.errors import ConfigurationError
from crm.errors import InvalidInputError
from crm.settings import CrmSettings
from crm.settings_chain import (
    SECRET,
    ConfigSource,
    SharedSettings,
    coerce,
    field_types,
    named,
)

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
    ari_password: str = field(default=SANDBOX_ARI_PASSWORD, metadata=SECRET)
    ari_app: str = "dialcrm"
    ari_timeout: float = 5.0
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "dialcrm"
    ami_password: str = field(default=SANDBOX_AMI_PASSWORD, metadata=SECRET)
    ami_timeout: float = 5.0
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    data_dir: str = "var"
    worker_id: str = ""  # lead locks carry it; keep it stable across restarts (default: host)
    crm_url: str = ""  # empty: the CRM in this process; else its base URL (dialer elsewhere)
    # bearer token of a "dialer" user (DIALCRM_CRM_TOKEN)
    crm_token: str = field(default="", metadata=SECRET)
    # Live transcripts (ari_app/speech/fork.py): "lazy" starts the recogniser with the first
    # connected call, "eager" at start-up, "off" forks nothing.
    asr_start: str = "lazy"
    asr_model: str = "base"  # tiny.en | base | a CTranslate2 model directory (speech/MODELS.md)
    asr_workers: int = 2  # one per speaker: the agent's talk never queues the customer's
    asr_fork_format: str = "slin16"  # slin16 | slin | ulaw: what Asterisk sends the fork
    # default_region, timezone: the CRM's (load_settings); not settable on the dialer's side.
    shared: SharedSettings = field(default_factory=SharedSettings)

    @property
    def default_region(self) -> str:
        return self.shared.default_region

    @property
    def timezone(self) -> str:
        return self.shared.timezone

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
        """The dialer's part of the whole chain (:func:`load_settings`)."""
        return load_settings(environ).dialer

    @classmethod
    def from_source(cls, source: ConfigSource, shared: SharedSettings) -> DialerSettings:
        """The ``[dialer]`` table and the environment; ``shared`` is the CRM's."""
        try:
            return cls(shared=shared, **source.table_values("dialer", cls, ASTERISK_ENV))
        except InvalidInputError as exc:
            raise configuration_error(exc) from None

    def merged(self, values: Mapping[str, Any], source: str) -> DialerSettings:
        """These settings with ``values`` over them (the command line's, typed like the rest)."""
        kinds = field_types(DialerSettings)
        converted: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in kinds:
                raise ConfigurationError(f"{source}: unknown setting {key!r}", key=key)
            try:
                converted[key] = coerce(key, kinds[key], raw, source)
            except InvalidInputError as exc:
                raise configuration_error(exc) from None
        return replace(self, **converted)


@dataclass(frozen=True)
class SandboxSecret:
    """A secret still at its public sandbox value (it is in the source code), and how to set
    one's own: ``variable`` in the environment (``key``: its name in the config file, where
    secrets do not belong)."""

    name: str
    purpose: str
    variable: str
    key: str
    how: str

    def advice(self) -> str:
        return (f"{self.name} ({self.purpose})\n      set {self.variable} (config key {self.key}),"
                f" {self.how}")


_NEW_KEY = "python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
_NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Settings:
    """The whole chain: the dialer's settings and the CRM's, from one read of one file."""

    dialer: DialerSettings
    crm: CrmSettings

    def sandbox_secrets(self) -> list[SandboxSecret]:
        """Every secret still at its public sandbox default (``dialcrm serve`` refuses them)."""
        found = []
        if self.crm.uses_sandbox_recording_key:
            found.append(SandboxSecret(
                "recording key", "new recordings are encrypted with it",
                "DIALCRM_RECORDING_KEYS", "[crm] recording_keys",
                f'e.g. DIALCRM_RECORDING_KEYS="k1:$({_NEW_KEY})"'))
        if self.crm.is_sandbox_recording_url_secret:
            found.append(SandboxSecret(
                "recording-URL secret", "signs the links that play recordings",
                "DIALCRM_RECORDING_URL_SECRET", "[crm] recording_url_secret",
                f'e.g. DIALCRM_RECORDING_URL_SECRET="$({_NEW_SECRET})"'))
        if self.crm.is_sandbox_secret:
            found.append(SandboxSecret(
                "session secret", "the sessions' secret key", "DIALCRM_SECRET_KEY",
                "[crm] secret_key", f'e.g. DIALCRM_SECRET_KEY="$({_NEW_SECRET})"'))
        if self.dialer.ari_password == SANDBOX_ARI_PASSWORD:
            found.append(SandboxSecret(
                "ARI password", "controls every call", "ASTERISK_ARI_PASSWORD",
                "[dialer] ari_password",
                f"the password of ARI user {self.dialer.ari_user!r} in Asterisk's ari.conf"))
        if self.dialer.ami_password == SANDBOX_AMI_PASSWORD:
            found.append(SandboxSecret(
                "AMI password", "Asterisk's manager interface", "ASTERISK_AMI_PASSWORD",
                "[dialer] ami_password",
                f"the secret of AMI user {self.dialer.ami_user!r} in Asterisk's manager.conf"))
        return found


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """defaults → ``DIALCRM_CONFIG`` file → environment, for both sides (``environ`` defaults
    to ``os.environ``). Raises :class:`ConfigurationError` naming the key."""
    try:
        source = ConfigSource.load(environ)
        crm = CrmSettings.from_source(source)
    except InvalidInputError as exc:
        raise configuration_error(exc) from None
    return Settings(DialerSettings.from_source(source, crm.shared), crm)


def configuration_error(exc: InvalidInputError) -> ConfigurationError:
    """The chain's error as the dialer's, still naming the key."""
    return ConfigurationError(named(exc).message, key=exc.field)
