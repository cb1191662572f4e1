"""Coverage-guided fuzzing (atheris, libFuzzer) of a message's way through the gateway: parsing, the
rules, the header rewrite and DATA framing (the target and what must hold: tests/fuzz_targets.py; the
test suite runs the same target under hypothesis, bounded).

    .venv/bin/pip install atheris
    .venv/bin/python scripts/fuzz.py [-max_total_time=600] [-runs=N] [CORPUS_DIR ...]

Any libFuzzer flag passes through. It starts from the messages in tests/corpus/ and config/samples/
unless corpus directories are given; a failure stops the run and leaves the input as crash-<hash>.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

try:
    import atheris
except ImportError:
    sys.exit("scripts/fuzz.py needs atheris: .venv/bin/pip install atheris")

with atheris.instrument_imports(include=["gateway"]):
    from fuzz_targets import through_the_gateway


def seeds() -> str:
    """A directory of starting inputs: every message file the repository has."""
    directory = Path(tempfile.mkdtemp(prefix="fuzz-seeds-"))
    for n, path in enumerate(
        sorted([*REPO.glob("tests/corpus/**/*.eml"), *REPO.glob("config/samples/*.eml")])
    ):
        (directory / f"{n:04d}.eml").write_bytes(path.read_bytes())
    return str(directory)


def main() -> None:
    args = sys.argv[:]
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(seeds())
    if not any(a.startswith(("-max_total_time", "-runs")) for a in args[1:]):
        args.append("-max_total_time=60")
    atheris.Setup(args, through_the_gateway)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
