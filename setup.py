"""The one compiled part: gateway/content/_scan.c, the renderer's hot scans (pyproject.toml holds the rest).

Optional: where it cannot be built (no C compiler or no Python headers), the install goes on and
gateway/content/html.py uses the regular expressions the C code reproduces.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("gateway.content._scan", ["gateway/content/_scan.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
