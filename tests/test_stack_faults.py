"""The stack manager without MindsDB: how `profiteer up/down/status` fail (a clear message with the
fix, a non-zero exit, no traceback, nothing left running), how the embedded/external mode is
chosen, and each service kind started, checked and stopped on its own. Each CLI test drives the
real CLI in its own state folder on free ports; the kinds run real processes and servers.

These need no MindsDB server: they fail before it would start, or inject a broken MindsDB install
(an interpreter that exits at once) to see how a service that crashes during start-up is reported.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

import psycopg2
import pytest
from stack_helpers import (
    assert_nothing_left,
    exported,
    free_ports,
    port_of,
    profiteer,
    stack_env,
    status,
)

from profiteer_pipeline.settings import PgUrl, Settings
from profiteer_pipeline.stack.context import Context
from profiteer_pipeline.stack.embedded_pg import EmbeddedPostgresService
from profiteer_pipeline.stack.errors import ServiceError, StackError
from profiteer_pipeline.stack.lineup import lineup
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, PostgresError
from profiteer_pipeline.stack.processes import ProcessTable, pid_alive, process_tree
from profiteer_pipeline.stack.spawned import ProcessSpec, SpawnedProcess

pytestmark = pytest.mark.timeout(240)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_port_conflict_names_port_service_and_variable(tmp_path):
    state = tmp_path / "state"
    env = stack_env(state)
    taken = port_of(env, "dagster")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        result = profiteer(env, "up", "--detach", "--no-main-job", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"port {taken} is already in use by pid {os.getpid()}" in result.stderr
    assert "Dagster cannot listen there" in result.stderr
    assert (
        "Fix: stop that process, or choose a free port, e.g. `PROFITEER_DAGSTER_PORT="
        in result.stderr
    )
    assert "Traceback" not in out
    assert_nothing_left(state, env)
    assert not (state / "postgres" / "data").exists()  # refused before anything started


def test_interrupted_mindsdb_install_gives_the_fix(tmp_path):
    venv = tmp_path / "mindsdb-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)  # present, but the install never finished
    state = tmp_path / "state"
    env = stack_env(state, PROFITEER_MINDSDB_VENV=str(venv))
    result = profiteer(env, "up", "--detach", "--no-main-job", timeout=120)
    assert result.returncode == 1
    assert f"The MindsDB install at {venv} was interrupted" in result.stderr
    assert f"Fix: `rm -rf {venv} && make mindsdb`" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert_nothing_left(state, env)


def test_service_crashing_during_start_is_named_and_everything_started_is_stopped(tmp_path):
    """A MindsDB install whose interpreter dies at once: the start fails naming MindsDB, its log and
    the cause, and PostgreSQL, the shop API, Dagster and the app (already spawned) are stopped."""
    venv = tmp_path / "broken-mindsdb"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\necho 'starting MindsDB'\n"
        "echo 'ImportError: libtorch_cpu.so: cannot open shared object file' >&2\nexit 3\n"
    )
    python.chmod(0o755)
    (venv / ".profiteer-installed").write_text("test")
    state = tmp_path / "state"
    env = stack_env(state, PROFITEER_MINDSDB_VENV=str(venv))
    result = profiteer(env, "up", "--detach", "--no-main-job", timeout=240)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    log = state / "logs" / "mindsdb.log"
    assert (
        "MindsDB exited during start-up (exit code 3): ImportError: libtorch_cpu.so"
        in result.stderr
    )
    assert f"log: {log}" in result.stderr
    assert "Stopping what this `profiteer up` started." in result.stderr
    assert "  postgres   ready" in result.stdout  # it had started, and was stopped again
    assert "  postgres   stopped" in result.stdout
    assert "Traceback" not in out
    assert_nothing_left(state, env)


def test_stale_pid_file_is_reported_and_cleaned(tmp_path):
    state = tmp_path / "state"
    env = stack_env(state)
    run = state / "run"
    run.mkdir(parents=True)
    pid = dead_pid()
    record = {"name": "dagster", "pid": pid, "cmd": ["dagster", "dev"], "log": "x", "started": 0}
    (run / "dagster.json").write_text(json.dumps(record))

    report = status(env)
    assert report["services"]["dagster"]["state"] == "crashed"
    assert report["services"]["dagster"]["pid"] == pid
    assert report["services"]["app"]["state"] == "stopped"

    result = profiteer(env, "down", timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"dagster    was not running (stale pid file for pid {pid}: removed)" in result.stdout
    assert not (run / "dagster.json").exists()
    assert status(env)["services"]["dagster"]["state"] == "stopped"
    again = profiteer(env, "down", timeout=60)
    assert again.returncode == 0 and "Nothing was running." in again.stdout


def test_second_manager_is_refused_while_one_holds_the_state_folder(tmp_path):
    state = tmp_path / "state"
    env = stack_env(state)
    (state / "run").mkdir(parents=True)
    holder = json.dumps({"pid": os.getpid(), "command": "up"})
    with open(state / "run" / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(holder)
        lock.flush()
        # refused at once, not queued behind the lock: the CLI's timeout catches a wait
        result = profiteer(env, "up", "--detach", "--no-main-job", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"`profiteer up` (pid {os.getpid()}) is already managing the stack" in result.stderr
    assert "Traceback" not in result.stderr
    # refused before it did anything: no stack banner, no service, the holder's lock untouched
    assert "Profiteer stack (state folder" not in result.stdout, result.stdout
    assert (state / "run" / "stack.lock").read_text() == holder
    assert [p.name for p in (state / "run").iterdir()] == ["stack.lock"]
    assert not (state / "logs").exists() or not any((state / "logs").iterdir())
    assert_nothing_left(state, env)


def test_postgres_that_ignores_pg_ctl_is_killed_by_pid(tmp_path):
    """`down` must leave nothing running even when PostgreSQL does not answer pg_ctl (here: frozen
    with SIGSTOP): fast and immediate shutdown time out, then the server's processes are killed."""
    server = EmbeddedPostgres(tmp_path / "pg", free_ports(1)[0], "pw")
    pid = server.start()
    tree = process_tree(pid)
    assert len(tree) > 1  # the postmaster and its workers
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(PostgresError, match=f"PostgreSQL \\(pid {pid}\\) did not stop cleanly"):
            server.stop(timeout=2)
    finally:
        if server.pid() is not None:  # the test failed: do not leave it frozen
            os.kill(pid, signal.SIGKILL)
    assert server.pid() is None
    assert not [p for p in tree if pid_alive(p)]
    assert not (server.data / "postmaster.pid").exists()
    second = server.start()  # and it starts again afterwards
    assert second != pid
    # a postmaster killed outright (a crash): the next start recovers, even while the dead
    # process lingers as a zombie that still "holds" its lock files
    os.kill(second, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while pid_alive(second):
        assert time.monotonic() < deadline, f"postmaster {second} still alive 60 s after SIGKILL"
        time.sleep(0.05)
    third = server.start()
    assert third not in (pid, second)
    server.stop()
    assert server.pid() is None


def test_postgres_stops_cleanly_after_a_parent_folder_was_tightened(tmp_path):
    """pytest resets /tmp/pytest-of-USER to 0700 whenever a session starts; as root, pg_ctl runs as
    the unprivileged server user and could then no longer read postmaster.pid. `stop` restores
    the traversal permission first, so it still stops the server with pg_ctl (no PID kill)."""
    outer = tmp_path / "outer"
    outer.mkdir()
    server = EmbeddedPostgres(outer / "pg", free_ports(1)[0], "pw")
    pid = server.start()
    outer.chmod(0o700)
    server.stop(timeout=10)  # raises PostgresError if it had to kill the server
    assert server.pid() is None and not pid_alive(pid)


# --- the mode: embedded or external, chosen by a variable, never guessed ------------------------


def test_env_exports_keep_the_embedded_servers_embedded(tmp_path):
    """`eval "$(profiteer env)"` exports the embedded server's own URL; with it (and the mode it
    also exports) the stack still runs its own servers. Without the mode the same URL is taken at
    its word: external (the old password comparison called it embedded)."""
    state = tmp_path / "state"
    env = stack_env(state)
    result = profiteer(env, "env", timeout=60)
    assert result.returncode == 0, result.stderr
    exports = exported(result.stdout)
    assert exports["PROFITEER_PG_MODE"] == exports["PROFITEER_MINDSDB_MODE"] == "embedded"
    own = status(env)
    report = status(env | exports)
    assert report["services"]["postgres"]["state"] == "stopped"  # ours (not running), not external
    assert report["services"]["mindsdb"]["state"] == "stopped"
    assert report["database_url"] == own["database_url"]
    assert report["mindsdb_url"] == own["mindsdb_url"]
    modeless = {k: v for k, v in exports.items() if not k.endswith("_MODE")}
    report = status(env | modeless)
    assert report["services"]["postgres"]["state"] == "external"
    assert report["services"]["mindsdb"]["state"] == "external"
    assert_nothing_left(state, env)


def test_explicit_external_mode_uses_the_url(tmp_path, settings):
    """PROFITEER_PG_MODE=external: the server PROFITEER_DATABASE_URL names (the session's), and
    the state folder gets no PostgreSQL of its own."""
    state = tmp_path / "state"
    w = settings.warehouse
    env = stack_env(state, PROFITEER_PG_MODE="external", PROFITEER_DATABASE_URL=w.dsn())
    report = status(env)
    pg = report["services"]["postgres"]
    assert pg["state"] == "external" and pg["pid"] is None
    assert pg["port"] == w.port and pg["ready"] is True
    assert report["database_url"] == w.redacted()
    assert w.password not in json.dumps(report)
    assert not (state / "postgres").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"PROFITEER_PG_MODE": "external"},
            "PROFITEER_PG_MODE=external needs PROFITEER_DATABASE_URL",
        ),
        (
            {"PROFITEER_MINDSDB_MODE": "remote"},
            "PROFITEER_MINDSDB_MODE must be 'embedded' or 'external'",
        ),
    ],
)
def test_a_bad_mode_is_refused_with_its_variable(tmp_path, extra, message):
    state = tmp_path / "state"
    env = stack_env(state, **extra)
    for command in (("status",), ("up", "--detach", "--no-main-job")):
        result = profiteer(env, *command, timeout=60)
        assert result.returncode == 1, result.stdout + result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert_nothing_left(state, env)


