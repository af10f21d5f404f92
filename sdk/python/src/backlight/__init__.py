"""Backlight Python SDK."""
