"""Transcribe one utterance (16 kHz float32) with faster-whisper on the CPU.

Runs inside the worker process. The prompt carries the campaign vocabulary: on narrowband
audio it steers the decoder towards the domain words ("price", "quote", "discount", ...).
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ari_app.speech.audio import FloatArray
from ari_app.speech.models import resolve_model

WINDOWS = ("utterance", "full")
FRAMES_PER_S = 100  # Whisper's mel frames (10 ms hop)
FULL_FRAMES = 3000  # the 30 s window Whisper was trained on
# Output bound for the short window: speech runs at ~3-4 tokens a second; a decoder looping
# on a short window runs into this bound instead of the model's 448 tokens.
TOKENS_PER_S = 8
TOKENS_SLACK = 12
# A short-window result is kept unless it looks degenerate (a loop the collapse could not
# undo: then the full window decides). Low likelihood alone is no reason: on the live bench
# the full window turned the same garbled audio into the same words, 1-4 s later, while the
# next utterance queued behind it.
FALLBACK_COMPRESSION = 2.4


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
    # "utterance": the encoder sees the utterance plus ``window_pad_s`` of silence instead of
    # Whisper's fixed 30 s window (CTranslate2 accepts the shorter input; the encoder cost falls
    # with it); a degenerate result falls back to the full window. "full": always 30 s.
    window: str = "utterance"
    window_pad_s: float = 2.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecognitionConfig:
        fields = dict(data)
        if fields.get("window", "utterance") not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}")
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
        prompt = prompt or self.config.initial_prompt()
        if self.config.window == "utterance" and len(audio) < 28 * 16_000:
            short = self._transcribe_short(audio, prompt)
            if short is not None:
                return short
        return self._transcribe_full(audio, prompt)

    def _transcribe_short(self, audio: FloatArray, prompt: str | None) -> Recognised | None:
        """Decode over the utterance's own length (+ pad); ``None`` when the result looks
        degenerate (loops, very low likelihood), so the full window decides instead."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage

        model = self._model
        feats = model.feature_extractor(audio)
        n = feats.shape[-1]
        pad = int(self.config.window_pad_s * FRAMES_PER_S)
        frames = min(FULL_FRAMES, -(-(n + pad) // FRAMES_PER_S) * FRAMES_PER_S)
        if frames > n:
            feats = np.pad(feats, ((0, 0), (0, frames - n)))
        encoded = model.model.encode(get_ctranslate2_storage(
            np.ascontiguousarray(feats[None, :, :frames], dtype=np.float32)))
        language = self._language_known()
        if language is None:
            codes = [(p, t[2:-2]) for t, p in model.model.detect_language(encoded)[0]]
            allowed = [c for c in codes
                       if not self.config.languages or c[1] in self.config.languages]
            language = max(allowed)[1] if allowed else codes[0][1]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=language)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens = model.get_prompt(tokenizer, previous, without_timestamps=True,
                                  hotwords=self.config.hotwords)
        seconds = len(audio) / 16_000
        max_length = min(model.max_length,
                         len(tokens) + int(TOKENS_PER_S * seconds) + TOKENS_SLACK)
        result = model.model.generate(
            encoded, [tokens], beam_size=self.config.beam_size, max_length=max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=[-1])[0]
        ids = result.sequences_ids[0]
        raw = tokenizer.decode(ids).strip()
        text = collapse_repeats(raw)
        avg = result.scores[0] * len(ids) / (len(ids) + 1)
        bounded = len(tokens) + len(ids) >= max_length and text == " ".join(raw.split())
        if text and (bounded or compression_ratio(text) > FALLBACK_COMPRESSION):
            return None
        return Recognised(
            text=text,
            avg_logprob=round(avg, 4),
            confidence=round(math.exp(avg), 4) if text else 0.0,
            language=language,
            no_speech_prob=round(result.no_speech_prob, 4),
        )

    def _language_known(self) -> str | None:
        if not self.resolved.multilingual:
            return "en"
        return self.config.language

    def _transcribe_full(self, audio: FloatArray, prompt: str | None) -> Recognised:
        language = self._language_for(audio)
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.config.beam_size,
            initial_prompt=prompt,
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


_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")


def collapse_repeats(text: str) -> str:
    """Drop a decoder loop: a sentence repeated back to back (the last copy possibly cut short)
    is kept once, and so is a phrase of 3-8 words said twice in a row or of 1-2 words said 3+
    times ("I saw your offer. I saw your offer.",
    "in 2x in 2x in 2x")."""
    out: list[str] = []
    for sentence in (m.group().strip() for m in _SENTENCE.finditer(text)):
        # a repeat of the previous sentence, or its start cut off by the output bound
        if sentence and (not out or not _norm(out[-1]).startswith(_norm(sentence))):
            out.append(sentence)
    words = " ".join(out).split()
    keys = [_norm(w) for w in words]
    i = 0
    kept: list[str] = []
    while i < len(words):
        for size in range(1, 9):
            unit = keys[i:i + size]
            reps = 1
            while len(unit) == size and keys[i + reps * size:i + (reps + 1) * size] == unit:
                reps += 1
            if reps >= (2 if size >= 3 else 3):
                # keep the last copy's words (its punctuation closes the phrase)
                kept.extend(words[i + (reps - 1) * size:i + reps * size])
                i += reps * size
                break
        else:
            kept.append(words[i])
            i += 1
    return " ".join(kept)


def _norm(sentence: str) -> str:
    return re.sub(r"[^\w]+", " ", sentence.lower()).strip()


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))
