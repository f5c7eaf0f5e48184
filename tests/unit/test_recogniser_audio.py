"""Audio primitives of the recogniser: G.711, formats, streaming polyphase resampling, models."""

from __future__ import annotations

import numpy as np
import pytest

from ari_app.speech import AudioFormatError, ModelNotFoundError, resolve_model
from ari_app.speech.audio import (
    AudioFormat,
    Encoding,
    StreamingResampler,
    audio_format,
    decode_pcm16,
    encode_ulaw,
    resample,
)


def test_given_ulaw_bytes_when_decoding_then_g711_values():
    fmt = AudioFormat(Encoding.ULAW, 8000)
    assert decode_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80]), fmt).tolist() == [0, 0, -32124, 32124]


def test_given_pcm_when_ulaw_round_trip_then_within_quantisation_error():
    x = (np.sin(np.arange(800) / 10) * 20000).astype(np.int16)
    back = decode_pcm16(encode_ulaw(x), AudioFormat(Encoding.ULAW, 8000)).astype(int)
    assert np.max(np.abs(back - x) / (np.abs(x) + 64)) < 0.07


def test_given_big_and_little_endian_slin_when_decoding_then_same_samples():
    x = np.array([1, -2, 300, -32768], dtype=np.int16)
    assert (decode_pcm16(x.astype("<i2").tobytes(), audio_format("slin", 8000)) == x).all()
    assert (decode_pcm16(x.astype(">i2").tobytes(), audio_format("slin_be", 8000)) == x).all()


@pytest.mark.parametrize(("encoding", "rate"), [("gsm", 8000), ("slin", 1000)])
def test_given_unsupported_format_when_validating_then_error(encoding, rate):
    with pytest.raises(AudioFormatError):
        audio_format(encoding, rate)


def test_given_odd_byte_count_when_decoding_slin_then_error():
    with pytest.raises(AudioFormatError):
        decode_pcm16(b"\x00\x01\x02", audio_format("slin16", 16000))


@pytest.mark.parametrize("rate", [8000, 48000, 22050])
def test_given_20ms_frames_when_resampling_then_same_as_whole_signal(rate):
    x = np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    frame = rate // 50
    chunked = StreamingResampler(rate)
    parts = [chunked.process(x[i : i + frame]) for i in range(0, len(x), frame)]
    whole = StreamingResampler(rate).process(x)
    assert np.allclose(np.concatenate(parts), whole, atol=1e-6)
    assert abs(len(whole) - 16000) <= 1


def band_energy(x, lo, hi, rate=16000):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return spectrum[(freqs >= lo) & (freqs < hi)].sum()


def test_given_8k_tone_when_upsampling_then_no_mirror_image_unlike_repetition():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    proper = StreamingResampler(8000).process(tone)
    repeated = np.repeat(tone, 2)
    image_proper = band_energy(proper[200:], 6500, 7500) / band_energy(proper[200:], 500, 1500)
    image_repeat = band_energy(repeated, 6500, 7500) / band_energy(repeated, 500, 1500)
    assert image_proper < 1e-4 < image_repeat


def test_given_offline_resample_when_22050_to_16k_then_length_scaled():
    assert len(resample(np.zeros(22050, dtype=np.float32), 22050)) == 16000


def test_given_tiny_en_name_when_resolving_then_packaged_directory():
    model = resolve_model("tiny.en")
    assert (model.path / "model.bin").is_file() and not model.multilingual


def test_given_base_name_when_resolving_then_assembled_once_in_cache(tmp_path):
    first = resolve_model("base", cache_dir=tmp_path)
    stamp = (first.path / "model.bin").stat().st_mtime_ns
    again = resolve_model("base", cache_dir=tmp_path)
    assert first.multilingual and again.path == first.path
    assert (again.path / "model.bin").stat().st_mtime_ns == stamp
    assert resolve_model(str(first.path)).multilingual


def test_given_unknown_model_when_resolving_then_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="unknown ASR model 'large-v9'"):
        resolve_model("large-v9")
    with pytest.raises(ModelNotFoundError, match="lacks model.bin"):
        resolve_model(str(tmp_path))
