"""Recordings at rest: a keyring and a chunked, streaming AES-GCM file format.

File layout (all integers big-endian)::

    header  = b"DCRA" | version (1) | len(key_id) (1) | key_id | salt (16) | nonce prefix (7)
              | chunk size (4)
    chunk_i = AES-GCM(file_key, nonce_i, plaintext_i, aad=header)      (ciphertext || 16-byte tag)

- ``file_key = HKDF-SHA256(keyring[key_id], salt, info="dialcrm recording v1")``: a fresh key
  per file (random salt), so nonces can never repeat across files under one master key.
- ``nonce_i = nonce prefix (7) | i (4) | last flag (1)`` (the "STREAM" construction): chunks cannot
  be reordered, dropped, or the file cut at a chunk boundary without detection — the stream must
  end with the one chunk sealed as last; trailing bytes after it are refused too.
- The header is authenticated as each chunk's associated data, so the key id, salt or chunk size
  cannot be swapped.
- Plaintext chunks are ``chunk size`` bytes (the last one shorter, possibly empty), so memory
  stays bounded whatever the recording's size. The key id in the header is authoritative for
  decryption (the ``recordings.key_id`` column mirrors it to find files to rotate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.errors import CrmError, GoneError, InvalidInputError, PermissionDeniedError

MAGIC = b"DCRA"
VERSION = 1
TAG_BYTES = 16
SALT_BYTES = 16
PREFIX_BYTES = 7
DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024
MAX_CHUNKS = 2**32
_INFO = b"dialcrm recording v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The sandbox's key: public, for local use only (``CrmSettings.uses_sandbox_recording_key``).
SANDBOX_KEY_ID = "sandbox-1"
SANDBOX_KEY = hashlib.sha256(b"dialcrm sandbox recording key - NOT SECRET").digest()


class RecordingCryptoError(CrmError):
    """A recording file cannot be decrypted."""

    error_id = "recording_unreadable"


class UnknownKeyError(RecordingCryptoError):
    """The file names a key id the keyring does not hold (removed before rotation?)."""

    error_id = "recording_key_unknown"


class RecordingIntegrityError(RecordingCryptoError):
    """Authentication failed: the file was modified or cut."""

    error_id = "recording_integrity"


class RecordingTamperedError(RecordingIntegrityError):
    error_id = "recording_tampered"


class RecordingTruncatedError(RecordingIntegrityError):
    error_id = "recording_truncated"


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; new files are written under ``active_id``; any listed key decrypts."""

    keys: Mapping[str, bytes]
    active_id: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidInputError("recording_keys", "the keyring is empty")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise InvalidInputError("recording_keys", f"bad key id {key_id!r}")
            if len(key) not in (16, 24, 32):
                raise InvalidInputError(
                    "recording_keys", f"key {key_id!r} must be 16, 24 or 32 bytes"
                )
        if self.active_id not in self.keys:
            raise InvalidInputError(
                "recording_active_key", f"active key {self.active_id!r} is not in the keyring"
            )

    @classmethod
    def parse(cls, spec: str, active_id: str = "") -> Keyring:
        """``"id1:<base64 key>,id2:<base64 key>"``; empty → the sandbox key. Without
        ``active_id`` the first listed key is active."""
        if not spec.strip():
            return cls({SANDBOX_KEY_ID: SANDBOX_KEY}, active_id or SANDBOX_KEY_ID)
        keys: dict[str, bytes] = {}
        for item in spec.split(","):
            key_id, sep, b64 = item.strip().partition(":")
            if not sep:
                raise InvalidInputError("recording_keys", "expected id:base64key[,id:base64key]")
            try:
                keys[key_id.strip()] = base64.b64decode(b64.strip(), validate=True)
            except ValueError:
                raise InvalidInputError(
                    "recording_keys", f"key {key_id.strip()!r} is not valid base64"
                ) from None
        return cls(keys, active_id or next(iter(keys)))

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(
                f"recording key {key_id!r} is not configured", details={"key_id": key_id}
            ) from None

    def encryptor(self, chunk_size: int = DEFAULT_CHUNK) -> StreamEncryptor:
        return StreamEncryptor(self.active_id, self.key(self.active_id), chunk_size)

    def decryptor(self) -> StreamDecryptor:
        return StreamDecryptor(self)


