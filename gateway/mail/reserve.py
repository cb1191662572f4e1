"""The disk reserve: is there still `gateway.disk_reserve_mb` free where the gateway records what it
relays (`state_dir`, with the decision journals, and the SQLite file's directory)? Below it, mail gets
451 before anything is relayed, rather than being relayed with nowhere to record it."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence


class DiskReserve:
    """Looked at once a second, not per message."""

    def __init__(self, directories: Sequence[str], reserve_mb: int) -> None:
        self.directories = [d for d in dict.fromkeys(directories) if d]
        self.reserve = reserve_mb * 1024 * 1024
        self._checked = 0.0
        self._low: str | None = None

    def low(self) -> str | None:
        """None when there is room; else which directory is short, and by how much."""
        if not self.reserve:
            return None
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked, self._low = now, self._look()
        return self._low

    def _look(self) -> str | None:
        for directory in self.directories:
            try:
                free = os.statvfs(directory)
            except OSError:
                continue  # not made yet: the write itself will tell
            available = free.f_bavail * free.f_frsize
            if available < self.reserve:
                mb = 1024 * 1024
                return f"{available // mb} MB free in {directory}, under the {self.reserve // mb} MB reserve"
        return None
