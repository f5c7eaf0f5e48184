"""Files only the service's user may read: recordings, models, SQLite databases (issue 17).

Every writer of such a file creates it through here, with its mode given at creation
(``os.open(..., 0o600)``, folders ``0o700``): the process's umask can only take bits away, so
the result is never looser, and there is no moment when the file is readable by others (as
there would be with a ``chmod`` after writing). Existing folders are left as they are (the
operator chose them); an existing SQLite database looser than ``0o600`` is tightened when it
is opened (databases written before this module existed).

Why this module lives in ``predictive``: it is the lowest package (``crm`` and ``ari_app``
import it, it imports neither), and the model registry here needs it as much as the CRM's
recordings and the dialer's outbox do. It is standard library only.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """``path`` and every missing parent created ``0o700`` (existing ones are not changed)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by another writer
            pass
    return path


def open_private(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """``path`` opened for writing (binary), created ``0o600``. ``exclusive``: fail if it
    exists (``FileExistsError``); otherwise truncate it, and set ``0o600`` on it before any
    byte is written (a file left by an earlier run may have been looser)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if not exclusive:
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes | str) -> None:
    """``data`` (text as UTF-8) into ``path``, created ``0o600`` (replacing its content)."""
    with open_private(path, exclusive=False) as out:
        out.write(data.encode() if isinstance(data, str) else data)


def private_sqlite(path: Path) -> Path:
    """Before SQLite opens ``path``: its folder (``0o700`` where created) and the database file
    itself created empty ``0o600`` (SQLite takes an empty file as a new database, and gives its
    ``-wal``/``-shm``/``-journal`` files the database's mode). An existing database readable by
    others is tightened to ``0o600``, with a warning."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except FileExistsError:
        for file in (path, *(path.with_name(path.name + s) for s in _SQLITE_COMPANIONS)):
            _tighten(file)
    return path


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
        log.warning("%s was readable by others (mode %o): now %o", path, mode, mode & 0o700)
