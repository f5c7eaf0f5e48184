"""Speech recognition for live call audio (faster-whisper on the CPU, in worker processes).

Public API: :class:`RecogniserPool` / :class:`PoolConfig` / :class:`RecognitionConfig`,
:class:`RecogniserStream`, the events :class:`TranscriptSegment` and :class:`AudioGap`, and
:func:`resolve_model`. See ``MODELS.md`` for choosing a model.
"""

from ari_app.speech.errors import (
    AudioFormatError,
    ModelNotFoundError,
    RecogniserUnavailableError,
    SpeechError,
    WorkerProtocolError,
)
from ari_app.speech.models import KNOWN_MODELS, ResolvedModel, resolve_model
from ari_app.speech.pool import PoolConfig, PoolHealth, RecogniserPool
from ari_app.speech.stream import RecogniserStream
from ari_app.speech.transcriber import RecognitionConfig
from ari_app.speech.types import AudioGap, GapReason, StreamEvent, TranscriptSegment
from ari_app.speech.vad import VadConfig

__all__ = [
    "KNOWN_MODELS", "AudioFormatError", "AudioGap", "GapReason", "ModelNotFoundError",
    "PoolConfig", "PoolHealth", "RecognitionConfig", "RecogniserPool", "RecogniserStream",
    "RecogniserUnavailableError", "ResolvedModel", "SpeechError", "StreamEvent",
    "TranscriptSegment", "VadConfig", "WorkerProtocolError", "resolve_model",
]
