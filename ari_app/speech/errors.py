"""Errors raised by the speech package.

Hierarchy::

    SpeechError                      base of everything raised here
    ├── ModelNotFoundError           a configured model name/directory cannot be resolved
    ├── AudioFormatError             unsupported encoding / sample rate, or malformed PCM
    ├── RecogniserUnavailableError   the pool is not started, stopped, or a stream is closed
    └── WorkerProtocolError          a malformed message crossed the worker pipe
"""

from __future__ import annotations


class SpeechError(Exception):
    """Base class of the speech package's errors."""


class ModelNotFoundError(SpeechError):
    """The configured ASR model cannot be found or assembled."""


class AudioFormatError(SpeechError):
    """Audio in an encoding or sample rate we cannot handle, or truncated samples."""


class RecogniserUnavailableError(SpeechError):
    """The recogniser pool is not running, or the stream is already closed."""


class WorkerProtocolError(SpeechError):
    """A message on the worker pipe could not be decoded."""
