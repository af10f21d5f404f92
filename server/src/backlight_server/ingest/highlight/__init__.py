"""Compatibility with highlight.run's public GraphQL API, served at ``/public``."""
