"""Errors raised by the predictive package.

Hierarchy::

    PredictiveError            base of everything raised here
    ├── ScenarioError          a scenario file is missing a key or has a bad value
    ├── PolicyError            a pacing policy returned an impossible decision
    └── ModelError             a model could not be trained, loaded or applied
"""


class PredictiveError(Exception):
    """Base class of the errors raised by ``predictive``."""


class ScenarioError(PredictiveError):
    """A scenario definition is invalid."""


class PolicyError(PredictiveError):
    """A policy returned a decision the simulator cannot carry out."""


class ModelError(PredictiveError):
    """A model could not be trained, loaded or applied."""
