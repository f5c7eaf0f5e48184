"""Streaming VAD segmentation with a deterministic stand-in scorer, and with Silero itself."""

from __future__ import annotations

import numpy as np

from ari_app.speech.vad import WINDOW, Segmenter, SileroScorer, VadConfig

RATE = 16000


class EnergyScorer:
    """Speech probability 1 for loud windows, 0 for quiet ones (stand-in for Silero)."""

    def __call__(self, windows):
        return (np.sqrt((windows**2).mean(axis=1)) > 0.05).astype(np.float32)

    def reset(self):
        pass


def signal(*parts):
    """parts: (seconds, loud?) pairs."""
    rng = np.random.default_rng(1)
    chunks = [(rng.standard_normal(int(s * RATE)) * (0.3 if loud else 0.001)).astype(np.float32)
              for s, loud in parts]
    return np.concatenate(chunks)


def run(seg, x, frame=320):
    out = []
    for i in range(0, len(x), frame):
        out += seg.feed(x[i : i + frame])
    tail = seg.flush()
    return out + ([tail] if tail else [])


def test_given_two_phrases_when_segmenting_then_two_padded_utterances():
    x = signal((1.0, False), (1.5, True), (1.0, False), (0.8, True), (1.0, False))
    utts = run(Segmenter(EnergyScorer()), x)
    assert [(round(u.start, 1), round(u.end, 1)) for u in utts] == [(0.8, 2.7), (3.3, 4.5)]
    assert all(len(u.audio) == round((u.end - u.start) * RATE) for u in utts)


def test_given_click_shorter_than_min_speech_when_segmenting_then_dropped():
    x = signal((1.0, False), (0.1, True), (1.0, False))
    assert run(Segmenter(EnergyScorer()), x) == []


def test_given_long_monologue_when_segmenting_then_cut_at_max_length():
    cfg = VadConfig(max_utterance_s=2.0)
    utts = run(Segmenter(EnergyScorer(), cfg), signal((0.5, False), (5.0, True), (1.0, False)))
    assert len(utts) == 3 and max(u.end - u.start for u in utts) <= 2.0 + WINDOW / RATE


def test_given_speech_in_progress_when_committed_then_points_at_its_start():
    seg = Segmenter(EnergyScorer())
    seg.feed(signal((1.0, False), (0.5, True)))
    assert 0.7 < seg.committed < 1.0


def test_given_gap_when_skipping_then_current_utterance_flushed_and_clock_moved():
    seg = Segmenter(EnergyScorer())
    seg.feed(signal((0.5, False), (1.0, True)))
    done = seg.skip_to(10.0)
    assert done is not None and done.start < 0.5
    utts = run(seg, signal((0.5, False), (1.0, True), (1.0, False)))
    assert round(utts[0].start, 1) == 10.3


def test_given_silero_when_scoring_in_chunks_then_matches_one_batch():
    x = signal((0.5, False), (1.0, True), (0.5, False))
    n = len(x) // WINDOW
    windows = x[: n * WINDOW].reshape(n, WINDOW)
    whole = SileroScorer()(windows)
    streamed = SileroScorer()
    parts = np.concatenate([streamed(windows[i : i + 3]) for i in range(0, n, 3)])
    assert np.allclose(whole, parts, atol=1e-5)
