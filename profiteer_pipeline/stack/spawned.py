"""A service that is a long-running process of ours: spawned in its own session, recorded by PID
under `run/`, logging to `logs/NAME.log`, ready once its health URL answers, stopped by PID.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.stack.context import REPO_ROOT, Context
from profiteer_pipeline.stack.errors import ServiceError, StackError
from profiteer_pipeline.stack.processes import ProcessRecord, cause, http_ok, pid_alive, tail
from profiteer_pipeline.stack.service import Service, exit_text

Command = Callable[[Context, int], tuple[list[str], dict[str, str]]]


@dataclass(frozen=True)
class ProcessSpec:
    """What differs between the stack's programs; everything else is SpawnedProcess's."""

    name: str
    label: str
    url_label: str
    health_path: str
    start_timeout: float
    command: Command | None  # (argv, environment) for a port; None: only known by its pid file
    needs: tuple[str, ...] = ()  # repository files it cannot start without
    check_install: Callable[[], object] | None = None  # raises StackError with the fix
    url_variable: str | None = None  # when set, the URL clients use instead of the loopback one
    cwd: Callable[[Context], Path] | None = None  # its working folder; default: the clone

    @classmethod
    def recorded(cls, name: str) -> ProcessSpec:
        """A process known only by its pid file (a service this version no longer runs)."""
        return cls(name, name, name, "/", 0, None)


class SpawnedProcess(Service):
    def __init__(self, ctx: Context, spec: ProcessSpec, stage: int = 1):
        self.ctx, self.spec, self.stage = ctx, spec, stage
        self.name, self.label, self.url_label = spec.name, spec.label, spec.url_label
        self.url_key = f"{spec.name}_url"
        self.port_var = f"PROFITEER_{spec.name.upper()}_PORT"
        self.record: ProcessRecord | None = None  # set by start()
        self.started_at = 0.0

    @property
    def table(self):
        return self.ctx.table

    def configured_port(self) -> int:
        return settings_mod.port(self.name)

    def port(self) -> int:
        """The running process's port, else the configured one."""
        rec = self.table.get(self.name)
        if rec is not None and rec.port and self.table.alive(rec):
            return rec.port
        return self.configured_port()

    # --- before starting -------------------------------------------------------------------

    def claims(self) -> list[tuple[int, str]]:
        return [(self.configured_port(), self.port_var)] if self.pid() is None else []

    def problems(self) -> list[str]:
        if self.pid() is not None:
            return []
        found = []
        if self.spec.check_install is not None:
            try:
                self.spec.check_install()
            except StackError as exc:  # its message carries the fix
                found.append(str(exc))
        for rel in self.spec.needs:
            if not (REPO_ROOT / rel).exists():
                found.append(f"{rel} is missing from {REPO_ROOT}: run `profiteer` from a clone")
        return found

    def notes(self) -> list[str]:
        found = []
        rec = self.table.stale(self.name)
        if rec is not None:
            found.append(
                f"  {self.name}: stale pid file (pid {rec.pid} is gone: it crashed or was killed); "
                f"removed. Its last log lines ({rec.log}):\n{tail(rec.log, 5)}"
            )
            self.table.forget(self.name)
        if self.name in settings_mod.MODE_VARIABLES and self.ctx.embedded(self.name):
            mode_var, url_var = settings_mod.MODE_VARIABLES[self.name]
            given = os.environ.get(url_var, "")
            if given and given.rstrip("/") != self.url():
                found.append(f"  note: {mode_var}=embedded, so {url_var}={given} is not used")
        return found

    # --- starting ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        rec = self.table.get(self.name)
        return rec.pid if rec is not None and self.table.alive(rec) else None

    def start(self) -> bool:
        if self.pid() is not None or self.spec.command is None:
            return False
        port = self.configured_port()
        cmd, env = self.spec.command(self.ctx, port)
        self.started_at = time.monotonic()
        cwd = self.spec.cwd(self.ctx) if self.spec.cwd is not None else REPO_ROOT
        self.record = self.table.spawn(self.name, cmd, env, cwd=cwd, port=port)
        return True

    def poll_start(self) -> bool:
        rec, spec = self.record, self.spec
        assert rec is not None, "poll_start() before start()"
        if http_ok(f"http://127.0.0.1:{rec.port}{spec.health_path}", timeout=1):
            return True
        if not pid_alive(rec.pid):
            raise ServiceError(
                f"{spec.label} exited during start-up{exit_text(self.exit_code())}{cause(rec.log)}."
                f"\n  log: {rec.log}\n{tail(rec.log)}"
            )
        if time.monotonic() - self.started_at > spec.start_timeout:
            raise ServiceError(
                f"{spec.label} did not answer {spec.health_path} within "
                f"{spec.start_timeout:.0f}s{cause(rec.log)}.\n  log: {rec.log}\n{tail(rec.log)}"
            )
        return False

    # --- reporting ---------------------------------------------------------------------------

    def where(self) -> str:
        return f"127.0.0.1:{self.port()}"

    def url(self) -> str:
        if self.spec.url_variable and os.environ.get(self.spec.url_variable):
            return os.environ[self.spec.url_variable]
        return f"http://127.0.0.1:{self.port()}"

    def answers(self) -> bool:
        return http_ok(self.url().rstrip("/") + self.spec.health_path)

    def entry(self) -> dict:
        rec = self.table.get(self.name)
        alive = rec is not None and self.table.alive(rec)
        return {
            "state": "running" if alive else ("crashed" if rec else "stopped"),
            "pid": rec.pid if rec else None,
            "port": self.port(),
            "url": self.url(),
            "ready": alive and self.answers(),
            "log": self.log(),
        }

    def log(self) -> str:
        return str(self.table.log_dir / f"{self.name}.log")

    def exit_code(self) -> int | None:
        return self.table.returncode(self.name)

    # --- stopping ----------------------------------------------------------------------------

    def stop(self) -> tuple[str, str]:
        """SIGINT to its process group, then SIGTERM, then SIGKILL (ProcessTable.stop)."""
        rec = self.table.get(self.name)
        ran = self.table.stop(self.name)
        return ("stopped" if ran else "gone"), (f"pid {rec.pid}" if rec else "")
