"""ASR benchmark: word error rate and real-time factor of the shipped models on call audio.

Each sentence of a call-centre script is spoken by espeak-ng, then either kept wideband
(16 kHz, as a slin16 fork delivers) or passed through a simulated telephone leg (band-limited
to 8 kHz, G.711 µ-law, decoded and upsampled by the recogniser's streaming resampler).
Configurations: model × input × prompt (with/without the campaign vocabulary prompt).

    .venv/bin/python bench/asr.py            # full: 16 sentences, tiny.en + base
    .venv/bin/python bench/asr.py --quick    # < 2 min on 2 cores
    .venv/bin/python bench/asr.py --json out.json
    .venv/bin/python bench/asr.py --models base,/srv/asr/whisper-small --beam-size 1

RTF = processing seconds / audio seconds (single utterance at a time, cpu_threads=2).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ari_app.speech.audio import (  # noqa: E402
    AudioFormat,
    Encoding,
    StreamingResampler,
    decode_pcm16,
    encode_ulaw,
    resample,
    to_float,
)
from ari_app.speech.transcriber import RecognitionConfig, Transcriber  # noqa: E402

SENTENCES = (
    "The price is too expensive for us.",
    "Can you send me a quote by email?",
    "We are interested in a long term cooperation.",
    "Please call me back next Tuesday at three.",
    "I am not interested, please remove my number.",
    "What discount can you offer if we order two hundred units?",
    "Call me again next week, I am in a meeting now.",
    "Your competitor offered a lower price last month.",
    "The delivery time is too long for our project.",
    "I would like to talk to your manager about the contract.",
    "That sounds good, let's schedule a demo tomorrow morning.",
    "We already have a supplier and we are happy with them.",
    "How much does the premium plan cost per month?",
    "It is not expensive, but I need to ask my boss first.",
    "Send the contract and I will sign it on Friday.",
    "Sorry, this is a bad time, can you call later?",
)
VOCABULARY = ("price", "quote", "discount", "cooperation", "contract", "supplier", "demo")


@dataclass(frozen=True)
class Row:
    model: str
    input: str
    prompt: bool
    sentences: int
    wer: float
    rtf: float
    audio_s: float
    load_s: float
    exact: int
    window: str = "utterance"
    ms_per_utterance: float = 0.0


def speak(text: str, directory: Path, index: int) -> tuple[np.ndarray, int]:
    path = directory / f"s{index}.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return to_float(pcm), rate


def wideband(x: np.ndarray, rate: int) -> np.ndarray:
    return resample(x, rate, 16_000)


def telephone(x: np.ndarray, rate: int, ulaw: bool = True) -> np.ndarray:
    """Band-limit to 8 kHz, µ-law encode/decode, upsample with the streaming resampler."""
    narrow = resample(x, rate, 8_000)
    pcm = np.clip(narrow * 32767, -32768, 32767).astype(np.int16)
    decoded = to_float(decode_pcm16(encode_ulaw(pcm), AudioFormat(Encoding.ULAW, 8_000))
                       if ulaw else pcm)
    up = StreamingResampler(8_000)
    frames = [up.process(decoded[i : i + 160]) for i in range(0, len(decoded), 160)]
    return np.concatenate(frames)


_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def words(text: str) -> list[str]:
    """Lower-case words with spoken numbers as digits ("two hundred" == "200")."""
    out: list[str] = []
    for w in re.findall(r"[a-z0-9']+", text.lower()):
        w = _NUMBERS.get(w, w)
        if w == "hundred" and out and out[-1].isdigit():
            out[-1] = str(int(out[-1]) * 100)
            continue
        out.append(w)
    return out


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance, reference length)."""
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)], len(ref)


def run_config(
    model: str, label: str, clips: list[np.ndarray], sentences: tuple[str, ...], prompt: bool,
    beam_size: int = 5, window: str = "utterance",
) -> tuple[Row, list[str]]:
    t0 = time.perf_counter()
    vocab = VOCABULARY if prompt else ()
    rec = Transcriber(RecognitionConfig(model=model, language="en", vocabulary=vocab,
                                        beam_size=beam_size, window=window))
    load_s = time.perf_counter() - t0
    rec.transcribe(clips[0][:16_000])  # warm-up
    errors = total = exact = 0
    busy = audio = 0.0
    hyps = []
    for clip, ref in zip(clips, sentences, strict=True):
        t = time.perf_counter()
        out = rec.transcribe(clip)
        busy += time.perf_counter() - t
        audio += len(clip) / 16_000
        e, n = wer(words(ref), words(out.text))
        errors, total, exact = errors + e, total + n, exact + (e == 0)
        hyps.append(out.text)
    row = Row(model, label, prompt, len(clips), round(errors / total, 4),
              round(busy / audio, 4), round(audio, 2), round(load_s, 2), exact, window,
              round(1000 * busy / len(clips), 1))
    return row, hyps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 sentences, fewer configurations")
    parser.add_argument("--json", type=Path, help="write results as JSON to this path")
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--windows", default="utterance,full",
                        help="encoder windows to compare: utterance (the shipped live path: "
                             "the utterance + 2 s) and full (Whisper's fixed 30 s)")
    parser.add_argument("--verbose", action="store_true", help="print every hypothesis")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is required (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    sentences = SENTENCES[:8] if args.quick else SENTENCES
    with tempfile.TemporaryDirectory() as tmp:
        spoken = [speak(s, Path(tmp), i) for i, s in enumerate(sentences)]
    inputs = {
        "16k-slin": [wideband(x, r) for x, r in spoken],
        "8k-slin": [telephone(x, r, ulaw=False) for x, r in spoken],
        "8k-ulaw": [telephone(x, r) for x, r in spoken],
    }
    if args.quick:
        del inputs["8k-slin"]
    configs = [(m, label, p, w) for m in args.models.split(",") for label in inputs
               for p in ((False, True) if label == "8k-ulaw" else (False,))
               for w in args.windows.split(",")]
    rows, details = [], []
    for model, label, prompt, window in configs:
        row, hyps = run_config(model, label, inputs[label], sentences, prompt, args.beam_size,
                               window)
        rows.append(row)
        details.append({"config": asdict(row), "hypotheses": hyps})
        if args.verbose:
            for ref, hyp in zip(sentences, hyps, strict=True):
                print(f"  {ref!r:60} -> {hyp!r}")
    print(f"{'model':8} {'input':9} {'prompt':6} {'window':9} {'n':>3} {'WER':>6} {'exact':>5} "
          f"{'RTF':>6} {'ms/utt':>7} {'load s':>6}")
    for r in rows:
        print(f"{r.model:8} {r.input:9} {str(r.prompt):6} {r.window:9} {r.sentences:3d} "
              f"{r.wer:6.3f} {r.exact:5d} {r.rtf:6.3f} {r.ms_per_utterance:7.1f} {r.load_s:6.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "benchmark": "asr", "quick": args.quick, "beam_size": args.beam_size,
            "machine": platform.machine(),
            "sentences": list(sentences), "results": details,
            "event_loop_lag": None,  # synchronous: no event loop to lag (every bench says so)
        }, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
