"""The held-out corpus (tests/heldout/, written from the law by someone who did not read the rules'
code): every case through the real `gateway check`, as an outside checker runs it."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO


def test_every_heldout_case_gets_its_label():
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "heldout" / "run.py")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    failing = [line for line in done.stdout.splitlines() if "FAIL" in line or "ERROR" in line]
    assert done.returncode == 0, "\n".join(failing) or done.stdout[-3000:] + done.stderr[-3000:]
