"""Alerts: rules evaluated on committed data, delivered through a durable outbox."""
