"""The build steps of backlight-server beyond pyproject.toml (``build_hooks.py``): the web
UI and the browser SDK, built by npm and packaged inside ``backlight_server``."""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_hooks import cmdclass

setup(cmdclass=cmdclass)
