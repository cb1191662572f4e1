"""The compiled parts (pyproject.toml holds the rest): gateway/content/_scan.c, the renderer's hot scans,
and gateway/smtp/_dots.c, the byte scans of SMTP's DATA.

Optional: where they cannot be built (no C compiler or no Python headers), the install goes on and the
gateway uses the regular expressions and bytes methods the C code reproduces (scan.py, dots.py).
"""

from setuptools import Extension, setup

_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(ext_modules=[Extension("gateway.content._scan", ["gateway/content/_scan.c"], optional=True,
                             extra_compile_args=_FLAGS),
                   Extension("gateway.smtp._dots", ["gateway/smtp/_dots.c"], optional=True,
                             extra_compile_args=_FLAGS)])
