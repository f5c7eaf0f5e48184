"""Errors raised by ``crm.analysis``.

Hierarchy::

    AnalysisError            base of everything raised here
    └── LexiconError         a lexicon document is malformed (names the concept and field)
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of the text-analysis errors."""


class LexiconError(AnalysisError):
    """A lexicon document failed validation."""
