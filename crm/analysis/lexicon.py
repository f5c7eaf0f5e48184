"""The keyword lexicon: concepts with zh/en terms, negators, sentiment words, intensifiers.

Loaded from a YAML/JSON document (see ``default_lexicon.yaml`` for the format) and validated;
a bad document raises :class:`LexiconError` naming the concept and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from crm.analysis.errors import LexiconError

LANGUAGES = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    terms: Mapping[str, tuple[str, ...]]
    exclude: Mapping[str, tuple[str, ...]]
    sentiment: float = 0.0
    intent: float = 0.0
    when_negated: str | None = None


@dataclass(frozen=True, slots=True)
class Negators:
    words: tuple[str, ...]
    adjacent: tuple[str, ...]
    window: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    concepts: Mapping[str, Concept]
    negators: Mapping[str, Negators]
    intensifiers: Mapping[str, tuple[str, ...]]
    sentiment_words: Mapping[str, Mapping[str, float]]

    def concept_names(self) -> frozenset[str]:
        return frozenset(self.concepts)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{where}: expected a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _per_language(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LexiconError(f"{where}: expected a mapping of language -> list, got {value!r}")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise LexiconError(f"{where}: unknown language(s) {sorted(unknown)}; use {LANGUAGES}")
    return {lang: _strings(terms, f"{where}.{lang}") for lang, terms in value.items()}


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise LexiconError(f"{where}: expected a number in [{low}, {high}], got {value!r}")
    return float(value)


_CONCEPT_KEYS = {"terms", "exclude", "sentiment", "intent", "when_negated"}


def _concept(name: str, raw: Any) -> Concept:
    where = f"concept {name!r}"
    if not isinstance(raw, dict):
        raise LexiconError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - _CONCEPT_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown field(s) {sorted(unknown)}")
    terms = _per_language(raw.get("terms"), f"{where}.terms")
    if not any(terms.values()):
        raise LexiconError(f"{where}.terms: at least one term is required")
    negated = raw.get("when_negated")
    if negated is not None and not isinstance(negated, str):
        raise LexiconError(f"{where}.when_negated: expected a concept name, got {negated!r}")
    return Concept(
        name=name,
        terms=terms,
        exclude=_per_language(raw.get("exclude"), f"{where}.exclude"),
        sentiment=_number(raw.get("sentiment", 0.0), f"{where}.sentiment", -1.0, 1.0),
        intent=_number(raw.get("intent", 0.0), f"{where}.intent", -5.0, 5.0),
        when_negated=negated,
    )


def _negators(raw: Any) -> dict[str, Negators]:
    if not isinstance(raw, dict):
        raise LexiconError(f"negators: expected a mapping per language, got {raw!r}")
    out = {}
    for lang, spec in raw.items():
        where = f"negators.{lang}"
        if lang not in LANGUAGES or not isinstance(spec, dict):
            raise LexiconError(f"{where}: expected a language in {LANGUAGES} with a mapping")
        window = spec.get("window", 3)
        if not isinstance(window, int) or not 1 <= window <= 10:
            raise LexiconError(f"{where}.window: expected an integer in [1, 10], got {window!r}")
        out[lang] = Negators(
            words=_strings(spec.get("words"), f"{where}.words"),
            adjacent=_strings(spec.get("adjacent"), f"{where}.adjacent"),
            window=window,
        )
    return out


def _sentiment_words(raw: Any) -> dict[str, dict[str, float]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise LexiconError(f"sentiment_words: expected a mapping per language, got {raw!r}")
    out: dict[str, dict[str, float]] = {}
    for lang, words in raw.items():
        if lang not in LANGUAGES or not isinstance(words, dict):
            raise LexiconError(f"sentiment_words.{lang}: expected a mapping word -> polarity")
        out[lang] = {
            str(w): _number(p, f"sentiment_words.{lang}.{w}", -1.0, 1.0) for w, p in words.items()
        }
    return out


def parse_lexicon(doc: Mapping[str, Any]) -> Lexicon:
    """Validate a lexicon document (already parsed from YAML/JSON)."""
    if not isinstance(doc, Mapping):
        raise LexiconError(f"lexicon: expected a mapping at top level, got {type(doc).__name__}")
    raw_concepts = doc.get("concepts")
    if not isinstance(raw_concepts, dict) or not raw_concepts:
        raise LexiconError("lexicon.concepts: expected a non-empty mapping")
    concepts = {str(name): _concept(str(name), raw) for name, raw in raw_concepts.items()}
    for concept in concepts.values():
        if concept.when_negated and concept.when_negated not in concepts:
            raise LexiconError(
                f"concept {concept.name!r}.when_negated: unknown concept {concept.when_negated!r}"
            )
    intensifiers = _per_language(doc.get("intensifiers"), "intensifiers")
    return Lexicon(
        concepts=concepts,
        negators=_negators(doc.get("negators", {})),
        intensifiers=intensifiers,
        sentiment_words=_sentiment_words(doc.get("sentiment_words")),
    )


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Load a lexicon from a YAML or JSON file; the packaged default when ``path`` is None."""
    if path is None:
        text = resources.files("crm.analysis").joinpath("default_lexicon.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LexiconError(f"lexicon {path or 'default'}: not valid YAML/JSON: {exc}") from None
    return parse_lexicon(doc)
