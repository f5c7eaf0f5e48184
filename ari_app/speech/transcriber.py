"""Transcribe one utterance (16 kHz float32) with faster-whisper on the CPU.

Runs inside the worker process. The prompt carries the campaign vocabulary: on narrowband
audio it steers the decoder towards the domain words ("price", "quote", "discount", ...).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ari_app.speech.audio import FloatArray
from ari_app.speech.models import resolve_model


@dataclass(frozen=True, slots=True)
class RecognitionConfig:
    """How utterances are recognised.

    ``model``: ``"tiny.en"``, ``"base"`` or a CTranslate2 model directory (see ``models.py``).
    ``language``: ISO code to force (``"en"``, ``"zh"``) or ``None`` to detect per utterance
    (restricted to ``languages`` when given). ``vocabulary``: campaign words put into the initial
    prompt. ``hotwords``: faster-whisper hotwords (a prefix prompt), off by default.
    """

    model: str = "base"
    language: str | None = "en"
    languages: tuple[str, ...] = ("en", "zh")
    vocabulary: tuple[str, ...] = ()
    hotwords: str | None = None
    beam_size: int = 5
    cpu_threads: int = 2
    compute_type: str = "int8"
    cache_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecognitionConfig:
        fields = dict(data)
        for key in ("languages", "vocabulary"):
            fields[key] = tuple(fields.get(key) or ())
        return cls(**fields)

    def initial_prompt(self) -> str | None:
        return vocabulary_prompt(self.vocabulary)


def vocabulary_prompt(vocabulary: tuple[str, ...] | list[str]) -> str | None:
    """The initial prompt that steers the decoder towards a campaign's words."""
    words = [w.strip() for w in vocabulary if w.strip()]
    if not words:
        return None
    return "Call centre sales call about " + ", ".join(words) + "."


@dataclass(frozen=True, slots=True)
class Recognised:
    text: str
    avg_logprob: float
    confidence: float
    language: str
    no_speech_prob: float


class Transcriber:
    """Holds a loaded WhisperModel; ``transcribe`` is blocking (call it off the event loop)."""

    def __init__(self, config: RecognitionConfig) -> None:
        from pathlib import Path

        from faster_whisper import WhisperModel

        cache = Path(config.cache_dir) if config.cache_dir else None
        self.resolved = resolve_model(config.model, cache)
        self.config = config
        self._model = WhisperModel(
            str(self.resolved.path),
            device="cpu",
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
        )

    def _language_for(self, audio: FloatArray) -> str | None:
        if not self.resolved.multilingual:
            return "en"
        if self.config.language:
            return self.config.language
        if not self.config.languages:
            return None
        _, _, probs = self._model.detect_language(audio)
        allowed = [(p, lang) for lang, p in probs if lang in self.config.languages]
        return max(allowed)[1] if allowed else None

    def transcribe(self, audio: FloatArray, prompt: str | None = None) -> Recognised:
        """``prompt``: the stream's own initial prompt (else the configured vocabulary's)."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        language = self._language_for(audio)
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.config.beam_size,
            initial_prompt=prompt or self.config.initial_prompt(),
            hotwords=self.config.hotwords,
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=True,
        )
        parts = list(segments)
        text = " ".join(s.text.strip() for s in parts).strip()
        weights = [max(len(s.text), 1) for s in parts]
        total = sum(weights) or 1
        avg = sum(s.avg_logprob * w for s, w in zip(parts, weights, strict=True)) / total
        nsp = max((s.no_speech_prob for s in parts), default=1.0)
        return Recognised(
            text=text,
            avg_logprob=round(avg, 4),
            confidence=round(math.exp(avg), 4) if parts else 0.0,
            language=language or info.language,
            no_speech_prob=round(nsp, 4),
        )
