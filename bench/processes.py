"""What the benches share: free loopback ports, waiting for a listener, a process tree's CPU time."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice in this process (the kernel may hand
    a just-closed port out again, and two listeners of one test would then collide)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listening on {port}")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User and system CPU seconds used so far by each of these processes that is still running."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds used so far by these processes."""
    return sum(cpu_by_pid(pids).values())


def family(pid: int) -> list[int]:
    """The process and its children (the gateway's workers)."""
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return [pid]
    return [pid, *(int(x) for x in out.split())]