def _file_aead(master: bytes, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO)
    return AESGCM(hkdf.derive(master))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_CHUNKS:
        raise RecordingCryptoError("recording too large for its chunk size")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class StreamEncryptor:
    """Incremental encryption: ``header()`` once, ``update(data)`` any number of times,
    ``finalize()`` once. Also counts the plaintext and hashes it (SHA-256)."""

    def __init__(self, key_id: str, master: bytes, chunk_size: int = DEFAULT_CHUNK) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise InvalidInputError("chunk_size", f"must be between 1 and {MAX_CHUNK}")
        self.key_id = key_id
        self._chunk = chunk_size
        salt, self._prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
        kid = key_id.encode("ascii")
        self._header = (
            MAGIC
            + bytes([VERSION, len(kid)])
            + kid
            + salt
            + self._prefix
            + struct.pack(">I", chunk_size)
        )
        self._aead = _file_aead(master, salt)
        self._buf = bytearray()
        self._index = 0
        self._done = False
        self.sha256 = hashlib.sha256()
        self.size = 0

    def header(self) -> bytes:
        return self._header

    def _seal(self, plain: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), plain, self._header)
        self._index += 1
        return sealed

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise RecordingCryptoError("encryptor already finalised")
        self.sha256.update(data)
        self.size += len(data)
        self._buf += data
        out = bytearray()
        while len(self._buf) > self._chunk:  # keep at least one byte back for the last chunk
            out += self._seal(bytes(self._buf[: self._chunk]), False)
            del self._buf[: self._chunk]
        return bytes(out)

    def finalize(self) -> bytes:
        if self._done:
            raise RecordingCryptoError("encryptor already finalised")
        self._done = True
        sealed = self._seal(bytes(self._buf), True)
        self._buf.clear()
        return sealed


