"""Typed CRM settings, read through the product's one settings chain (:mod:`crm.settings_chain`):
defaults → the ``[crm]`` table of the TOML file named by ``DIALCRM_CONFIG`` → ``DIALCRM_*``
environment variables.

==============================  ==================================================  =========
variable                        meaning                                             default
==============================  ==================================================  =========
DIALCRM_DATABASE_URL            async SQLAlchemy URL (aiosqlite, asyncpg)           ./var/crm.db
DIALCRM_DEFAULT_REGION          region for numbers without a country code (shared)  CN
DIALCRM_TIMEZONE                default time zone, leads may override (shared)      Asia/Shanghai
DIALCRM_SECRET_KEY              secret for sessions (sandbox-only default!)         dev value
DIALCRM_RECORDINGS_DIR          where recordings are stored                         ./var/recordings
DIALCRM_SESSION_TTL_SECONDS     session cookie lifetime                             43200
DIALCRM_COOKIE_SECURE           set the Secure flag on the session cookie           false
DIALCRM_IMPORT_BATCH_SIZE       rows per commit in lead imports                     500
DIALCRM_MAX_UPLOAD_BYTES        largest accepted import file                        200 MiB
DIALCRM_PASSWORD_SCRYPT_N       scrypt cost for new password hashes                 16384
DIALCRM_TOKEN_TTL_DAYS          default lifetime of a new API token (days)          90
DIALCRM_LOGIN_ACCOUNT_FAILURES  failed logins on an account before the back-off     5
DIALCRM_LOGIN_ADDRESS_FAILURES  failed logins from one address before the back-off  20
DIALCRM_LOGIN_LOCKOUT_MAX_SECONDS  longest back-off of a throttled login            900
DIALCRM_AUTO_MIGRATE            app start-up applies migrations + seeds codes       true
DIALCRM_RECORDING_KEYS          recording keyring ``id:base64,id2:base64`` (AES)    sandbox key!
DIALCRM_RECORDING_ACTIVE_KEY    key id new recordings are encrypted with            first listed
DIALCRM_RECORDING_URL_SECRET    HMAC secret of signed recording URLs                dev value
DIALCRM_RECORDING_URL_TTL_SECONDS  lifetime of a signed recording URL               300
DIALCRM_RETENTION_SWEEP_SECONDS period of the recording retention sweep (0: off)    3600
DIALCRM_MODEL_DIR               answer-model versions (with their metrics)          ./var/models
DIALCRM_MODEL_RETRAIN_SECONDS   period of the answer model's retrain check (0: off) 3600
DIALCRM_CONVERSION_SENIOR_SHARE top share of scored customers routed to seniors     0.2
DIALCRM_CONVERSION_NURTURE_SHARE bottom share put into nurturing (not dialed)       0.2
DIALCRM_SQL_ECHO                log SQL                                             false
DIALCRM_CONFIG                  the TOML file (keys lowercase, see settings_chain)  unset
DIALCRM_CONFIG_FILE             deprecated: the former YAML file (warns)            unset
==============================  ==================================================  =========

The secrets (``SECRET`` fields: the keyring, the URL secret, the session secret) belong in the
environment; their defaults are public and ``dialcrm serve`` refuses them unless
``DIALCRM_ALLOW_SANDBOX_SECRETS=1`` (``ari_app.settings.Settings.sandbox_secrets``).

``default_region`` and ``timezone`` are the dialer's too: they are defined once, in
:class:`crm.settings_chain.SharedSettings`, which this class extends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from crm.crypto import SANDBOX_KEY, SANDBOX_KEY_ID, Keyring
from crm.errors import InvalidInputError
from crm.security import MAX_TOKEN_DAYS
from crm.settings_chain import SECRET, ConfigSource, SharedSettings, named

SANDBOX_SECRET_KEY = "sandbox-only-insecure-secret-key-change-me"
SANDBOX_RECORDING_URL_SECRET = "sandbox-only-insecure-recording-url-secret"


def _default_var() -> Path:
    return Path.cwd() / "var"


@dataclass(frozen=True)
class CrmSettings(SharedSettings):
    """The CRM's settings; ``default_region`` and ``timezone`` come from :class:`SharedSettings`."""

    database_url: str = field(
        default_factory=lambda: f"sqlite+aiosqlite:///{_default_var() / 'crm.db'}"
    )
    secret_key: str = field(default=SANDBOX_SECRET_KEY, metadata=SECRET)
    recordings_dir: Path = field(default_factory=lambda: _default_var() / "recordings")
    session_ttl_seconds: int = 12 * 3600
    cookie_secure: bool = False
    import_batch_size: int = 500
    max_upload_bytes: int = 200 * 1024 * 1024
    password_scrypt_n: int = 2**14
    token_ttl_days: int = 90
    login_account_failures: int = 5
    login_address_failures: int = 20
    login_lockout_max_seconds: int = 900
    sql_echo: bool = False
    auto_migrate: bool = True
    # empty: the public sandbox key (crm.crypto.SANDBOX_KEY)
    recording_keys: str = field(default="", metadata=SECRET)
    recording_active_key: str = ""
    recording_url_secret: str = field(default=SANDBOX_RECORDING_URL_SECRET, metadata=SECRET)
    recording_url_ttl_seconds: int = 300
    retention_sweep_seconds: int = 3600
    model_dir: Path = field(default_factory=lambda: _default_var() / "models")
    model_retrain_seconds: int = 3600
    conversion_senior_share: float = 0.2
    conversion_nurture_share: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.import_batch_size < 1:
            raise InvalidInputError("import_batch_size", "must be >= 1")
        if self.password_scrypt_n < 2 or self.password_scrypt_n & (self.password_scrypt_n - 1):
            raise InvalidInputError("password_scrypt_n", "must be a power of two")
        if not 1 <= self.token_ttl_days <= MAX_TOKEN_DAYS:
            raise InvalidInputError("token_ttl_days", f"must be between 1 and {MAX_TOKEN_DAYS}")
        for name in ("login_account_failures", "login_address_failures",
                     "login_lockout_max_seconds"):
            if getattr(self, name) < 1:
                raise InvalidInputError(name, "must be >= 1")
        if not 1 <= self.recording_url_ttl_seconds <= 86400:
            raise InvalidInputError("recording_url_ttl_seconds", "must be between 1 and 86400")
        for name in ("conversion_senior_share", "conversion_nurture_share"):
            if not 0.0 <= getattr(self, name) <= 0.5:
                raise InvalidInputError(name, "must be between 0 and 0.5")
        if self.model_retrain_seconds < 0:
            raise InvalidInputError("model_retrain_seconds", "must be >= 0 (0: off)")
        if self.retention_sweep_seconds < 0:
            raise InvalidInputError("retention_sweep_seconds", "must be >= 0 (0: off)")
        if len(self.recording_url_secret) < 16:
            raise InvalidInputError("recording_url_secret", "must be at least 16 characters")
        self.keyring  # noqa: B018 - a bad keyring fails at start-up, not at the first recording

    @cached_property
    def keyring(self) -> Keyring:
        return Keyring.parse(self.recording_keys, self.recording_active_key)

    @property
    def uses_sandbox_recording_key(self) -> bool:
        """New recordings would be encrypted with the public sandbox key."""
        return self.keyring.active_id == SANDBOX_KEY_ID and (
            self.keyring.keys[SANDBOX_KEY_ID] == SANDBOX_KEY
        )

    @property
    def holds_sandbox_recording_key(self) -> bool:
        """The public sandbox key is in the keyring, active or not (old recordings under it)."""
        return SANDBOX_KEY in self.keyring.keys.values()

    @property
    def is_sandbox_recording_url_secret(self) -> bool:
        return self.recording_url_secret == SANDBOX_RECORDING_URL_SECRET

    @property
    def is_sandbox_secret(self) -> bool:
        return self.secret_key == SANDBOX_SECRET_KEY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CrmSettings:
        """Defaults, then the file named by ``DIALCRM_CONFIG``, then ``DIALCRM_*`` variables."""
        return cls.from_source(ConfigSource.load(environ))

    @classmethod
    def from_source(cls, source: ConfigSource) -> CrmSettings:
        """The CRM's part of a chain already read (the composition root reads it once)."""
        try:
            return cls(**source.shared_values(), **source.table_values("crm", cls))
        except InvalidInputError as exc:
            raise named(exc) from None
