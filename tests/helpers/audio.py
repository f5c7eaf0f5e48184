"""Audio for tests: small WAV files."""

from __future__ import annotations

import io
import wave


def wav(seconds: float = 0.5, level: int = 1200) -> bytes:
    """A mono 8 kHz 16-bit WAV of ``seconds`` at a constant ``level``."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(level.to_bytes(2, "little", signed=True) * int(8000 * seconds))
    return buf.getvalue()
