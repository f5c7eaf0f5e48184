"""CRM use cases. Each public method is one transaction; errors come from :mod:`crm.errors`."""
