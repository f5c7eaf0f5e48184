"""The recogniser pool's settings (shared by the pool and its worker handles)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from ari_app.speech.transcriber import RecognitionConfig
from ari_app.speech.vad import VadConfig


@dataclass(frozen=True, slots=True)
class PoolConfig:
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    workers: int = 1
    max_buffer_s: float = 10.0  # audio queued per worker before frames are dropped
    ping_interval_s: float = 1.0
    ping_timeout_s: float = 5.0
    start_timeout_s: float = 120.0
    restart_backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    engine: str = "whisper"  # "fake": no model, for exercising the plumbing
    python: str = sys.executable

    def worker_config(self) -> dict[str, Any]:
        return {"engine": self.engine, "recognition": self.recognition.to_json(),
                "vad": asdict(self.vad)}
