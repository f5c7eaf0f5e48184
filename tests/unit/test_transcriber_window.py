"""The recogniser's short encoder window: the utterance + pad instead of Whisper's 30 s,
loops collapsed, degenerate results decided by the full window (real base model)."""

from __future__ import annotations

import shutil
import subprocess
import wave

import numpy as np
import pytest

from ari_app.speech import transcriber as tr
from ari_app.speech.audio import resample, to_float
from ari_app.speech.transcriber import (
    RecognitionConfig,
    Transcriber,
    collapse_repeats,
    compression_ratio,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("I saw your offer. I saw your offer. I saw your offer.", "I saw your offer."),
    ("Please call me next week. Please call me next week", "Please call me next week."),
    ("Can you send me a quote e-mail? Can you send me a quote e",
     "Can you send me a quote e-mail?"),
    ("a price into x x x x x x x x x", "a price into x"),
    ("in 2x in 2x in 2x and so on", "in 2x and so on"),
    ("please call me next week, please call me next week", "please call me next week"),
    ("Call me back, call me back tomorrow.", "call me back tomorrow."),
    ("very very good", "very very good"),
    ("好的。好的。好的。", "好的。"),
    ("The price is too expensive for us.", "The price is too expensive for us."),
    ("No, no. I said no.", "No, no. I said no."),
    ("", ""),
])
def test_given_decoder_loop_when_collapsing_then_kept_once(text, expected):
    assert collapse_repeats(text) == expected


def test_given_looping_text_when_measuring_compression_then_above_fallback_threshold():
    assert compression_ratio("I saw your offer. " * 12) > tr.FALLBACK_COMPRESSION
    assert compression_ratio("The price is too expensive for us.") < tr.FALLBACK_COMPRESSION


def test_given_unknown_window_when_loading_config_then_error():
    with pytest.raises(ValueError, match="window"):
        RecognitionConfig.from_json({"model": "base", "window": "tiny"})
    assert RecognitionConfig.from_json({"model": "base"}).window == "utterance"


def speech_16k(tmp_path, text: str) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required (apt-get install espeak-ng)")
    path = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text],
                   check=True, capture_output=True)
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        rate = w.getframerate()
    # a telephone leg: 8 kHz and back up
    return resample(resample(to_float(pcm), rate, 8000), 8000, 16000).astype(np.float32)


@pytest.fixture(scope="module")
def base_model() -> Transcriber:
    return Transcriber(RecognitionConfig(model="base", cpu_threads=2))


class EncodeSpy:
    def __init__(self, model) -> None:
        self.model, self.frames = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def encode(self, features, *args, **kwargs):
        self.frames.append(features.shape[-1])
        return self.model.encode(features, *args, **kwargs)


def test_given_short_utterance_when_transcribing_then_encoder_sees_utterance_plus_pad(
        tmp_path, base_model, monkeypatch):
    audio = speech_16k(tmp_path, "Can you send me a quote by email?")
    spy = EncodeSpy(base_model._model.model)
    monkeypatch.setattr(base_model._model, "model", spy)
    out = base_model.transcribe(audio)
    assert {"quote", "email"} <= set(out.text.lower().replace("?", " ").split()), out.text
    seconds = len(audio) / 16000
    assert spy.frames == [int(np.ceil(seconds + 2.0) * 100)]  # one encode, not 3000 frames
    assert out.language == "en" and 0 < out.confidence <= 1


def test_given_degenerate_short_result_when_transcribing_then_full_window_decides(
        tmp_path, base_model, monkeypatch):
    audio = speech_16k(tmp_path, "Can you send me a quote by email?")
    spy = EncodeSpy(base_model._model.model)
    monkeypatch.setattr(base_model._model, "model", spy)
    monkeypatch.setattr(tr, "FALLBACK_COMPRESSION", 0.0)  # every short result is degenerate
    out = base_model.transcribe(audio)
    assert spy.frames[0] < 3000 and 3000 in spy.frames[1:]
    assert "quote" in out.text.lower(), out.text


def test_given_full_window_config_when_transcribing_then_30s_encoder(
        tmp_path, base_model, monkeypatch):
    audio = speech_16k(tmp_path, "Can you send me a quote by email?")
    full = Transcriber.__new__(Transcriber)
    full.resolved, full._model = base_model.resolved, base_model._model
    full.config = RecognitionConfig(model="base", window="full")
    spy = EncodeSpy(base_model._model.model)
    monkeypatch.setattr(base_model._model, "model", spy)
    out = full.transcribe(audio)
    assert spy.frames == [3000]
    assert "quote" in out.text.lower(), out.text