class StreamDecryptor:
    """Incremental decryption of the format above; ``finalize()`` insists on the last chunk."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._buf = bytearray()
        self._header: bytes | None = None
        self._aead: AESGCM | None = None
        self._prefix = b""
        self._block = 0
        self._index = 0
        self._done = False
        self.key_id: str | None = None

    def _parse_header(self) -> bool:
        buf = self._buf
        if len(buf) < 6:
            return False
        if bytes(buf[:4]) != MAGIC:
            raise RecordingTamperedError("not an encrypted recording (bad magic)")
        if buf[4] != VERSION:
            raise RecordingCryptoError(f"unsupported recording format version {buf[4]}")
        n = buf[5]
        end = 6 + n + SALT_BYTES + PREFIX_BYTES + 4
        if len(buf) < end:
            return False
        header = bytes(buf[:end])
        try:
            key_id = header[6 : 6 + n].decode("ascii")
        except UnicodeDecodeError:
            raise RecordingTamperedError("bad key id in the recording header") from None
        salt = header[6 + n : 6 + n + SALT_BYTES]
        self._prefix = header[6 + n + SALT_BYTES : end - 4]
        (chunk,) = struct.unpack(">I", header[end - 4 :])
        if not 1 <= chunk <= MAX_CHUNK:
            raise RecordingTamperedError("bad chunk size in the recording header")
        self._aead = _file_aead(self._keyring.key(key_id), salt)
        self._header, self._block, self.key_id = header, chunk + TAG_BYTES, key_id
        del buf[:end]
        return True

    def _open(self, sealed: bytes, last: bool) -> bytes:
        assert self._aead is not None and self._header is not None
        nonce = _nonce(self._prefix, self._index, last)
        plain = self._aead.decrypt(nonce, sealed, self._header)
        self._index += 1
        return plain

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise RecordingTamperedError("data after the end of the recording")
        self._buf += data
        if self._header is None and not self._parse_header():
            return b""
        out = bytearray()
        while len(self._buf) > self._block:  # the last block stays until finalize()
            sealed = bytes(self._buf[: self._block])
            try:
                out += self._open(sealed, False)
            except InvalidTag:
                raise self._diagnose(sealed) from None
            del self._buf[: self._block]
        return bytes(out)

    def _diagnose(self, sealed: bytes) -> RecordingIntegrityError:
        try:
            self._open(sealed, True)
        except InvalidTag:
            return RecordingTamperedError(f"chunk {self._index} failed authentication")
        return RecordingTamperedError("data after the final chunk")

    def finalize(self) -> bytes:
        if self._done:
            return b""
        self._done = True
        if self._header is None:
            raise RecordingTruncatedError("recording header incomplete")
        sealed = bytes(self._buf)
        self._buf.clear()
        if len(sealed) < TAG_BYTES:
            raise RecordingTruncatedError("recording cut inside a chunk")
        try:
            return self._open(sealed, True)
        except InvalidTag:
            pass
        try:
            self._open(sealed, False)
        except InvalidTag:
            raise RecordingIntegrityError(
                f"chunk {self._index} failed authentication (modified or cut)"
            ) from None
        raise RecordingTruncatedError("recording ends before its final chunk")


def read_key_id(path: str | os.PathLike[str]) -> str | None:
    """The key id in a file's header, or None if the file is not in this format."""
    with open(path, "rb") as f:
        head = f.read(6 + 255)
    if len(head) < 6 or head[:4] != MAGIC:
        return None
    try:
        return head[6 : 6 + head[5]].decode("ascii")
    except UnicodeDecodeError:
        return None


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def decrypt_file(
    path: str | os.PathLike[str], keyring: Keyring, read_size: int = DEFAULT_CHUNK
) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted file chunk by chunk (authenticated as it goes;
    a damaged file raises :class:`RecordingIntegrityError` at the first bad chunk or at the end).
    """
    dec = keyring.decryptor()
    with open(path, "rb") as f:
        while data := f.read(read_size + TAG_BYTES):
            if plain := dec.update(data):
                yield plain
    if tail := dec.finalize():
        yield tail


def encrypt_stream(source: BinaryIO, target: BinaryIO, enc: StreamEncryptor) -> None:
    target.write(enc.header())
    while data := source.read(DEFAULT_CHUNK):
        target.write(enc.update(data))
    target.write(enc.finalize())


# --- signed recording URLs --------------------------------------------------------------------


class SignedUrlInvalidError(PermissionDeniedError):
    """The token was not issued by us, was altered, or names another user."""

    error_id = "url_invalid"


class SignedUrlExpiredError(GoneError):
    error_id = "url_expired"


@dataclass(frozen=True)
class UrlGrant:
    recording_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime


_GRANT = struct.Struct(">B16s16sq")  # version, recording id, user id, expiry (unix seconds)


class UrlSigner:
    """``token = base64url(version | recording id | user id | expiry) . base64url(HMAC-SHA256)``
    with a secret from the settings. Nothing in it is guessable or reusable by another user."""

    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(b"dialcrm recording url|" + secret.encode()).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def sign(self, grant: UrlGrant) -> str:
        payload = _GRANT.pack(
            1, grant.recording_id.bytes, grant.user_id.bytes, int(grant.expires_at.timestamp())
        )
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: datetime) -> UrlGrant:
        """The grant, if the signature holds and it has not expired."""
        head, dot, tail = token.partition(".")
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except ValueError:
            raise SignedUrlInvalidError("malformed recording URL") from None
        if not dot or not hmac.compare_digest(mac, self._mac(payload)):
            raise SignedUrlInvalidError("recording URL signature does not match")
        if len(payload) != _GRANT.size:
            raise SignedUrlInvalidError("malformed recording URL")
        version, rec, user, expiry = _GRANT.unpack(payload)
        if version != 1:
            raise SignedUrlInvalidError("unsupported recording URL version")
        grant = UrlGrant(
            uuid.UUID(bytes=rec), uuid.UUID(bytes=user), datetime.fromtimestamp(expiry, UTC)
        )
        if now >= grant.expires_at:
            raise SignedUrlExpiredError(
                "recording URL expired",
                details={"expired_at": grant.expires_at.isoformat()},
            )
        return grant


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise ValueError("not base64url") from None


def decrypt_file_range(
    path: str | os.PathLike[str], keyring: Keyring, start: int, stop: int
) -> Iterator[bytes]:
    """Plaintext bytes ``[start, stop)`` of an encrypted file, reading and authenticating only
    the chunks that hold them (for HTTP range requests: seeking in a long call). Which chunk is
    the last follows from the file's size, so a file cut at a chunk boundary is still refused."""
    with open(path, "rb") as f:
        dec = StreamDecryptor(keyring)
        dec._buf += f.read(6 + 255 + SALT_BYTES + PREFIX_BYTES + 4)
        if not dec._parse_header():
            raise RecordingTruncatedError("recording header incomplete")
        assert dec._header is not None
        header_len, block = len(dec._header), dec._block
        chunk = block - TAG_BYTES
        body = os.fstat(f.fileno()).st_size - header_len
        chunks = max(1, -(-body // block))
        if stop <= start:
            return
        for i in range(start // chunk, min((stop - 1) // chunk, chunks - 1) + 1):
            f.seek(header_len + i * block)
            sealed = f.read(block)
            dec._index = i
            try:
                plain = dec._open(sealed, i == chunks - 1)
            except InvalidTag:
                raise RecordingIntegrityError(f"chunk {i} failed authentication") from None
            base = i * chunk
            yield plain[max(start - base, 0) : stop - base]
