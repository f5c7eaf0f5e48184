"""Shared unit-test fixtures. The CRM's (all named ``crm_*``) live in :mod:`crm.testing`."""

from crm.testing import (  # noqa: F401
    crm_actors,
    crm_client,
    crm_clock,
    crm_database_url,
    crm_service,
    crm_settings,
)
