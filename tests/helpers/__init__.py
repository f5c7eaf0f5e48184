"""Shared test fakes, rigs and fixtures (never imported from a ``test_*`` module by another)."""
