"""crm package."""
