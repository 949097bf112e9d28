"""Logs, metrics, gateway health: what an operator watches."""
