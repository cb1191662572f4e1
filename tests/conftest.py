import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import engine, pg_engine  # noqa: F401 (fixtures: a fresh store of each engine)


def pytest_collection_modifyitems(config, items):
    """With GATEWAY_NO_EXTENSIONS set the C extensions are not loaded: the tests that compare them with
    their references have nothing to compare, and are deselected (not skipped)."""
    if not os.environ.get("GATEWAY_NO_EXTENSIONS"):
        return
    kept = [item for item in items if item.get_closest_marker("c_extension") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
