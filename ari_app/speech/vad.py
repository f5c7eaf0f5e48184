"""Streaming voice-activity segmentation with the Silero VAD that faster-whisper ships.

Audio (16 kHz float32) is fed in any chunk size; it is cut into 32 ms windows, each scored by
the VAD with its recurrent state carried across calls, and a small state machine turns the
scores into utterances: speech starts when a window scores ≥ ``threshold``, ends after
``min_silence_ms`` below ``neg_threshold``; utterances are padded by ``pad_ms`` each side,
dropped when shorter than ``min_speech_ms`` and force-cut at ``max_utterance_s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ari_app.speech.audio import TARGET_RATE, FloatArray

WINDOW = 512
CONTEXT = 64


class SpeechScorer(Protocol):
    def __call__(self, windows: FloatArray) -> FloatArray:
        """(n, 512) windows, in order → n speech probabilities; state carries across calls."""
        ...

    def reset(self) -> None: ...


class SileroScorer:
    """Silero VAD v6 (``faster_whisper/assets``) scored incrementally."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def __call__(self, windows: FloatArray) -> FloatArray:
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)


@dataclass(frozen=True, slots=True)
class VadConfig:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_silence_ms: int = 500
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_s: float = 20.0


@dataclass(frozen=True, slots=True)
class Utterance:
    start: float  # seconds from stream start
    end: float
    audio: FloatArray


class Segmenter:
    """Feed 16 kHz audio, get finished utterances. ``committed`` = seconds fully accounted for."""

    def __init__(self, scorer: SpeechScorer, config: VadConfig = VadConfig(), start: float = 0.0):
        self._scorer, self._cfg = scorer, config
        ms = TARGET_RATE // 1000
        self._pad = config.pad_ms * ms
        self._min_silence = config.min_silence_ms * ms
        self._min_speech = config.min_speech_ms * ms
        self._max = int(config.max_utterance_s * TARGET_RATE)
        self._reset_at(int(round(start * TARGET_RATE)))

    def _reset_at(self, sample: int) -> None:
        self._t = sample  # stream sample index of the next window's first sample
        self._pending = np.zeros(0, dtype=np.float32)
        self._preroll: deque[FloatArray] = deque(maxlen=max(1, -(-self._pad // WINDOW)))
        self._speech: list[FloatArray] | None = None
        self._speech_start = 0
        self._silence = 0
        self._lead = 0

    @property
    def committed(self) -> float:
        sample = self._speech_start if self._speech is not None else self._t
        return sample / TARGET_RATE

    def feed(self, audio: FloatArray) -> list[Utterance]:
        self._pending = np.concatenate([self._pending, audio.astype(np.float32)])
        n = len(self._pending) // WINDOW
        if n == 0:
            return []
        windows = self._pending[: n * WINDOW].reshape(n, WINDOW)
        self._pending = self._pending[n * WINDOW :]
        out: list[Utterance] = []
        for window, prob in zip(windows, self._scorer(windows), strict=True):
            done = self._step(window, float(prob))
            if done is not None:
                out.append(done)
        return out

    def _step(self, window: FloatArray, prob: float) -> Utterance | None:
        start = self._t
        self._t += WINDOW
        if self._speech is None:
            if prob >= self._cfg.threshold:
                pre = list(self._preroll)
                self._speech = [*pre, window]
                self._speech_start = start - WINDOW * len(pre)
                self._lead = WINDOW * len(pre)
                self._silence = 0
                self._preroll.clear()
            else:
                self._preroll.append(window)
            return None
        self._speech.append(window)
        if prob < self._cfg.neg_threshold or (self._silence and prob < self._cfg.threshold):
            self._silence += WINDOW
        else:
            self._silence = 0
        if self._silence >= self._min_silence:
            return self._finish(trailing=self._silence)
        if self._t - self._speech_start >= self._max:
            return self._finish(trailing=0, keep_speaking=True)
        return None

    def _finish(self, trailing: int, keep_speaking: bool = False) -> Utterance | None:
        assert self._speech is not None
        audio = np.concatenate(self._speech)
        keep = len(audio) - max(0, trailing - self._pad)
        audio = audio[:keep]
        start = self._speech_start
        voiced = keep - self._lead - min(trailing, self._pad)
        self._speech = [] if keep_speaking else None
        self._speech_start, self._silence, self._lead = self._t, 0, 0
        if voiced < self._min_speech and not keep_speaking:
            return None
        return Utterance(start / TARGET_RATE, (start + keep) / TARGET_RATE, audio)

    def flush(self) -> Utterance | None:
        """End of stream: the utterance in progress (if any), trailing silence trimmed."""
        if self._speech is None:
            return None
        if len(self._pending):
            self._speech.append(self._pending)
            self._t += len(self._pending)
            self._pending = np.zeros(0, dtype=np.float32)
        if not self._speech:
            self._speech = None
            return None
        return self._finish(trailing=self._silence)

    def skip_to(self, seconds: float) -> Utterance | None:
        """A gap in the input: finish what was being said and restart the VAD at ``seconds``."""
        done = self.flush()
        self._scorer.reset()
        self._reset_at(int(round(seconds * TARGET_RATE)))
        return done
