"""Channels: each renders an ``Alert`` into its service's documented payload and sends it.

``deliver(channel, alert, client)`` (``send.py``) sends one alert through one channel and
answers a ``Delivery``; each service's format is a module of its own (``webhook``, ``slack``,
``discord``, ``teams``, ``pagerduty``, ``email``), on the plain facts of ``fmt.py``.
"""

from backlight_server.alerts.channels.send import TIMEOUT_S, Delivery, deliver

__all__ = ["TIMEOUT_S", "Delivery", "deliver"]
