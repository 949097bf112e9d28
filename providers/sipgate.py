"""The Sipgate provider's module; not implemented, so nothing is registered under its name."""
