"""HTTP adapter: the /api route table, auth, error mapping and the OpenAPI document."""
