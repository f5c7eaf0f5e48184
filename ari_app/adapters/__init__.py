"""Adapters implementing the dialer's ports with other packages (the CRM)."""
