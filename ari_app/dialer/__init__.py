"""The dialer: agent sessions, customer legs, campaigns, the outbox (see engine.Dialer)."""
