"""The local stack: which services run, in what order, and how each is started, checked and stopped.

Start order: PostgreSQL, then MindsDB is spawned (the slowest, 15-30 s) and the shop API, Dagster
and the app start meanwhile; each is waited for in turn and MindsDB last. Stop order is the reverse,
PostgreSQL last. Every process is recorded by PID under the state folder (`run/`), logs in `logs/`;
a lock file keeps two `profiteer up`/`down` from managing one state folder at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

import profiteer_pipeline
from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.settings import Settings, port, state_dir
from profiteer_pipeline.stack import mindsdb
from profiteer_pipeline.stack.errors import StackError
from profiteer_pipeline.stack.postgres import (
    EmbeddedPostgres,
    PostgresError,
    ensure_databases,
    ensure_reader_role,
    wait_ready,
)
from profiteer_pipeline.stack.processes import (
    ProcessRecord,
    ProcessTable,
    ServiceError,
    cause,
    http_ok,
    pid_alive,
    port_free,
    port_in_use,
    port_owner,
    tail,
)

REPO_ROOT = Path(profiteer_pipeline.__file__).resolve().parent.parent


class Interrupted(Exception):  # noqa: N818 (a signal, not an error)
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class Service:
    name: str
    label: str
    health_path: str
    start_timeout: float

    @property
    def port_var(self) -> str:
        return f"PROFITEER_{self.name.upper()}_PORT"


# spawned processes, in start order (PostgreSQL, started by pg_ctl, comes before them all)
SERVICES = {
    s.name: s
    for s in (
        Service("mindsdb", "MindsDB", "/api/status", 300),
        Service("shop_api", "shop API", "/health", 120),
        Service("dagster", "Dagster", "/server_info", 240),
        Service("app", "Streamlit app", "/_stcore/health", 120),
    )
}
WAIT_ORDER = ("shop_api", "dagster", "app", "mindsdb")  # MindsDB last: it starts meanwhile
ALL = ("postgres", *SERVICES)


def _line(name: str, state: str, where: str = "", seconds: float | None = None) -> str:
    took = f"{seconds:6.1f}s" if seconds is not None else ""
    return f"  {name:<10} {state:<8} {where:<22} {took}".rstrip()


class Stack:
    def __init__(self, echo: Callable[[str], None] = print, err: Callable[[str], None] = print):
        self.echo = echo
        self.err = err
        self.settings: Settings = settings_mod.load()
        self.state = state_dir()
        self.table = ProcessTable(self.state / "run", self.state / "logs")
        self.embedded = self._embedded_postgres()
        w = self.settings.warehouse
        self.pg = EmbeddedPostgres(
            self.state / "postgres",
            w.port if self.embedded else 0,
            w.password if self.embedded else "",
        )
        self.stop_signal: int | None = None
        self.took_over = False  # `down` made a running `up` stop the stack

    # --- configuration -------------------------------------------------------------------

    def _embedded_postgres(self) -> bool:
        """Ours unless PROFITEER_DATABASE_URL names another server.

        `eval "$(profiteer env)"` exports our own embedded URL; that still means the embedded server.
        """
        if self.settings.embedded_postgres:
            return True
        w = self.settings.warehouse
        secrets_file, port_file = self.state / "secrets.json", self.state / "pg_port"
        if not secrets_file.exists():
            return False
        try:
            ours = json.loads(secrets_file.read_text())["pg_password"]
            pg_port = int(os.environ.get("PROFITEER_PG_PORT") or port_file.read_text())
        except (OSError, ValueError, KeyError):
            return False
        return w.host == "127.0.0.1" and w.port == pg_port and w.password == ours

    @property
    def mindsdb_external(self) -> bool:
        return self.settings.mindsdb_url.rstrip("/") != f"http://127.0.0.1:{port('mindsdb')}"

    def managed(self) -> list[str]:
        """The services this stack starts (an external database or MindsDB is only checked)."""
        names = ["postgres"] if self.embedded else []
        return names + [n for n in SERVICES if not (n == "mindsdb" and self.mindsdb_external)]

    def environment(self) -> dict[str, str]:
        """What every process of the stack gets, and what `profiteer env` prints."""
        return settings_mod.environment(self.settings) | {
            "DO_NOT_TRACK": "1",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "AIRBYTE_OFFLINE_MODE": "1",  # PyAirbyte: no connector-registry lookup
            "AIRBYTE_LOGGING_ROOT": str(self.state / "airbyte-logs"),
        }

    def child_environment(self) -> dict[str, str]:
        env = dict(os.environ) | self.environment()
        bindir = str(Path(sys.executable).parent)  # PyAirbyte calls `uv` from PATH
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        return env

    @property
    def dagster_home(self) -> Path:
        return Path(self.environment()["DAGSTER_HOME"])

    def prepare_dagster_home(self) -> Path:
        """$DAGSTER_HOME with the repository's dagster.yaml (refreshed on every start)."""
        home = self.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        return home

    def _command(self, name: str, p: int) -> tuple[list[str], dict[str, str]]:
        env = self.child_environment()
        py = sys.executable
        if name == "mindsdb":
            storage = self.state / "mindsdb"
            env = dict(os.environ) | self.environment() | mindsdb.environment(storage)
            env.pop("VIRTUAL_ENV", None)
            return mindsdb.command(settings_mod.mindsdb_venv(), storage, p), env
        if name == "shop_api":
            app = "profiteer_pipeline.shop.api:app"
            return [py, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(p)], env
        if name == "dagster":
            self.prepare_dagster_home()
            dagster = str(Path(py).parent / "dagster")
            return [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(p)], env
        if name == "app":
            return [
                py, "-m", "streamlit", "run", "profiteer_app/Home.py",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.address", "127.0.0.1", "--server.port", str(p),
            ], env  # fmt: skip
        raise ValueError(name)

    # --- state of each service ----------------------------------------------------------

    def pg_port_running(self) -> int | None:
        """The port the running embedded server listens on (postmaster.pid, line 4)."""
        try:
            return int((self.pg.data / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def running(self) -> dict[str, int]:
        """name -> PID of each managed service that runs now."""
        out = {}
        if (pid := self.pg.pid()) is not None:
            out["postgres"] = pid
        for name in SERVICES:
            rec = self.table.get(name)
            if rec is not None and self.table.alive(rec):
                out[name] = rec.pid
        return out

    def service_port(self, name: str) -> int:
        if name == "postgres":
            return self.pg_port_running() or self.settings.warehouse.port
        rec = self.table.get(name)
        if rec is not None and rec.port and self.table.alive(rec):
            return rec.port
        return port(name)

    def url(self, name: str) -> str:
        if name == "mindsdb" and self.mindsdb_external:
            return self.settings.mindsdb_url
        if name == "shop_api" and os.environ.get("PROFITEER_SHOP_API_URL"):
            return self.settings.shop_api_url
        return f"http://127.0.0.1:{self.service_port(name)}"

    def _ready(self, name: str) -> bool:
        return http_ok(self.url(name).rstrip("/") + SERVICES[name].health_path)

    # --- locking --------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """One `profiteer up` or `down` per state folder. `down` asks a running `up` to stop."""
        run = self.state / "run"
        run.mkdir(parents=True, exist_ok=True)
        fh = open(run / "stack.lock", "a+")
        try:
            if not _try_lock(fh):
                holder = _lock_holder(fh)
                if command != "down" or holder is None:
                    who = (
                        f"`profiteer {holder['command']}` (pid {holder['pid']})"
                        if holder
                        else "another `profiteer`"
                    )
                    raise StackError(
                        f"{who} is already managing the stack in {self.state}. "
                        "See `profiteer status`; `profiteer down` stops it."
                    )
                self.echo(
                    f"  asking the running `profiteer up` (pid {holder['pid']}) to stop the stack"
                )
                self.took_over = True
                os.kill(holder["pid"], signal.SIGTERM)
                deadline = time.monotonic() + 180
                while not _try_lock(fh):
                    if time.monotonic() > deadline:
                        raise StackError(
                            f"`profiteer up` (pid {holder['pid']}) did not stop within 180s"
                        )
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "command": command}))
            fh.flush()
            yield
        finally:
            fh.close()  # releases the lock

    # --- signals ------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM/SIGHUP set a flag; the wait loops see it and stop cleanly."""

        def on_signal(signum, _frame):
            if self.stop_signal is None:
                self.stop_signal = signum

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)

    def check_stop(self) -> None:
        if self.stop_signal is not None:
            raise Interrupted(self.stop_signal)

    # --- up ------------------------------------------------------------------------------

    def up(self, *, detach: bool, main_job: bool) -> int:
        self.install_signal_handlers()
        with self.lock("up"):
            self.echo(f"Profiteer stack (state folder {self.state})")
            self._clean_stale()
            already = self.running()
            todo = [n for n in self.managed() if n not in already]
            if not todo:
                self.echo(
                    "The stack is already running; nothing started (`profiteer down` stops it)."
                )
                self.print_urls()
                return 0
            self._preflight(todo, already)
            started: list[str] = []
            try:
                self._start(todo, started)
            except Interrupted:
                self.echo("Interrupted: stopping what this `profiteer up` started.")
                self.stop(started)
                return 0 if not detach else 128 + (self.stop_signal or signal.SIGINT)
            except BaseException:
                self.err("Stopping what this `profiteer up` started.")
                self.stop(started)
                raise
            self.print_urls()
            try:
                failed = self._run_main_job() if main_job else False
                if detach:
                    return 3 if failed else 0
                self.echo("Profiteer is running. Ctrl-C stops everything.")
                self._watch()
            except Interrupted as exc:
                if detach:
                    self.echo(
                        f"{exc}: stopped waiting; the stack keeps running (`profiteer down` stops it)."
                    )
                    return 0
                self.echo(f"\n{exc} received: stopping the stack.")
                self.stop(self.managed())
                return 0
            return 0

    def _clean_stale(self) -> None:
        for name in self.table.names():
            rec = self.table.stale(name)
            if rec is not None:
                self.echo(
                    f"  {name}: stale pid file (pid {rec.pid} is gone: it crashed or was killed); "
                    f"removed. Its last log lines ({rec.log}):\n{tail(rec.log, 5)}"
                )
                self.table.forget(name)
        if (self.pg.data / "postmaster.pid").exists() and self.pg.pid() is None:
            self.echo("  postgres: stale postmaster.pid (the server is gone); it will be cleaned")

    def _preflight(self, todo: list[str], already: dict[str, int]) -> None:
        """Everything that can be checked before starting anything: ports, installs, files."""
        problems = []
        wanted: dict[int, str] = {}
        for name in todo:
            p = self.settings.warehouse.port if name == "postgres" else port(name)
            var = "PROFITEER_PG_PORT" if name == "postgres" else SERVICES[name].port_var
            label = "PostgreSQL" if name == "postgres" else SERVICES[name].label
            if p in wanted:
                problems.append(
                    f"{label} and {wanted[p]} are both configured for port {p}: set {var}."
                )
                continue
            wanted[p] = label
            if not port_free(p):
                owner = port_owner(p)
                problems.append(
                    f"port {p} is already in use{f' by {owner}' if owner else ''}, so {label} cannot "
                    f"listen there. Fix: stop that process, or choose a free port, e.g. "
                    f"`{var}={_suggest_port(p)} profiteer up`."
                )
        if (
            "postgres" in already
            and (running_port := self.pg_port_running()) != self.settings.warehouse.port
        ):
            problems.append(
                f"the embedded PostgreSQL runs on port {running_port}, but the settings say "
                f"{self.settings.warehouse.port}. Fix: `profiteer down`, then `profiteer up`."
            )
        if "mindsdb" in todo:
            try:
                mindsdb.python_of(settings_mod.mindsdb_venv())
            except mindsdb.MindsDBNotInstalled as exc:  # its message carries the fix
                problems.append(str(exc))
        for rel in ("workspace.yaml", "dagster.yaml", "profiteer_app/Home.py"):
            if not (REPO_ROOT / rel).exists():
                problems.append(f"{rel} is missing from {REPO_ROOT}: run `profiteer` from a clone")
        if problems:
            raise StackError("cannot start the stack:\n  - " + "\n  - ".join(problems))

    def _start(self, todo: list[str], started: list[str]) -> None:
        w = self.settings.warehouse
        if "postgres" in todo:
            t = time.monotonic()
            try:
                self.pg.start()
            except PostgresError as exc:
                raise StackError(f"PostgreSQL did not start (log {self.pg.log}): {exc}") from None
            started.append("postgres")
            self._prepare_databases()
            self.echo(_line("postgres", "ready", f"127.0.0.1:{w.port}", time.monotonic() - t))
        elif self.embedded:
            self.echo(_line("postgres", "running", f"127.0.0.1:{w.port}") + "  (already)")
            self._prepare_databases()
        else:
            t = time.monotonic()
            self._prepare_databases()
            self.echo(_line("postgres", "external", f"{w.host}:{w.port}", time.monotonic() - t))
        self.check_stop()
        if self.mindsdb_external and not http_ok(
            self.settings.mindsdb_url.rstrip("/") + "/api/status", 10
        ):
            raise StackError(
                f"MINDSDB_URL={self.settings.mindsdb_url} does not answer /api/status. "
                "Fix: start that server, or unset MINDSDB_URL to run the embedded one."
            )
        spawned = {}
        for name in SERVICES:  # MindsDB first: it is the slowest
            if name in todo:
                cmd, env = self._command(name, port(name))
                spawned[name] = (
                    self.table.spawn(name, cmd, env, cwd=REPO_ROOT, port=port(name)),
                    time.monotonic(),
                )
                started.append(name)
        self._wait_ready(spawned)

    def _wait_ready(self, spawned: dict[str, tuple[ProcessRecord, float]]) -> None:
        """Poll every spawned service at once; print them in WAIT_ORDER, each with its own time.

        A service that exits or stays silent past its timeout fails the start, naming its log.
        """
        ready_after: dict[str, float] = {}
        pending = [n for n in WAIT_ORDER if n in spawned]
        order = list(WAIT_ORDER)
        while order:
            self.check_stop()
            for name in pending:
                rec, t = spawned[name]
                svc = SERVICES[name]
                if http_ok(f"http://127.0.0.1:{rec.port}{svc.health_path}", timeout=1):
                    ready_after[name] = time.monotonic() - t
                elif not pid_alive(rec.pid):
                    code = self.table.returncode(name)
                    exited = _exit_text(code)
                    raise ServiceError(
                        f"{svc.label} exited during start-up{exited}{cause(rec.log)}.\n"
                        f"  log: {rec.log}\n{tail(rec.log)}"
                    )
                elif time.monotonic() - t > svc.start_timeout:
                    raise ServiceError(
                        f"{svc.label} did not answer {svc.health_path} within "
                        f"{svc.start_timeout:.0f}s{cause(rec.log)}.\n  log: {rec.log}\n{tail(rec.log)}"
                    )
            pending = [n for n in pending if n not in ready_after]
            while order and (order[0] in ready_after or order[0] not in spawned):
                name = order.pop(0)
                if name in ready_after:
                    where = f"127.0.0.1:{spawned[name][0].port}"
                    self.echo(_line(name, "ready", where, ready_after[name]))
                elif name == "mindsdb" and self.mindsdb_external:
                    self.echo(_line(name, "external", self.settings.mindsdb_url))
                else:
                    where = f"127.0.0.1:{self.service_port(name)}"
                    self.echo(_line(name, "running", where) + "  (already)")
            if order:
                time.sleep(0.3)

    def _prepare_databases(self) -> None:
        """The warehouse, shop and Dagster databases and the app's read-only role (idempotent)."""
        s, w = self.settings, self.settings.warehouse
        admin = w.with_database("postgres") if self.embedded else w
        try:
            wait_ready(admin.dsn(), timeout=30 if self.embedded else 10)
        except psycopg2.OperationalError as exc:
            fix = (
                "Fix: `profiteer down` and `profiteer up` again; if the password no longer matches, "
                f"remove {self.state} (this deletes the local data)."
                if self.embedded
                else "Fix: check PROFITEER_DATABASE_URL, or unset it to use the embedded server."
            )
            raise StackError(
                f"PostgreSQL at {w.redacted()} does not answer: {str(exc).strip().splitlines()[0]}. {fix}"
            ) from None
        try:
            ensure_databases(admin.dsn(), [w.database, s.shop_db, s.dagster_db])
        except psycopg2.Error as exc:
            raise StackError(
                f"cannot create the databases {w.database}, {s.shop_db}, {s.dagster_db} on "
                f"{w.redacted()}: {str(exc).strip()}. Fix: create them, or grant CREATEDB."
            ) from None
        try:
            ensure_reader_role(admin.dsn(), s.reader_user, s.reader_password, w.database)
        except psycopg2.Error as exc:
            if self.embedded:
                raise StackError(f"cannot create the read-only role: {exc}") from None
            self.err(
                f"  warning: cannot create the read-only role {s.reader_user} on {w.redacted()}: "
                f"{str(exc).strip()}. The app logs in as it: create it, or set PROFITEER_READER_USER/PASSWORD."
            )

    def _run_main_job(self) -> bool:
        """True when it failed (reported, without a traceback); the stack stays up either way."""
        from profiteer_pipeline.stack.main_job import MainJobError, run_main_job

        self.echo("Main job: the last 48 hourly partitions, then the model")
        t = time.monotonic()
        try:
            run_main_job(self.url("dagster"), self.echo, self.check_stop)
        except MainJobError as exc:
            self.err(f"  main job failed: {exc}")
            return True
        self.echo(f"  main job finished in {time.monotonic() - t:.1f}s")
        return False

    def _watch(self) -> None:
        """Stay in the foreground; report a service that crashes, with its log tail."""
        names = self.managed()
        gone: set[str] = set()
        while True:
            self.check_stop()
            for name in names:
                if name in gone:
                    continue
                if name == "postgres":
                    alive, log, code = self.pg.pid() is not None, str(self.pg.log), None
                else:
                    rec = self.table.get(name)
                    alive = rec is not None and self.table.alive(rec)
                    log, code = (rec.log if rec else ""), self.table.returncode(name)
                if not alive:
                    gone.add(name)
                    exit_code = _exit_text(code)
                    self.err(
                        f"  {name} crashed{exit_code}{cause(log)}.\n  log: {log}\n{tail(log)}\n"
                        "  The other services keep running; Ctrl-C stops everything, "
                        "then `profiteer up` starts it all again."
                    )
            if gone == set(names):
                raise StackError("every service has stopped; see the logs above")
            time.sleep(1)

    # --- down ----------------------------------------------------------------------------

    def down(self) -> int:
        self.install_signal_handlers()  # a Ctrl-C must not leave the stack half stopped
        with self.lock("down"):
            recorded = self.table.names()
            for name in recorded:
                rec = self.table.stale(name)
                if rec is not None:
                    self.echo(
                        f"  {name:<10} was not running (stale pid file for pid {rec.pid}: removed)"
                    )
                    self.table.forget(name)
            names = [n for n in self.table.names() if n not in SERVICES] + [
                n for n in SERVICES if self.table.get(n)
            ]
            if self.pg.pid() is not None:
                names.insert(0, "postgres")
            if not names:
                self.echo("Nothing else was running." if self.took_over else "Nothing was running.")
                return 0
            self.stop(names)
            return 0

    def stop(self, names: list[str]) -> None:
        """Stop in reverse start order, PostgreSQL last; the other services concurrently."""
        order = [n for n in reversed(names) if n != "postgres"]
        if order:
            with ThreadPoolExecutor(len(order)) as pool:
                futures = {n: pool.submit(self._stop_one, n) for n in order}
                for name in order:
                    pid, ok, took = futures[name].result()
                    state = "stopped" if ok else "gone"
                    self.echo(_line(name, state, f"pid {pid}" if pid else "", took))
        if "postgres" in names:
            t, pid = time.monotonic(), self.pg.pid()
            if pid is not None:
                try:
                    self.pg.stop()
                except PostgresError as exc:
                    self.err(f"  {exc}")
                left = self.pg.pid()
                self.echo(
                    _line(
                        "postgres",
                        "stopped" if left is None else "STILL UP",
                        f"pid {pid}",
                        time.monotonic() - t,
                    )
                )

    def _stop_one(self, name: str) -> tuple[int | None, bool, float]:
        t = time.monotonic()
        rec = self.table.get(name)
        ran = self.table.stop(name)
        return (rec.pid if rec else None), ran, time.monotonic() - t

    # --- status and URLs -----------------------------------------------------------------

    def status(self) -> dict:
        services: dict[str, dict] = {}
        w = self.settings.warehouse
        if not self.embedded:
            services["postgres"] = {
                "state": "external",
                "pid": None,
                "port": w.port,
                "url": w.redacted(),
                "ready": port_in_use(w.port, w.host),
            }
        if self.embedded or self.pg.pid() is not None:  # a leftover embedded server shows too
            pid = self.pg.pid()
            crashed = pid is None and (self.pg.data / "postmaster.pid").exists()
            p = self.service_port("postgres")
            services["postgres" if self.embedded else "embedded_postgres"] = {
                "state": "running" if pid else ("crashed" if crashed else "stopped"),
                "pid": pid,
                "port": p,
                "ready": bool(pid) and port_in_use(p),
                "log": str(self.pg.log),
            }
        for name in SERVICES:
            if name == "mindsdb" and self.mindsdb_external:
                services[name] = {
                    "state": "external",
                    "pid": None,
                    "port": None,
                    "url": self.settings.mindsdb_url,
                    "ready": self._ready(name),
                }
                continue
            rec = self.table.get(name)
            alive = rec is not None and self.table.alive(rec)
            state = "running" if alive else ("crashed" if rec else "stopped")
            entry = {
                "state": state,
                "pid": rec.pid if rec else None,
                "port": self.service_port(name),
                "url": self.url(name),
                "ready": alive and self._ready(name),
                "log": str(self.table.log_dir / f"{name}.log"),
            }
            services[name] = entry
        return {
            "state_dir": str(self.state),
            "database_url": w.redacted(),
            "mindsdb_url": self.url("mindsdb"),
            "dagster_url": self.url("dagster"),
            "app_url": self.url("app"),
            "shop_api_url": self.url("shop_api"),
            "dagster_home": str(self.dagster_home),
            "logs": str(self.table.log_dir),
            "services": services,
        }

    def print_urls(self) -> None:
        rows = [
            ("Dagster UI", self.url("dagster")),
            ("app", self.url("app")),
            ("MindsDB", self.url("mindsdb")),
            ("shop API", self.url("shop_api")),
            ("database", self.settings.warehouse.redacted()),
            ("DAGSTER_HOME", str(self.dagster_home)),
            ("logs", str(self.table.log_dir)),
        ]
        self.echo("")
        for label, value in rows:
            self.echo(f"  {label:<13} {value}")
        self.echo("")


def _exit_text(code: int | None) -> str:
    if code is None:
        return ""
    if code < 0:
        return f" (killed by {signal.Signals(-code).name})"
    return f" (exit code {code})"


def _try_lock(fh) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _lock_holder(fh) -> dict | None:
    try:
        fh.seek(0)
        holder = json.loads(fh.read() or "null")
    except (OSError, ValueError):
        return None
    if not holder or not pid_alive(int(holder.get("pid", 0))):
        return None
    return holder


def _suggest_port(taken: int) -> int:
    for candidate in range(taken + 1, taken + 50):
        if port_free(candidate):
            return candidate
    return taken + 1
