"""Pure audio helpers: G.711 decoding/encoding, PCM conversion and streaming resampling.

Telephone audio arrives as 8 kHz µ-law/A-law/slin or 16 kHz slin16; the recogniser wants
16 kHz float32 in [-1, 1]. Resampling is a proper polyphase FIR (the Kaiser-windowed design
``scipy.signal.resample_poly`` uses) run with carried state, so feeding 20 ms frames gives
exactly the output of resampling the whole signal at once — no per-frame edge artefacts and
no sample repetition (which would mirror 0–4 kHz speech into 4–8 kHz as images).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from math import gcd

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from ari_app.speech.errors import AudioFormatError

TARGET_RATE = 16_000
FloatArray = NDArray[np.float32]


class Encoding(enum.StrEnum):
    """Sample encodings Asterisk can deliver (``slin`` is signed 16-bit little-endian)."""

    SLIN = "slin"
    SLIN_BE = "slin_be"
    ULAW = "ulaw"
    ALAW = "alaw"


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.encoding in (Encoding.ULAW, Encoding.ALAW) else 2

    def seconds(self, n_bytes: int) -> float:
        return n_bytes / self.bytes_per_sample / self.sample_rate


def audio_format(encoding: str, sample_rate: int) -> AudioFormat:
    """Validate and build an :class:`AudioFormat` (``slin16`` is accepted as slin at 16 kHz)."""
    if encoding == "slin16":
        encoding, sample_rate = "slin", 16_000 if sample_rate in (0, 16_000) else sample_rate
    try:
        enc = Encoding(encoding)
    except ValueError:
        raise AudioFormatError(
            f"unsupported encoding {encoding!r}; expected one of {[e.value for e in Encoding]}"
        ) from None
    if not 4_000 <= sample_rate <= 192_000:
        raise AudioFormatError(f"unsupported sample rate {sample_rate}")
    return AudioFormat(enc, sample_rate)


def _ulaw_table() -> NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> NDArray[np.int16]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ULAW = _ulaw_table()
_ALAW = _alaw_table()


def decode_pcm16(data: bytes, fmt: AudioFormat) -> NDArray[np.int16]:
    """Decode raw bytes in ``fmt`` to int16 samples."""
    if fmt.encoding is Encoding.ULAW:
        return _ULAW[np.frombuffer(data, dtype=np.uint8)]
    if fmt.encoding is Encoding.ALAW:
        return _ALAW[np.frombuffer(data, dtype=np.uint8)]
    if len(data) % 2:
        raise AudioFormatError(f"odd byte count {len(data)} for 16-bit {fmt.encoding} audio")
    dtype = "<i2" if fmt.encoding is Encoding.SLIN else ">i2"
    return np.frombuffer(data, dtype=dtype).astype(np.int16)


def to_float(samples: NDArray[np.int16]) -> FloatArray:
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


def encode_ulaw(samples: NDArray[np.int16]) -> bytes:
    """G.711 µ-law encoder (used to simulate the telephone leg in tests and benchmarks)."""
    v = samples.astype(np.int32) >> 2  # 14-bit, as in the reference g711.c
    mask = np.where(v < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), 8159) + 0x21
    seg = np.clip(np.floor(np.log2(v)).astype(np.int32) - 5, 0, 7)
    code = ((seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask
    return code.astype(np.uint8).tobytes()


class StreamingResampler:
    """Polyphase FIR resampler from ``rate_in`` to ``rate_out`` that keeps state across chunks.

    Output ``n`` is the filtered, zero-stuffed input at upsampled index ``n * down``; only those
    outputs are computed (one polyphase branch each), so 22.05 kHz → 16 kHz costs no more than
    ``taps / up`` multiply-adds per output sample.
    """

    def __init__(self, rate_in: int, rate_out: int = TARGET_RATE) -> None:
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self._identity = self.up == self.down == 1
        self.delay_s = 0.0
        if self._identity:
            return
        max_rate = max(self.up, self.down)
        half_len = 10 * max_rate
        taps = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        self._k = -(-len(taps) // self.up)  # taps per branch
        padded = np.zeros(self._k * self.up)
        padded[: len(taps)] = taps
        self._branches = padded.reshape(self._k, self.up).T.copy()  # [phase][i] = h[phase + i*up]
        self._history = np.zeros(self._k - 1, dtype=np.float64)
        self._consumed = 0  # input samples seen before this chunk
        self._next_out = 0
        self.delay_s = half_len / (rate_in * self.up)

    def process(self, x: FloatArray) -> FloatArray:
        if self._identity:
            return x
        buf = np.concatenate([self._history, x.astype(np.float64)])
        base = self._consumed - len(self._history)  # global input index of buf[0]
        self._consumed += len(x)
        end = -(-self._consumed * self.up // self.down)
        ns = np.arange(self._next_out, end)
        self._next_out = max(self._next_out, end)
        if len(ns):
            ks = ns * self.down
            idx = (ks // self.up)[:, None] - np.arange(self._k)[None, :] - base
            y = (self._branches[ks % self.up] * buf[idx]).sum(axis=1)
        else:
            y = np.zeros(0)
        self._history = buf[len(buf) - (self._k - 1) :]
        return y.astype(np.float32)


def resample(x: FloatArray, rate_in: int, rate_out: int = TARGET_RATE) -> FloatArray:
    """One-shot resampling of a whole signal (zero-phase, for offline use)."""
    if rate_in == rate_out:
        return x.astype(np.float32)
    g = gcd(rate_in, rate_out)
    return signal.resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)
