"""The product's one settings chain: one TOML file, one variable, each setting defined once.

Precedence, lowest first::

    defaults  →  the file named by DIALCRM_CONFIG  →  the environment  →  the command line

The file is TOML (Python reads it without a dependency)::

    default_region = "CN"        # shared by the dialer and the CRM: once, at the top level
    timezone = "Asia/Shanghai"

    [dialer]                     # the fields of ari_app.settings.DialerSettings
    http_port = 8080

    [crm]                        # the fields of crm.settings.CrmSettings (its own ones)
    database_url = "sqlite+aiosqlite:///var/crm.db"

The environment: ``DIALCRM_<FIELD>`` for every field (the dialer's and the CRM's field names
never collide, a unit test checks it), plus the ``ASTERISK_*`` variables the dialer maps onto its
``ari_*``/``ami_*`` fields. The command line (``dialcrm --host/--port``) goes through
``DialerSettings.merged``. Values are typed by the dataclasses' annotations (str, int, float,
bool, Path): an unknown key, a value of the wrong type or an unreadable file raises
:class:`~crm.errors.InvalidInputError` whose ``field`` and message name the key.

Deprecated, still read: ``DIALCRM_CONFIG_FILE``, the CRM's former YAML file (its keys flat or
under ``crm:``), with a ``DeprecationWarning`` and a log warning saying to use ``DIALCRM_CONFIG``;
when both variables are set, ``DIALCRM_CONFIG`` wins and the YAML file is not read (the warning
says so). ``default_region``/``timezone`` inside ``[dialer]`` or ``[crm]`` (where the two former
files had them) are read with the same kind of warning; set twice with two values, they fail.

Why this module lives in ``crm``: the chain serves both the CRM and the dialer, and ``crm`` is the
lower of the two packages: ``ari_app`` already imports ``crm`` (its port adapters) while ``crm``
imports neither ``ari_app`` nor ``web``, so ``ari_app.settings`` can build on this module and the
CRM's own command line (``crm.cli``) reads the same file without knowing the dialer. The shared
settings are the CRM's by nature (the region numbers are parsed in, the calendar of calling
windows and reports), so :class:`SharedSettings` is defined here, ``CrmSettings`` extends it and
``DialerSettings`` holds the CRM's copy. A top-level package for these ~200 lines would be one
more box in the architecture picture for nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
import typing
import warnings
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from crm.errors import InvalidInputError

log = logging.getLogger(__name__)

CONFIG_VAR = "DIALCRM_CONFIG"
DEPRECATED_CONFIG_VAR = "DIALCRM_CONFIG_FILE"
ENV_PREFIX = "DIALCRM_"
TABLES = ("dialer", "crm")
SCALARS: tuple[type, ...] = (str, int, float, bool, Path)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
# A settings field holding a secret: ``field(default=..., metadata=SECRET)``. Secrets belong in
# the environment: one read from the file is logged as a warning (ConfigSource.table_values).
SECRET: Mapping[str, Any] = {"secret": True}


@dataclass(frozen=True)
class SharedSettings:
    """The settings both the dialer and the CRM read, defined here once (top level of the file,
    ``DIALCRM_DEFAULT_REGION``, ``DIALCRM_TIMEZONE``)."""

    default_region: str = "CN"  # region of numbers written without a country code
    timezone: str = "Asia/Shanghai"  # default time zone (customers, leads, campaigns may override)

    def __post_init__(self) -> None:
        if self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInputError("default_region", f"unknown region {self.default_region!r}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError("timezone", f"unknown time zone {self.timezone!r}") from None

    @property
    def shared(self) -> SharedSettings:
        """Just the shared part (what the dialer's settings hold of the CRM's)."""
        return SharedSettings(default_region=self.default_region, timezone=self.timezone)


SHARED_KEYS = tuple(f.name for f in dataclasses.fields(SharedSettings))


def field_types(cls: type, skip: tuple[str, ...] = ()) -> dict[str, type]:
    """The settable fields of a settings dataclass and their scalar types."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name] for f in dataclasses.fields(cls)
        if hints[f.name] in SCALARS and f.name not in skip
    }


def secret_fields(cls: type) -> frozenset[str]:
    """The fields of a settings dataclass marked :data:`SECRET`."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("secret"))


def coerce(key: str, kind: type, raw: object, source: str) -> Any:
    """``raw`` as a ``kind``: text is parsed (environment, command line); typed values (TOML)
    must already have the type (an int is a float too). Loud, naming the key."""
    try:
        if isinstance(raw, str):
            return _parse(kind, raw)
        if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if kind is Path and isinstance(raw, Path):
            return raw
        if type(raw) is kind:
            return raw
    except ValueError:
        pass
    raise InvalidInputError(key, f"{source}: setting {key!r} must be {kind.__name__}, not {raw!r}")


def _parse(kind: type, text: str) -> Any:
    if kind is str:
        return text
    if kind is Path:
        return Path(text)
    if kind is bool:
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(text)
    return kind(text)


def named(exc: InvalidInputError) -> InvalidInputError:
    """The same error with the key's name in its message (``must be >= 1`` says nothing)."""
    if exc.field in exc.message:
        return exc
    return InvalidInputError(exc.field, f"{exc.message} (setting {exc.field!r})")


