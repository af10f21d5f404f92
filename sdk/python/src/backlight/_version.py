"""The distribution's version, stamped on the resource as ``telemetry.sdk.version``."""

__version__ = "0.1.0"
