"""Issue 17: what the app writes is readable by its own user only — recordings, models and
SQLite databases ``0o600``, the folders it creates ``0o700`` — whatever the process's umask.

Every test runs under umask 0 (files would be ``0o666`` if a writer relied on the umask)."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ari_app.dialer.store import DialerStore
from crm.crypto import SANDBOX_KEY
from crm.db.engine import create_all, make_engine
from crm.ports import FixedClock
from crm.service import CrmService
from crm.services.recordings import EncryptedFileStore
from crm.settings import CrmSettings
from predictive.models.answer_model import train_answer_model
from predictive.models.conversion import RoutingPolicy, train_conversion_model
from predictive.models.registry import ModelRegistry, conversion_store
from predictive.private_files import private_sqlite
from predictive.sim.customers import generate_customers
from predictive.sim.history import generate_history
from tests.helpers.audio import wav


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (itself included), by its path relative to it."""
    return {str(p.relative_to(root.parent)): _mode(p) for p in [root, *root.rglob("*")]}


def _private(modes: dict[str, int], root: Path) -> dict[str, int]:
    """What ``modes`` should be: folders 0o700, files 0o600."""
    base = root.parent
    return {name: 0o700 if (base / name).is_dir() else 0o600 for name in modes}


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


async def test_given_umask_0_when_a_recording_is_stored_then_file_0600_and_new_folders_0700(
    tmp_path: Path,
) -> None:
    root = tmp_path / "var" / "recordings"
    store = EncryptedFileStore(root, FixedClock(datetime(2026, 12, 7, tzinfo=UTC)),
                               CrmSettings(recordings_dir=root).keyring)
    stored = await store.put("r1.wav", wav(0.2))
    await store.put("r2.wav", str(_plain(tmp_path)))  # from a file on disk
    await store.put("r3.wav", _stream(wav(0.1)))  # streamed (the dialer's upload)
    assert Path(stored.path).parent == root / "2026" / "12"
    modes = _modes(tmp_path / "var")
    assert len(modes) == 7 and modes == _private(modes, tmp_path / "var")


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.wav"
    path.write_bytes(wav(0.1))
    return path


async def test_given_a_loose_legacy_recording_when_keys_rotated_then_rewritten_0600(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    await create_all(engine)
    await engine.dispose()
    new_key = base64.b64encode(os.urandom(32)).decode()
    settings = CrmSettings(database_url=url, recordings_dir=tmp_path / "rec",
                           model_dir=tmp_path / "models", password_scrypt_n=16)
    clock = FixedClock(datetime(2026, 12, 7, tzinfo=UTC))
    old = CrmService.open(settings, clock=clock)
    sandbox = base64.b64encode(SANDBOX_KEY).decode()
    both = CrmService.open(dataclasses.replace(
        settings, recording_keys=f"new:{new_key},sandbox-1:{sandbox}"), clock=clock)
    try:
        rec = await old.store_recording("call-1", wav(0.2))
        path = Path(rec.path)
        os.chmod(path, 0o644)  # as written before this fix
        assert (await both.recording_upkeep.rotate()).rotated == 1
        assert _mode(path) == 0o600
    finally:
        await old.close()
        await both.close()


def test_given_umask_0_when_an_answer_model_is_saved_then_files_0600_folders_0700(
    tmp_path: Path,
) -> None:
    rows, _ = generate_history(2500, seed=3)
    model = train_answer_model(rows, now=datetime(2026, 2, 1, tzinfo=UTC))
    root = tmp_path / "var" / "models"
    registry = ModelRegistry(root)
    registry.save(model)
    modes = _modes(tmp_path / "var")
    assert len(modes) == 7 and modes == _private(modes, tmp_path / "var")
    assert registry.load().card.version == model.card.version  # the model reads back


def test_given_umask_0_when_a_conversion_model_is_saved_then_files_0600_folders_0700(
    tmp_path: Path,
) -> None:
    customers, _ = generate_customers(800, seed=1)
    model = train_conversion_model(customers)
    root = tmp_path / "var" / "models"
    store = conversion_store(root)
    store.save((model, RoutingPolicy(senior_at=0.3, nurture_below=0.05)))
    modes = _modes(tmp_path / "var")
    assert len(modes) == 8 and modes == _private(modes, tmp_path / "var")
    assert store.load()[0].card.version == model.card.version


async def test_given_umask_0_when_the_crm_sqlite_is_created_then_db_and_wal_0600_folder_0700(
    tmp_path: Path,
) -> None:
    db = tmp_path / "var" / "crm.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    try:
        await create_all(engine)
        async with engine.connect():  # WAL: -wal and -shm exist while connected
            modes = _modes(tmp_path / "var")
    finally:
        await engine.dispose()
    assert {"var/crm.db", "var/crm.db-wal", "var/crm.db-shm"} <= set(modes)
    assert modes == _private(modes, tmp_path / "var")


async def test_given_umask_0_when_the_dialer_outbox_opens_then_its_sqlite_0600_folder_0700(
    tmp_path: Path,
) -> None:
    store = DialerStore(tmp_path / "var" / "dialer.sqlite3")
    await store.open()
    try:
        modes = _modes(tmp_path / "var")
    finally:
        await store.close()
    assert "var/dialer.sqlite3" in modes and modes == _private(modes, tmp_path / "var")


def test_given_a_database_readable_by_others_when_opened_then_tightened_to_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "crm.db"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    private_sqlite(db)
    assert _mode(db) == 0o600
    assert "readable by others" in caplog.text
