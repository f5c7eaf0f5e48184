"""ari_app package."""
