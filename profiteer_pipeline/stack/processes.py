"""Start and stop the stack's long-running processes, each by its own PID.

Each service runs in a new session (its own process group) through `python -m
profiteer_pipeline.stack.exec_default_signals`, which restores the default SIGINT handler before
exec: a process started in the background from a script otherwise inherits SIGINT as ignored,
and `dagster dev` and MindsDB then never stop. Stopping signals that group only, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A service failed to start or stop; the message names the service, its log and the cause."""


@dataclass
class ProcessRecord:
    name: str
    pid: int
    cmd: list[str]
    log: str
    started: float


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (our own loopback URL)
            return 200 <= resp.status < 500
    except Exception:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


class ProcessTable:
    """Pid files under `run_dir`, one JSON record per service."""

    def __init__(self, run_dir: Path, log_dir: Path):
        self.run_dir = run_dir
        self.log_dir = log_dir

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def get(self, name: str) -> ProcessRecord | None:
        try:
            return ProcessRecord(**json.loads(self._pidfile(name).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def running(self, name: str) -> ProcessRecord | None:
        """The live record, or None. A pid file whose process is gone is stale and removed."""
        rec = self.get(name)
        if rec is None:
            return None
        if pid_alive(rec.pid) and _cmdline_matches(rec):
            return rec
        self._pidfile(name).unlink(missing_ok=True)
        return None

    def spawn(
        self, name: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> ProcessRecord:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        full = [sys.executable, "-m", "profiteer_pipeline.stack.exec_default_signals", *cmd]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        rec = ProcessRecord(name, proc.pid, cmd, str(log), time.time())
        self._pidfile(name).write_text(json.dumps(rec.__dict__))
        return rec

    def stop(self, name: str, sig: int = signal.SIGINT, timeout: float = 20) -> bool:
        """Signal the service's process group: `sig`, then SIGTERM, then SIGKILL. True if it ran."""
        rec = self.running(name)
        if rec is None:
            self._pidfile(name).unlink(missing_ok=True)
            return False
        for s, wait in ((sig, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(rec.pid, s)
            except ProcessLookupError:
                break
            if _wait_group_gone(rec.pid, wait):
                break
        self._pidfile(name).unlink(missing_ok=True)
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # only zombies left? reap our own child if it is one
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.2)
    return not _group_alive(pgid)


def _cmdline_matches(rec: ProcessRecord) -> bool:
    """Guard against PID reuse: the live process must still be our wrapper or what it exec'd."""
    try:
        cmdline = Path(f"/proc/{rec.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    text = b" ".join(cmdline).decode(errors="replace")
    return any(part and part in text for part in rec.cmd[-2:])


def wait_until(
    check: Callable[[], bool], *, timeout: float, name: str, log: str, pid: int | None = None
) -> float:
    """Poll `check` until it passes; fail fast, naming the log, if the process dies first."""
    start = time.monotonic()
    while not check():
        if pid is not None and not pid_alive(pid):
            raise ServiceError(f"{name} exited during start-up; see {log}:\n{tail(log)}")
        if time.monotonic() - start > timeout:
            raise ServiceError(
                f"{name} did not answer within {timeout:.0f}s; see {log}:\n{tail(log)}"
            )
        time.sleep(0.3)
    return time.monotonic() - start


def tail(path: str, lines: int = 12) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])
