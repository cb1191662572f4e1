"""One gateway per state directory, and its worker processes kept serving.

- `hold_state_dir` takes an exclusive lock on `<state_dir>/gateway.lock` for as long as the gateway
  runs (the workers inherit it), and `hold_sqlite_file` one on `<database>.serving`. A second `gateway
  serve` of the same state or the same SQLite file refuses to start: two gateways would share the
  decision journals, settle each other's intents and, with `smtp.workers` > 1, bind the same ports
  through SO_REUSEPORT and both serve.
- `supervise` forks `smtp.workers` processes and, when one dies (a crash, a signal, the kernel's OOM
  killer), settles what it left (`settle`: its journaled decisions into the store, its unfinished relays
  as outcome "unknown") and starts another in its place; the others serve on meanwhile. Workers dying
  faster than RESTARTS_PER_MINUTE stop the gateway: something is wrong that a restart does not mend.
  SIGTERM and SIGINT go to every worker, which drain and stop.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gateway")

RESTARTS_PER_MINUTE = 10
_STOPS = {signal.SIGTERM, signal.SIGINT}


class StateInUse(Exception):
    """Another gateway is serving from this state directory."""


def hold_state_dir(state_dir: str) -> int:
    """The lock's file descriptor, kept open (and so locked) until the process and its workers exit."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return hold(directory / "gateway.lock", f"from state_dir {state_dir}")


def hold_sqlite_file(path: str) -> int:
    """The same for an SQLite database: one gateway writes to it (two would settle each other's intents
    and race for its write lock), whatever their state_dirs."""
    return hold(Path(path + ".serving"), f"with the database {path}")


def hold(path: Path, what: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            os.close(fd)
            raise
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StateInUse(
            f"another gateway (pid {holder}) is already serving {what}: stop it first, "
            "or give this one a state_dir, a database and ports of its own"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _stop_with_parent() -> None:
    """SIGTERM (drain and stop) to this worker when the parent dies, even of SIGKILL: no orphan keeps
    serving, or holding the state directory's lock, with nobody to restart or stop it (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before that took effect
        os.kill(os.getpid(), signal.SIGTERM)


def supervise(workers: int, serve: Callable[[], None], settle: Callable[[int], None]) -> int:
    """Run `serve` in `workers` forked processes until SIGTERM/SIGINT; 0 when they all stopped cleanly."""
    children: set[int] = set()
    stopping = False
    deaths: deque[float] = deque()

    def spawn() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)  # no signal reaches `forward` in a new child
        if stopping:  # asked to stop while starting them: no more
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
            return
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for stop in _STOPS:
                    signal.signal(stop, signal.SIG_DFL)
                _stop_with_parent()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
                serve()
            except BaseException as exc:  # report and leave: the parent starts another
                print(f"gateway: worker {os.getpid()} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        children.add(pid)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)

    def forward(signum, _frame=None) -> None:
        nonlocal stopping
        stopping = True
        for child in list(children):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(workers):
        spawn()
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        exit_code = os.waitstatus_to_exitcode(code)
        if stopping:
            if exit_code not in (0, -signal.SIGTERM, -signal.SIGINT):  # (one still starting just stops)
                status = 1
            continue
        how = f"signal {-exit_code}" if exit_code < 0 else f"exit status {exit_code}"
        print(f"gateway: worker {pid} stopped ({how}); starting another", file=sys.stderr, flush=True)
        try:
            settle(pid)
        except Exception as exc:  # the next start settles it instead
            log.error("what worker %d left could not be settled now: %s", pid, exc)
        now = time.monotonic()
        deaths.append(now)
        while deaths and deaths[0] < now - 60:
            deaths.popleft()
        if stopping:  # asked to stop while settling
            continue
        if len(deaths) > RESTARTS_PER_MINUTE:
            print(
                f"gateway: {len(deaths)} workers stopped within a minute; stopping the gateway",
                file=sys.stderr,
                flush=True,
            )
            status = 1
            forward(signal.SIGTERM)
            continue
        spawn()
    return status
