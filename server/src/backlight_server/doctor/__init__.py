"""``backlight doctor``: the linkage troubleshooting checklist as a command."""
