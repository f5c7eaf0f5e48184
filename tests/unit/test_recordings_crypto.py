"""The recording file format: AES-GCM in authenticated chunks, a keyring with key ids."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest

from crm.crypto import (
    SANDBOX_KEY_ID,
    TAG_BYTES,
    Keyring,
    RecordingIntegrityError,
    RecordingTamperedError,
    RecordingTruncatedError,
    UnknownKeyError,
    decrypt_file,
    decrypt_file_range,
    encrypt_stream,
    read_key_id,
)
from crm.errors import InvalidInputError
from crm.settings import CrmSettings

CHUNK = 1000


def _ring(*ids: str, active: str | None = None) -> Keyring:
    keys = {i: os.urandom(32) for i in ids}
    return Keyring(keys, active or ids[0])


def _encrypt(ring: Keyring, plain: bytes, chunk: int = CHUNK) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), out, ring.encryptor(chunk))
    return out.getvalue()


def _decrypt(ring: Keyring, blob: bytes, feed: int = 777) -> bytes:
    dec = ring.decryptor()
    out = bytearray()
    for i in range(0, len(blob), feed):
        out += dec.update(blob[i : i + feed])
    out += dec.finalize()
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 7 * CHUNK + 13])
def test_given_any_size_when_encrypted_and_decrypted_then_plaintext_is_identical(size: int):
    ring = _ring("k1")
    plain = os.urandom(size)
    blob = _encrypt(ring, plain)
    assert size < 16 or plain not in blob  # a byte or two may occur in ciphertext by chance
    assert _decrypt(ring, blob) == plain
    assert _decrypt(ring, blob, feed=1) == plain


def test_given_encryptor_when_fed_then_it_counts_and_hashes_the_plaintext():
    import hashlib

    enc = _ring("k1").encryptor(CHUNK)
    enc.update(b"a" * 2500)
    enc.update(b"b" * 10)
    enc.finalize()
    assert enc.size == 2510
    assert enc.sha256.hexdigest() == hashlib.sha256(b"a" * 2500 + b"b" * 10).hexdigest()


def test_given_same_plaintext_when_encrypted_twice_then_ciphertexts_differ():
    ring = _ring("k1")
    assert _encrypt(ring, b"x" * 5000) != _encrypt(ring, b"x" * 5000)


def test_given_a_flipped_byte_anywhere_when_decrypting_then_refused():
    ring = _ring("k1")
    blob = _encrypt(ring, os.urandom(3 * CHUNK + 5))
    for pos in (2, 10, 40, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with pytest.raises((RecordingIntegrityError, UnknownKeyError)):
            _decrypt(ring, bytes(bad))


def test_given_file_cut_at_a_chunk_boundary_when_decrypting_then_truncation_detected():
    ring = _ring("k1")
    plain = os.urandom(3 * CHUNK + 5)
    blob = _encrypt(ring, plain)
    header = len(blob) - (3 * (CHUNK + TAG_BYTES) + 5 + TAG_BYTES)
    cut = blob[: header + 2 * (CHUNK + TAG_BYTES)]  # the last two chunks are gone
    with pytest.raises(RecordingTruncatedError):
        _decrypt(ring, cut)


@pytest.mark.parametrize("keep", [0, 3, 20, 60, 1500])
def test_given_file_cut_anywhere_when_decrypting_then_refused(keep: int):
    ring = _ring("k1")
    blob = _encrypt(ring, os.urandom(3 * CHUNK))
    with pytest.raises(RecordingIntegrityError):
        _decrypt(ring, blob[:keep])


def test_given_reordered_chunks_when_decrypting_then_refused():
    ring = _ring("k1")
    blob = _encrypt(ring, os.urandom(3 * CHUNK + 5))
    block = CHUNK + TAG_BYTES
    header = len(blob) - (3 * block + 5 + TAG_BYTES)
    c = [blob[header + i * block : header + (i + 1) * block] for i in range(3)]
    swapped = blob[:header] + c[1] + c[0] + c[2] + blob[header + 3 * block :]
    with pytest.raises(RecordingTamperedError):
        _decrypt(ring, swapped)


def test_given_bytes_appended_after_the_last_chunk_when_decrypting_then_refused():
    ring = _ring("k1")
    blob = _encrypt(ring, os.urandom(2 * CHUNK))
    with pytest.raises(RecordingTamperedError):
        _decrypt(ring, blob + os.urandom(CHUNK + TAG_BYTES + 3))


def test_given_file_under_old_key_when_active_key_rotated_then_old_key_still_decrypts(
    tmp_path: Path,
):
    old = _ring("old")
    blob = _encrypt(old, b"hello" * 999)
    rotated = Keyring({"new": os.urandom(32), "old": old.keys["old"]}, "new")
    assert _decrypt(rotated, blob) == b"hello" * 999
    path = tmp_path / "r.bin"
    path.write_bytes(blob)
    assert read_key_id(path) == "old"
    assert b"".join(decrypt_file(path, rotated)) == b"hello" * 999
    without_old = Keyring({"new": rotated.keys["new"]}, "new")
    with pytest.raises(UnknownKeyError):
        _decrypt(without_old, blob)


def test_given_same_key_id_but_other_key_material_when_decrypting_then_refused():
    blob = _encrypt(_ring("k1"), b"secret audio" * 100)
    with pytest.raises(RecordingIntegrityError):
        _decrypt(_ring("k1"), blob)


def test_given_keyring_spec_when_parsed_then_first_key_active_unless_named():
    k1, k2 = os.urandom(32), os.urandom(16)
    spec = f"a:{base64.b64encode(k1).decode()}, b:{base64.b64encode(k2).decode()}"
    ring = Keyring.parse(spec)
    assert ring.active_id == "a" and ring.keys == {"a": k1, "b": k2}
    assert Keyring.parse(spec, "b").active_id == "b"
    assert Keyring.parse("").active_id == SANDBOX_KEY_ID


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"DIALCRM_RECORDING_KEYS": "nocolon"}, "recording_keys"),
        ({"DIALCRM_RECORDING_KEYS": "a:!!notbase64"}, "recording_keys"),
        ({"DIALCRM_RECORDING_KEYS": "a:" + base64.b64encode(b"short").decode()}, "recording_keys"),
        ({"DIALCRM_RECORDING_ACTIVE_KEY": "missing"}, "recording_active_key"),
        ({"DIALCRM_RECORDING_URL_TTL_SECONDS": "0"}, "recording_url_ttl_seconds"),
        ({"DIALCRM_RECORDING_URL_SECRET": "short"}, "recording_url_secret"),
    ],
)
def test_given_bad_recording_settings_when_loading_then_error_names_the_field(env, field):
    with pytest.raises(InvalidInputError) as err:
        CrmSettings.from_env(env)
    assert err.value.field == field


def test_given_default_settings_when_loaded_then_sandbox_secrets_are_flagged():
    s = CrmSettings()
    assert s.uses_sandbox_recording_key and s.is_sandbox_recording_url_secret
    key = base64.b64encode(os.urandom(32)).decode()
    prod = CrmSettings.from_env(
        {"DIALCRM_RECORDING_KEYS": f"p1:{key}", "DIALCRM_RECORDING_URL_SECRET": "x" * 32}
    )
    assert not prod.uses_sandbox_recording_key and not prod.is_sandbox_recording_url_secret


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 13])
def test_given_any_range_when_decrypting_part_then_bytes_equal_the_plaintext_slice(
    size: int, tmp_path: Path
):
    ring = _ring("k1")
    plain = os.urandom(size)
    path = tmp_path / "r.bin"
    path.write_bytes(_encrypt(ring, plain))
    for start in range(0, size + 2, 137):
        for stop in range(start, size + 3, 251):
            got = b"".join(decrypt_file_range(path, ring, start, stop))
            assert got == plain[start:stop], (start, stop)


def test_given_file_cut_at_a_chunk_boundary_when_reading_a_range_then_refused(tmp_path: Path):
    ring = _ring("k1")
    blob = _encrypt(ring, os.urandom(3 * CHUNK + 5))
    header = len(blob) - (3 * (CHUNK + TAG_BYTES) + 5 + TAG_BYTES)
    path = tmp_path / "cut.bin"
    path.write_bytes(blob[: header + 2 * (CHUNK + TAG_BYTES)])
    assert len(b"".join(decrypt_file_range(path, ring, 0, 10))) == 10  # chunk 0 is intact
    with pytest.raises(RecordingIntegrityError):  # chunk 1 now claims to be the last: refused
        b"".join(decrypt_file_range(path, ring, CHUNK, CHUNK + 10))
    bad = bytearray(blob)
    bad[header + 5] ^= 1
    path.write_bytes(bytes(bad))
    with pytest.raises(RecordingIntegrityError):
        b"".join(decrypt_file_range(path, ring, 0, 1))
