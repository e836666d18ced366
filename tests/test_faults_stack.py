"""`profiteer up` after a crash: a service killed with SIGKILL, then PostgreSQL itself.

The real CLI and services in a private state folder on free ports (test_stack.py's helpers), with
the session's MindsDB as an external server so MindsDB is not started twice. A stale pid file of
a dead process is covered in test_stack_faults.py and test_stack.py; here the processes are
killed while the stack runs, as a crash or the OOM killer would.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest
from stack_helpers import assert_nothing_left, processes_of, profiteer, stack_env, status

from profiteer_pipeline.stack.processes import pid_alive

pytestmark = [pytest.mark.faults, pytest.mark.mindsdb, pytest.mark.timeout(900)]

SERVICES = ("postgres", "shop_api", "dagster", "app")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback)
            return resp.status == 200
    except OSError:
        return False


def kill(pid: int, group: bool) -> None:
    """SIGKILL, as a crash would: no handler runs, pid and lock files stay behind."""
    if group:
        os.killpg(pid, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} survived SIGKILL"
        time.sleep(0.1)


@pytest.fixture
def stack(tmp_path, mindsdb_url):
    state = tmp_path / "state"
    env = stack_env(state, MINDSDB_URL=mindsdb_url)
    up = profiteer(env, "up", "--detach", "--no-main-job", timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield state, env
    finally:
        down = profiteer(env, "down", timeout=240)
        assert down.returncode == 0, down.stdout + down.stderr
        assert_nothing_left(state, env)


def test_up_after_a_killed_service_restarts_only_that_service(stack):
    state, env = stack
    before = status(env)["services"]
    assert all(before[n]["state"] == "running" for n in SERVICES), before
    victim = before["shop_api"]["pid"]
    kill(victim, group=True)

    report = status(env)["services"]
    assert report["shop_api"]["state"] == "crashed" and report["shop_api"]["pid"] == victim

    t0 = time.monotonic()
    again = profiteer(env, "up", "--detach", "--no-main-job", timeout=300)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert f"shop_api: stale pid file (pid {victim} is gone" in out
    assert "Traceback" not in out
    after = status(env)
    services = after["services"]
    assert all(services[n]["state"] == "running" for n in SERVICES), services
    assert services["shop_api"]["pid"] != victim
    for name in ("postgres", "dagster", "app"):  # untouched: the same processes
        assert services[name]["pid"] == before[name]["pid"], name
    assert answers(after["shop_api_url"] + "/health")
    print(f"shop API restarted in {time.monotonic() - t0:.1f}s")


def test_up_after_postgres_was_killed(stack):
    state, env = stack
    before = status(env)["services"]
    postmaster = before["postgres"]["pid"]
    kill(postmaster, group=False)
    pidfile = state / "postgres" / "data" / "postmaster.pid"
    assert pidfile.exists()  # what a crash leaves behind
    assert status(env)["services"]["postgres"]["state"] == "crashed"

    # the server's own children notice the postmaster's death and exit; give them the chance a
    # real restart would have, then start again
    deadline = time.monotonic() + 30
    while any("postgres:" in cmd for cmd in processes_of(state).values()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    again = profiteer(env, "up", "--detach", "--no-main-job", timeout=300)
    out = again.stdout + again.stderr
    assert "Traceback" not in out
    assert again.returncode == 0, out  # recovered: PostgreSQL's own crash recovery, then ready
    assert "stale postmaster.pid" in out, out
    services = status(env)["services"]
    assert all(services[n]["state"] == "running" for n in SERVICES), services
    assert services["postgres"]["pid"] != postmaster
    assert services["postgres"]["ready"]
