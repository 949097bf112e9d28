"""smsgw: an async SMS gateway service with a privacyIDEA-compatible admin API."""

__version__ = "0.1.0"
