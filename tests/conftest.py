import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import engine, pg_engine  # noqa: F401 (fixtures: a fresh store of each engine)
