"""The optional compiled part of the SDK (everything else is in pyproject.toml).

``backlight.export._speedups`` is built when a C compiler and the Python headers are
there; when the build fails, the install goes on without it and the SDK uses the Python
implementation it mirrors (``backlight.export.scope``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "backlight.export._speedups",
            sources=["src/backlight/export/_speedups.c"],
            optional=True,
        )
    ]
)
