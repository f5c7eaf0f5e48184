"""SQL adapter: SQLModel tables, engine/session helpers and repositories."""
