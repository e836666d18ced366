"""Start and stop the stack's long-running processes, each by its own PID.

Each service runs in a new session (its own process group) through `python -m
profiteer_pipeline.stack.exec_default_signals`, which restores the default SIGINT handler before
exec: a process started in the background from a script otherwise inherits SIGINT as ignored,
and `dagster dev` and MindsDB then never stop. Stopping signals that group only, never by name,
then ends by PID any descendant that left the group (snapshotted before the first signal).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from profiteer_pipeline.stack.errors import ServiceError

# What every process of the stack takes from the environment of the `profiteer` command: where it
# runs and how it talks (paths, locale, CA bundles), never a password or key. Each service then
# gets its own settings on top (Context.service_environment).
BASE_VARIABLES = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
    "TZ", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)  # fmt: skip


def base_environment(*extra: str) -> dict[str, str]:
    """BASE_VARIABLES and the `extra` names, those of them that this process has."""
    return {k: os.environ[k] for k in (*BASE_VARIABLES, *extra) if k in os.environ}


@dataclass
class ProcessRecord:
    name: str
    pid: int
    cmd: list[str]
    log: str
    started: float
    port: int | None = None


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
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ProcessTable:
    """Pid files under `run_dir`, one JSON record per service."""

    def __init__(self, run_dir: Path, log_dir: Path):
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}  # children spawned by this process

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def names(self) -> list[str]:
        """Every service with a pid file, live or not."""
        return sorted(p.stem for p in self.run_dir.glob("*.json")) if self.run_dir.exists() else []

    def get(self, name: str) -> ProcessRecord | None:
        try:
            return ProcessRecord(**json.loads(self._pidfile(name).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def alive(self, rec: ProcessRecord) -> bool:
        """The recorded process still runs (and is still ours: PIDs get reused)."""
        return pid_alive(rec.pid) and _cmdline_matches(rec)

    def running(self, name: str) -> ProcessRecord | None:
        """The live record, or None. A pid file whose process is gone is stale and removed."""
        rec = self.get(name)
        if rec is None:
            return None
        if self.alive(rec):
            return rec
        self.forget(name)
        return None

    def stale(self, name: str) -> ProcessRecord | None:
        """The record if its process is gone (a crash, a kill, a reboot), without removing it."""
        rec = self.get(name)
        return rec if rec is not None and not self.alive(rec) else None

    def forget(self, name: str) -> None:
        self._pidfile(name).unlink(missing_ok=True)
        self.procs.pop(name, None)

    def returncode(self, name: str) -> int | None:
        """The exit status of a child this process spawned, once it has ended."""
        proc = self.procs.get(name)
        return proc.poll() if proc is not None else None

    def spawn(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        cwd: Path | None = None,
        port: int | None = None,
    ) -> ProcessRecord:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        full = [sys.executable, "-m", "profiteer_pipeline.stack.exec_default_signals", *cmd]
        with open(log, "ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        self.procs[name] = proc
        rec = ProcessRecord(name, proc.pid, cmd, str(log), time.time(), port)
        self._pidfile(name).write_text(json.dumps(asdict(rec)))
        return rec

    def stop(self, name: str, sig: int = signal.SIGINT, timeout: float = 20) -> bool:
        """Signal the service's process group: `sig`, then SIGTERM, then SIGKILL. True if it ran.

        Descendants that left the group (their own session) are snapshotted first and ended by PID.
        """
        rec = self.running(name)
        if rec is None:
            self.forget(name)
            return False
        tree = process_tree(rec.pid)
        for s, wait in ((sig, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(rec.pid, s)
            except ProcessLookupError:
                break
            if _wait_group_gone(rec.pid, wait):
                break
        end_leftovers(tree)
        self.forget(name)
        return True


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name: [state, ppid, pgrp, session, ...]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(root: int) -> dict[int, str]:
    """PID -> start time of `root`, its descendants and its session's members."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            stats[int(entry.name)] = fields
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found = {pid for pid, f in stats.items() if int(f[3]) == root or int(f[2]) == root}
    todo = [root, *found]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {pid: stats[pid][19] for pid in found if pid in stats}


def end_leftovers(
    tree: dict[int, str],
    wait: float = 5,
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGKILL),
) -> list[int]:
    """SIGTERM then SIGKILL each snapshotted process still alive (same PID and start time)."""

    def alive() -> list[int]:
        return [p for p, t in tree.items() if (f := _stat(p)) and f[19] == t and f[0] != "Z"]

    left = alive()
    for sig in signals:
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while (still := alive()) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not still:
            break
    return left


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
        fields = _stat(int(entry.name))
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
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
            raise ServiceError(
                f"{name} exited during start-up{cause(log)}.\n  log: {log}\n{tail(log)}"
            )
        if time.monotonic() - start > timeout:
            raise ServiceError(
                f"{name} did not answer within {timeout:.0f}s{cause(log)}.\n  log: {log}\n{tail(log)}"
            )
        time.sleep(0.3)
    return time.monotonic() - start


def tail(path: str, lines: int = 12) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


_CAUSE_MARKERS = ("Error", "Exception", "error:", "FATAL", "Traceback", "Address already in use")


def cause(path: str, lines: int = 60) -> str:
    """': <the last line of the log tail that looks like the reason>', or ''."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    for line in reversed(text):
        if any(m in line for m in _CAUSE_MARKERS) and not line.startswith("Traceback"):
            return ": " + line.strip()[:300]
    return ""