# --- each service kind on its own ----------------------------------------------------------------


def toy_context(tmp_path) -> Context:
    state = tmp_path / "toy-state"
    table = ProcessTable(state / "run", state / "logs")
    return Context(Settings(PgUrl("u", "p", "127.0.0.1", 1, "warehouse")), state, table)


def toy_spec(argv: list[str], start_timeout: float = 30) -> ProcessSpec:
    return ProcessSpec(
        "app",
        "toy server",
        "toy",
        "/",
        start_timeout,
        lambda ctx, port: ([*argv, str(port)], dict(os.environ)),
    )


def poll_until_ready(svc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not svc.poll_start():
        assert time.monotonic() < deadline, "never answered"
        time.sleep(0.2)


def test_spawned_process_starts_answers_and_stops_by_pid(tmp_path, monkeypatch):
    port = free_ports(1)[0]
    monkeypatch.setenv("PROFITEER_APP_PORT", str(port))
    ctx = toy_context(tmp_path)
    svc = SpawnedProcess(
        ctx, toy_spec([sys.executable, "-m", "http.server", "--bind", "127.0.0.1"])
    )
    assert svc.claims() == [(port, "PROFITEER_APP_PORT")]
    assert svc.entry()["state"] == "stopped"
    assert svc.start() is True
    try:
        poll_until_ready(svc)
        pid = svc.pid()
        assert pid is not None and pid_alive(pid)
        entry = svc.entry()
        assert entry["state"] == "running" and entry["ready"] is True and entry["pid"] == pid
        assert svc.url() == f"http://127.0.0.1:{port}" and svc.where() == f"127.0.0.1:{port}"
        assert svc.start() is False and svc.pid() == pid  # running already: not started twice
        assert svc.claims() == []
        assert svc.stop() == ("stopped", f"pid {pid}")
        assert not pid_alive(pid) and svc.pid() is None
        assert svc.entry()["state"] == "stopped"
        assert svc.stop() == ("gone", "")
    finally:
        ctx.table.stop("app")


def test_spawned_process_that_never_answers_fails_naming_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFITEER_APP_PORT", str(free_ports(1)[0]))
    ctx = toy_context(tmp_path)
    argv = [sys.executable, "-c", "import time; print('warming up', flush=True); time.sleep(120)"]
    svc = SpawnedProcess(ctx, toy_spec(argv, start_timeout=1))
    assert svc.start() is True
    log = ctx.state / "logs" / "app.log"
    try:
        deadline = time.monotonic() + 20
        while "warming up" not in log.read_text():  # running, and past its 1 s timeout soon
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with pytest.raises(ServiceError) as failed:
            poll_until_ready(svc, timeout=20)
        message = str(failed.value)
        assert "toy server did not answer / within 1s" in message
        assert f"log: {log}" in message and "warming up" in message
        pid = svc.pid()
        assert svc.stop() == ("stopped", f"pid {pid}")  # SIGINT ends it
        assert not pid_alive(pid)
    finally:
        ctx.table.stop("app")


def embedded_env(monkeypatch, state, **extra: str) -> None:
    """This process's environment as `profiteer` would see it for a stack in `state`."""
    for var in ("PROFITEER_DATABASE_URL", "MINDSDB_URL", "PROFITEER_READER_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PROFITEER_STATE_DIR", str(state))
    monkeypatch.setenv("PROFITEER_PG_PORT", str(free_ports(1)[0]))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def test_embedded_postgres_starts_with_its_databases_and_stops(tmp_path, monkeypatch, settings):
    """Start, ready (databases and the read-only role exist), stop; a URL given with
    PROFITEER_PG_MODE=embedded is not used, and says so. Then in external mode the server left
    running shows as embedded_postgres and `down` stops it."""
    state = tmp_path / "state"
    other = settings.warehouse.dsn()  # the session's server: must not be used
    embedded_env(monkeypatch, state, PROFITEER_PG_MODE="embedded", PROFITEER_DATABASE_URL=other)
    ctx = Context.load(echo=print, err=print)
    svc = EmbeddedPostgresService(ctx)
    w = ctx.settings.warehouse
    assert w.port == int(os.environ["PROFITEER_PG_PORT"]) and w != settings.warehouse
    assert any("PROFITEER_DATABASE_URL is not used" in note for note in svc.notes())
    assert svc.claims() == [(w.port, "PROFITEER_PG_PORT")]
    assert svc.start() is True
    try:
        assert svc.poll_start() is True
        pid = svc.pid()
        assert svc.entry()["state"] == "running" and svc.answers()
        for db in ("warehouse", "shop", "dagster"):
            psycopg2.connect(w.with_database(db).dsn()).close()
        reader = psycopg2.connect(ctx.settings.reader.dsn())
        reader.close()
        assert svc.start() is False and svc.pid() == pid  # already running: only checked
        assert svc.stop() == ("stopped", f"pid {pid}")
        assert svc.pid() is None and not pid_alive(pid) and svc.entry()["state"] == "stopped"
        assert svc.stop() is None

        assert svc.start() is True and svc.poll_start()
        pid = svc.pid()
        env = stack_env(state, PROFITEER_PG_MODE="external", PROFITEER_DATABASE_URL=other)
        report = status(env)
        assert report["services"]["postgres"]["state"] == "external"
        assert report["services"]["embedded_postgres"]["pid"] == pid
        down = profiteer(env, "down", timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "  postgres   stopped" in down.stdout
        assert not pid_alive(pid)
    finally:
        svc.server.stop()


def test_external_postgres_is_checked_and_prepared_never_started(tmp_path, monkeypatch, settings):
    """In external mode `up` creates the stack's databases on that server; one that does not
    answer fails with the fix. Nothing is started or stopped."""
    suffix = os.urandom(4).hex()
    embedded_env(
        monkeypatch,
        tmp_path / "state",
        PROFITEER_PG_MODE="external",
        PROFITEER_DATABASE_URL=settings.warehouse.dsn(),
        PROFITEER_SHOP_DB=f"shop_{suffix}",
        PROFITEER_DAGSTER_DB=f"dagster_{suffix}",
        # the session's logins keep their passwords (`up` sets them on the server it prepares)
        PROFITEER_READER_PASSWORD=settings.reader_password,
        PROFITEER_MODEL_PASSWORD=settings.model_password,
    )
    ctx = Context.load(echo=print, err=print)
    pg = lineup(ctx).by_name()["postgres"]
    assert pg.managed is False and pg.pid() is None and pg.claims() == []
    assert pg.start() is False
    conn = psycopg2.connect(settings.warehouse.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%{suffix}",))
        assert {row[0] for row in cur.fetchall()} == {f"shop_{suffix}", f"dagster_{suffix}"}
    conn.close()
    assert pg.entry() == {
        "state": "external",
        "pid": None,
        "port": settings.warehouse.port,
        "url": settings.warehouse.redacted(),
        "ready": True,
    }
    assert pg.stop() is None

    w = settings.warehouse
    closed = PgUrl(w.user, w.password, "127.0.0.1", free_ports(1)[0], "warehouse")
    monkeypatch.setenv("PROFITEER_DATABASE_URL", closed.dsn())
    pg = lineup(Context.load(echo=print, err=print)).by_name()["postgres"]
    with pytest.raises(StackError, match="does not answer.*Fix: check PROFITEER_DATABASE_URL"):
        pg.start()
