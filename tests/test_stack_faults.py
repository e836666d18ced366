"""How `profiteer up/down/status` fail: a clear message with the fix, a non-zero exit, no traceback,
and nothing left running. Each test drives the real CLI in its own state folder on free ports.

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

import pytest
from stack_helpers import (
    assert_nothing_left,
    free_ports,
    port_of,
    profiteer,
    stack_env,
    status,
)

from profiteer_pipeline.stack.postgres import EmbeddedPostgres, PostgresError
from profiteer_pipeline.stack.processes import pid_alive, process_tree

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
    with open(state / "run" / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(json.dumps({"pid": os.getpid(), "command": "up"}))
        lock.flush()
        t = time.monotonic()
        result = profiteer(env, "up", "--detach", "--no-main-job", timeout=60)
    assert result.returncode == 1
    assert f"`profiteer up` (pid {os.getpid()}) is already managing the stack" in result.stderr
    assert time.monotonic() - t < 30
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
    while pid_alive(second):
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