@dataclass(frozen=True)
class ConfigSource:
    """The config file (read once) and the environment: what every settings class is built from."""

    environ: Mapping[str, str]
    path: str = ""  # the file read, "" for none
    document: Mapping[str, Any] = field(default_factory=dict)  # TOML shape, see the module doc

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> ConfigSource:
        env = os.environ if environ is None else environ
        path, legacy = env.get(CONFIG_VAR, ""), env.get(DEPRECATED_CONFIG_VAR, "")
        if legacy:
            _warn(
                f"{DEPRECATED_CONFIG_VAR} is deprecated and ignored: {CONFIG_VAR} ({path}) wins; "
                f"move the settings of {legacy} into it" if path else
                f"{DEPRECATED_CONFIG_VAR} is deprecated: use {CONFIG_VAR} (one TOML file for the "
                f"dialer and the CRM); reading {legacy} for now"
            )
        if path:
            return cls(env, path, _checked(path, _read_toml(Path(path), CONFIG_VAR)))
        if legacy:
            return cls(env, legacy, _checked(legacy, _read_legacy(Path(legacy))))
        return cls(env)

    def table(self, name: str) -> Mapping[str, Any]:
        table: Mapping[str, Any] = self.document.get(name, {})
        return table

    def shared_values(self) -> dict[str, Any]:
        """The shared keys: top level of the file (or, deprecated, a table), then environment."""
        values = {k: v for k, v in self.document.items() if k in SHARED_KEYS}
        for name in TABLES:
            for key in (k for k in SHARED_KEYS if k in self.table(name)):
                value = self.table(name)[key]
                _warn(f"config file {self.path}: [{name}] {key} is deprecated there; set it once "
                      f"at the top level of the file (the dialer and the CRM share it)")
                if values.setdefault(key, value) != value:
                    raise InvalidInputError(key, f"config file {self.path}: {key!r} is set twice, "
                                                 f"{values[key]!r} and {value!r}")
        return self._typed(field_types(SharedSettings), values, {})

    def table_values(
        self, name: str, cls: type, aliases: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The ``[name]`` table's values for ``cls``, then the environment's (an alias such as
        ``ASTERISK_ARI_URL`` first, then ``DIALCRM_<FIELD>``). The shared keys are not read here."""
        file_values = {k: v for k, v in self.table(name).items() if k not in SHARED_KEYS}
        for key in sorted(secret_fields(cls) & set(file_values)):
            self._warn_secret(name, key, (aliases or {}).get(key) or ENV_PREFIX + key.upper())
        return self._typed(field_types(cls, skip=SHARED_KEYS), file_values, aliases or {},
                           where=f" in [{name}]")

    def _warn_secret(self, table: str, key: str, var: str) -> None:
        """Secrets only from the environment: say so (the value is still read, so a file that
        works keeps working; ``dialcrm serve`` prints this at start)."""
        try:
            mode = os.stat(self.path).st_mode & 0o777
        except OSError:
            mode = 0
        exposed = f" and the file is readable by others (mode {mode:o})" if mode & 0o077 else ""
        log.warning("config file %s: [%s] %s is a secret%s: set %s in the environment instead "
                    "and remove it from the file (secrets only from the environment)",
                    self.path, table, key, exposed, var)

    def _typed(self, kinds: Mapping[str, type], file_values: Mapping[str, Any],
               aliases: Mapping[str, str], where: str = "") -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, raw in file_values.items():
            if key not in kinds:
                raise InvalidInputError(key, f"config file {self.path}: unknown setting "
                                             f"{key!r}{where}")
            values[key] = coerce(key, kinds[key], raw, f"config file {self.path}")
        for key, kind in kinds.items():
            for var in (aliases.get(key), ENV_PREFIX + key.upper()):
                if var and var in self.environ:
                    values[key] = coerce(key, kind, self.environ[var], var)
                    break
        return values


def _warn(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    log.warning("%s", message)


def _read_toml(path: Path, var: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(var, f"config file {path} does not exist ({var})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(var, f"config file {path} cannot be read ({var}): {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(var, f"config file {path} ({var}): {exc}") from None


def _read_legacy(path: Path) -> dict[str, Any]:
    """The deprecated variable's file: TOML if it says so, else the CRM's former YAML (its keys
    flat or under ``crm:``; values read as text, as they were), turned into the TOML shape."""
    if path.suffix == ".toml":
        return _read_toml(path, DEPRECATED_CONFIG_VAR)
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(DEPRECATED_CONFIG_VAR, f"cannot read {path}: {exc}") from None
    crm_part = data.get("crm", data) if isinstance(data, dict) else data
    if not isinstance(crm_part, dict):
        raise InvalidInputError(DEPRECATED_CONFIG_VAR, f"{path}: expected a mapping")
    text = {str(k): v if isinstance(v, str | bool) else str(v) for k, v in crm_part.items()}
    return {**{k: text.pop(k) for k in SHARED_KEYS if k in text}, "crm": text}


def _checked(path: str, document: dict[str, Any]) -> dict[str, Any]:
    """Only the shared keys and the ``[dialer]``/``[crm]`` tables at the top level."""
    for key, value in document.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise InvalidInputError(key, f"config file {path}: [{key}] must be a table")
        elif key not in SHARED_KEYS:
            raise InvalidInputError(
                key, f"config file {path}: unknown top-level key {key!r} (expected "
                     f"{', '.join(SHARED_KEYS)}, [{'], ['.join(TABLES)}])")
    return document
