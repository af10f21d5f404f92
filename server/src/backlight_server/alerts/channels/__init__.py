"""Channels: each renders an ``Alert`` into its service's documented payload and sends it."""
