"""Per-stream processing inside the worker: bytes → int16 → float → 16 kHz → VAD → utterances.

Pure apart from the VAD scorer; the worker feeds it and transcribes what comes out.
"""

from __future__ import annotations

from ari_app.speech.audio import AudioFormat, StreamingResampler, decode_pcm16, to_float
from ari_app.speech.vad import Segmenter, SpeechScorer, Utterance, VadConfig


class StreamPipeline:
    def __init__(self, fmt: AudioFormat, scorer: SpeechScorer, vad: VadConfig, start: float):
        self.fmt = fmt
        self._resampler = StreamingResampler(fmt.sample_rate)
        self._segmenter = Segmenter(scorer, vad, start=start)
        self._next_sample = int(round(start * fmt.sample_rate))

    @property
    def committed(self) -> float:
        return self._segmenter.committed

    def feed(self, first_sample: int, data: bytes) -> list[Utterance]:
        """``first_sample``: index (in input samples) of the first sample of ``data``."""
        out: list[Utterance] = []
        if first_sample > self._next_sample:  # frames were dropped upstream: a gap
            done = self._segmenter.skip_to(first_sample / self.fmt.sample_rate)
            out += [done] if done else []
            self._resampler = StreamingResampler(self.fmt.sample_rate)
        elif first_sample < self._next_sample:  # replayed/overlapping data: ignore the overlap
            skip = (self._next_sample - first_sample) * self.fmt.bytes_per_sample
            data = data[skip:]
        samples = decode_pcm16(data, self.fmt)
        self._next_sample = max(self._next_sample, first_sample) + len(samples)
        out += self._segmenter.feed(self._resampler.process(to_float(samples)))
        return out

    def flush(self) -> Utterance | None:
        return self._segmenter.flush()
