"""The embedded PostgreSQL as a stack service: started with pg_ctl (postgres.py), ready once its
databases exist, found by the PID in postmaster.pid, stopped by pg_ctl (then by PID)."""

from __future__ import annotations

import os

from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack import databases
from profiteer_pipeline.stack.context import Context
from profiteer_pipeline.stack.errors import PostgresError, StackError
from profiteer_pipeline.stack.ports import port_in_use
from profiteer_pipeline.stack.postgres import EmbeddedPostgres
from profiteer_pipeline.stack.service import Service


class EmbeddedPostgresService(Service):
    name = "postgres"
    label = "PostgreSQL"
    url_label = "database"
    url_key = "database_url"

    def __init__(self, ctx: Context, stage: int = 0):
        self.ctx, self.stage = ctx, stage
        self.warehouse = ctx.settings.warehouse
        # in external mode this object only finds and stops a server left from an earlier `up`
        used = ctx.embedded("postgres")
        self.server = EmbeddedPostgres(
            ctx.state / "postgres",
            self.warehouse.port if used else 0,
            self.warehouse.password if used else "",
            env=ctx.service_environment("postgres"),
        )

    def running_port(self) -> int | None:
        """The port the running server listens on (postmaster.pid, line 4)."""
        try:
            return int((self.server.data / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def port(self) -> int:
        return self.running_port() or self.warehouse.port

    # --- before starting -------------------------------------------------------------------

    def claims(self) -> list[tuple[int, str]]:
        return [(self.warehouse.port, "PROFITEER_PG_PORT")] if self.pid() is None else []

    def problems(self) -> list[str]:
        running = self.running_port()
        if self.pid() is None or running == self.warehouse.port:
            return []
        return [
            f"the embedded PostgreSQL runs on port {running}, but the settings say "
            f"{self.warehouse.port}. Fix: `profiteer down`, then `profiteer up`."
        ]

    def notes(self) -> list[str]:
        found = []
        if (self.server.data / "postmaster.pid").exists() and self.pid() is None:
            found.append(
                "  postgres: stale postmaster.pid (the server is gone); it will be cleaned"
            )
        given = os.environ.get("PROFITEER_DATABASE_URL")
        if given and self.ctx.embedded("postgres"):
            try:
                same = PgUrl.parse(given) == self.warehouse
            except ValueError:
                same = False
            if not same:
                found.append(
                    "  note: PROFITEER_PG_MODE=embedded, so PROFITEER_DATABASE_URL is not used "
                    "(set PROFITEER_PG_MODE=external to use that server)"
                )
        return found

    # --- starting ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        return self.server.pid()

    def start(self) -> bool:
        if self.pid() is not None:
            self._prepare()  # running already: its databases may still be missing
            return False
        try:
            self.server.start()
        except PostgresError as exc:
            raise StackError(f"PostgreSQL did not start (log {self.server.log}): {exc}") from None
        return True

    def poll_start(self) -> bool:
        self._prepare()  # pg_ctl -w has waited for the server; this waits for logins too
        return True

    def _prepare(self) -> None:
        databases.prepare(
            self.ctx.settings,
            self.warehouse.with_database("postgres"),
            timeout=30,
            fix="Fix: `profiteer down` and `profiteer up` again; if the password no longer "
            f"matches, remove {self.ctx.state} (this deletes the local data).",
            role_required=True,
            warn=self.ctx.err,
        )

    # --- reporting ---------------------------------------------------------------------------

    def where(self) -> str:
        return f"127.0.0.1:{self.warehouse.port}"

    def url(self) -> str:
        return self.warehouse.redacted()

    def answers(self) -> bool:
        return self.pid() is not None and port_in_use(self.port())

    def entry(self) -> dict:
        pid = self.pid()
        crashed = pid is None and (self.server.data / "postmaster.pid").exists()
        return {
            "state": "running" if pid else ("crashed" if crashed else "stopped"),
            "pid": pid,
            "port": self.port(),
            "ready": bool(pid) and port_in_use(self.port()),
            "log": self.log(),
        }

    def log(self) -> str:
        return str(self.server.log)

    # --- stopping ----------------------------------------------------------------------------

    def stop(self) -> tuple[str, str] | None:
        """pg_ctl fast, then immediate shutdown, then SIGKILL by PID (EmbeddedPostgres.stop)."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            self.server.stop()
        except PostgresError as exc:
            self.ctx.err(f"  {exc}")
        return ("stopped" if self.pid() is None else "STILL UP"), f"pid {pid}"
