"""The demo's backend services; each runs as its own process."""
