"""One manager per state folder: `profiteer up` and `down` hold a lock file while they work.

A second `up` is refused with the holder's PID. `down` instead asks a running `up` to stop (SIGTERM,
which that `up` turns into a clean stop of the stack) and takes the lock once it is released.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from profiteer_pipeline.stack.errors import StackError
from profiteer_pipeline.stack.processes import pid_alive

TAKEOVER_TIMEOUT = 180


@contextmanager
def hold(state: Path, command: str, echo: Callable[[str], None]) -> Iterator[bool]:
    """Hold the state folder's lock; yields True when `down` had to stop a running `up` first."""
    run = state / "run"
    run.mkdir(parents=True, exist_ok=True)
    fh = open(run / "stack.lock", "a+")
    took_over = False
    try:
        if not _try_lock(fh):
            holder = _holder(fh)
            if command != "down" or holder is None:
                who = (
                    f"`profiteer {holder['command']}` (pid {holder['pid']})"
                    if holder
                    else "another `profiteer`"
                )
                raise StackError(
                    f"{who} is already managing the stack in {state}. "
                    "See `profiteer status`; `profiteer down` stops it."
                )
            echo(f"  asking the running `profiteer up` (pid {holder['pid']}) to stop the stack")
            took_over = True
            os.kill(holder["pid"], signal.SIGTERM)
            deadline = time.monotonic() + TAKEOVER_TIMEOUT
            while not _try_lock(fh):
                if time.monotonic() > deadline:
                    raise StackError(
                        f"`profiteer up` (pid {holder['pid']}) did not stop within {TAKEOVER_TIMEOUT}s"
                    )
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "command": command}))
        fh.flush()
        yield took_over
    finally:
        fh.close()  # releases the lock


def _try_lock(fh) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(fh) -> dict | None:
    """The live holder's {"pid", "command"}, or None when it is unknown or gone."""
    try:
        fh.seek(0)
        holder = json.loads(fh.read() or "null")
    except (OSError, ValueError):
        return None
    if not holder or not pid_alive(int(holder.get("pid", 0))):
        return None
    return holder
