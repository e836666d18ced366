"""The stack manager end to end: `profiteer up --detach`, `status`, `env`, a foreground `up` with
Ctrl-C, and `down`, all through the real CLI with real services (embedded PostgreSQL, MindsDB,
the shop API, Dagster, Streamlit) in a private state folder on free ports.

One detached stack (A) is started once for the module. A second, foreground stack (B) uses A's
PostgreSQL and MindsDB as external services, which covers PROFITEER_DATABASE_URL and MINDSDB_URL
without starting MindsDB twice.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from stack_helpers import (
    PORT_VARS,
    PROFITEER,
    assert_nothing_left,
    exported,
    listening_addresses,
    port_of,
    processes_of,
    profiteer,
    stack_env,
    status,
)

pytestmark = [pytest.mark.mindsdb, pytest.mark.timeout(900)]

CANARY = "canary-" + os.urandom(8).hex()
KEYS = {"database_url", "mindsdb_url", "dagster_url", "app_url", "shop_api_url", "dagster_home"}
SERVICES = ("postgres", "mindsdb", "shop_api", "dagster", "app")


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
        return resp.status, resp.read()


@pytest.fixture(scope="module")
def stack_a(tmp_path_factory):
    state = tmp_path_factory.mktemp("stack-a") / "state"
    env = stack_env(state, UNRELATED_TOKEN=CANARY)  # in the CLI's environment, in no service's
    # a stale pid file from an earlier crash: reported, cleaned, and the app starts anyway
    (state / "run").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"name": "app", "pid": dead.pid, "cmd": ["x", "y"], "log": "x", "started": 0}
    (state / "run" / "app.json").write_text(json.dumps(stale))
    t = time.monotonic()
    result = profiteer(env, "up", "--detach", "--no-main-job", timeout=600)
    print(f"stack A up in {time.monotonic() - t:.1f}s\n{result.stdout}{result.stderr}")
    try:
        yield state, env, result
    finally:
        profiteer(env, "down", timeout=180)


def test_up_detached_starts_every_service(stack_a):
    state, env, result = stack_a
    assert result.returncode == 0, result.stdout + result.stderr
    assert "app: stale pid file (pid " in result.stdout and "removed" in result.stdout
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    ready = [words[0] for words in lines if len(words) > 2 and words[1] == "ready"]
    assert ready == ["postgres", "shop_api", "dagster", "app", "mindsdb"]  # MindsDB waited for last
    for words in lines:
        if len(words) > 2 and words[1] == "ready":
            assert words[-1].endswith("s") and float(words[-1][:-1]) > 0  # elapsed time printed

    report = status(env)
    assert KEYS <= report.keys()
    assert report["dagster_home"] == str(state / "dagster_home")
    assert (state / "dagster_home" / "dagster.yaml").exists()
    assert "***" in report["database_url"] and ":***@" in report["database_url"]
    assert report["dagster_url"] == f"http://127.0.0.1:{port_of(env, 'dagster')}"
    for name in SERVICES:
        svc = report["services"][name]
        assert svc["state"] == "running", (name, svc)
        assert svc["ready"] is True, (name, svc)
        assert svc["port"] == port_of(env, name)
        assert isinstance(svc["pid"], int)

    code, body = get(report["dagster_url"] + "/server_info")
    assert code == 200 and "dagster_webserver_version" in json.loads(body)
    code, body = get(report["mindsdb_url"] + "/api/status")
    assert code == 200 and json.loads(body)
    assert get(report["app_url"] + "/_stcore/health") == (200, b"ok")
    assert get(report["shop_api_url"] + "/health")[0] == 200


def test_every_service_listens_on_loopback_only(stack_a):
    state, env, _ = stack_a
    for name in SERVICES:
        assert listening_addresses(port_of(env, name)) == {"127.0.0.1"}, name
    secrets = json.loads((state / "secrets.json").read_text())
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=port_of(env, "postgres"),
        user="postgres",
        password=secrets["pg_password"],
        dbname="warehouse",
    )
    with conn, conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"
        cur.execute("SELECT datname FROM pg_database")
        assert {"warehouse", "shop", "dagster"} <= {row[0] for row in cur.fetchall()}
    conn.close()


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


# which of the stack's secrets each running service holds in its environment: exactly these
HOLDS = {
    "postgres": set(),
    "mindsdb": set(),  # the datasource's password reaches it through SQL, from Dagster
    "app": {"pg_reader_password"},
    "shop_api": {"pg_shop_api_password", "shop_api_key"},  # read-only on its store
    "dagster": {"pg_pipeline_password", "shop_api_key", "pg_model_password"},
}


def test_each_service_holds_only_its_own_secrets(stack_a):
    state, env, _ = stack_a
    secrets = json.loads((state / "secrets.json").read_text())
    assert set(secrets) == {
        "pg_password",
        "pg_reader_password",
        "pg_model_password",
        "pg_pipeline_password",
        "pg_shop_api_password",
        "shop_api_key",
    }
    report = status(env)
    for name, expected in HOLDS.items():
        environ = environ_of(report["services"][name]["pid"])
        text = "\n".join(f"{k}={v}" for k, v in environ.items())
        held = {key for key, value in secrets.items() if value in text}
        assert held == expected, (name, sorted(held))
        # built, not copied: nothing of the CLI's own environment beyond the base variables
        assert CANARY not in text, name
        assert environ["PROFITEER_STATE_DIR"] == str(state) and "HOME" in environ, name
        assert environ.get("PROFITEER_SECRETS_SOURCE") == "environment", name
    app = environ_of(report["services"]["app"]["pid"])
    assert app["PROFITEER_READER_USER"] == "profiteer_reader"
    assert "PROFITEER_PG_PASSWORD" not in app and "PROFITEER_SHOP_API_KEY" not in app
    assert psycopg2.extensions.parse_dsn(app["PROFITEER_DATABASE_URL"]) == {
        "user": "profiteer_reader", "host": "127.0.0.1", "port": str(port_of(env, "postgres")),
        "dbname": "warehouse",
    }  # fmt: skip
    dagster = environ_of(report["services"]["dagster"]["pid"])
    assert dagster["PROFITEER_MODEL_USER"] == "profiteer_model"
    assert dagster["PROFITEER_PG_USER"] == "profiteer_pipeline"  # its runs and storage
    shop_api = environ_of(report["services"]["shop_api"]["pid"])
    assert shop_api["PROFITEER_PG_USER"] == "profiteer_shop_api"
    assert "PROFITEER_READER_PASSWORD" not in dagster
    # the processes the services started inherit no more than their service holds
    for pid, cmd in processes_of(state).items():
        try:
            text = "\n".join(f"{k}={v}" for k, v in environ_of(pid).items())
        except OSError:
            continue  # ended meanwhile
        assert CANARY not in text, cmd
        if "mindsdb" in cmd or "postgres" in cmd.split()[0]:
            assert not [k for k, v in secrets.items() if v in text], cmd


def test_secret_files_are_owner_only(stack_a):
    state, _, _ = stack_a
    assert (state / "secrets.json").stat().st_mode & 0o777 == 0o600
    # MindsDB stores its datasource's password (the model login's) in its own storage
    assert (state / "mindsdb").stat().st_mode & 0o777 == 0o700
    assert not (state / "postgres" / ".pwfile").exists()  # initdb's password file is gone
    assert not list(state.rglob(".*.tmp"))  # no temporary copy left behind


def test_up_again_starts_no_duplicates(stack_a):
    state, env, _ = stack_a
    before = {n: s["pid"] for n, s in status(env)["services"].items()}
    result = profiteer(env, "up", "--detach", "--no-main-job", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "already running; nothing started" in result.stdout
    assert {n: s["pid"] for n, s in status(env)["services"].items()} == before


def test_env_is_evaluable_and_drives_the_dagster_cli(stack_a):
    state, env, _ = stack_a
    result = profiteer(env, "env", timeout=60)
    assert result.returncode == 0, result.stderr
    exports = exported(result.stdout)
    assert exports["DAGSTER_HOME"] == str(state / "dagster_home")
    assert exports["MINDSDB_URL"] == f"http://127.0.0.1:{port_of(env, 'mindsdb')}"
    assert exports["PROFITEER_PG_PORT"] == str(port_of(env, "postgres"))
    # the modes travel with the URLs, so a shell that evaluated this keeps the embedded servers
    assert exports["PROFITEER_PG_MODE"] == exports["PROFITEER_MINDSDB_MODE"] == "embedded"
    # the exported URL reaches the running server
    psycopg2.connect(exports["PROFITEER_DATABASE_URL"]).close()
    # eval in a shell, then the dagster CLI sees the stack's instance (PostgreSQL storage)
    script = f'eval "$({shlex.quote(PROFITEER)} env)" && exec dagster instance info'
    bin_dir = str(Path(sys.executable).parent)
    shell_env = env | {"PATH": bin_dir + ":" + env.get("PATH", "")}
    info = subprocess.run(
        ["bash", "-c", script], env=shell_env, capture_output=True, text=True, timeout=120
    )
    assert info.returncode == 0, info.stderr
    assert "PostgresRunStorage" in info.stdout
    # with the exports in its environment, the CLI still knows the database is its own
    again = status(env | exports)
    assert again["services"]["postgres"]["state"] == "running"


def test_foreground_up_with_external_database_and_mindsdb_stops_on_ctrl_c(stack_a, tmp_path):
    state_a, env_a, _ = stack_a
    exports = exported(profiteer(env_a, "env", timeout=60).stdout)
    state_b = tmp_path / "state-b"
    env_b = stack_env(state_b)
    env_b |= {
        "PROFITEER_DATABASE_URL": exports["PROFITEER_DATABASE_URL"],
        "PROFITEER_READER_PASSWORD": exports["PROFITEER_READER_PASSWORD"],
        "PROFITEER_MODEL_PASSWORD": exports["PROFITEER_MODEL_PASSWORD"],
        "PROFITEER_SHOP_API_KEY": exports["PROFITEER_SHOP_API_KEY"],
        "PROFITEER_DAGSTER_DB": "dagster_b",
        "MINDSDB_URL": exports["MINDSDB_URL"],
    }
    env_b.pop(PORT_VARS["postgres"])
    log = tmp_path / "up-b.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [PROFITEER, "up", "--no-main-job"], env=env_b, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 400
        while "Ctrl-C stops everything" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        report = status(env_b)
        assert report["services"]["postgres"]["state"] == "external"
        assert report["services"]["mindsdb"]["state"] == "external"
        assert report["services"]["mindsdb"]["ready"] is True
        assert report["services"]["postgres"]["ready"] is True
        for name in ("shop_api", "dagster", "app"):
            assert report["services"][name]["state"] == "running", name
        assert report["database_url"].endswith(f":{port_of(env_a, 'postgres')}/warehouse")
        # a service that dies is reported by the foreground manager, with its log
        os.kill(report["services"]["shop_api"]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "shop_api crashed" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert "shop_api crashed (killed by SIGKILL)" in log.read_text()
        assert f"log: {state_b / 'logs' / 'shop_api.log'}" in log.read_text()
        assert status(env_b)["services"]["shop_api"]["state"] == "crashed"
        # a second manager of the same state folder is refused while this one runs
        refused = profiteer(env_b, "up", "--detach", "--no-main-job", timeout=60)
        assert refused.returncode == 1 and "already managing the stack" in refused.stderr

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            profiteer(env_b, "down", timeout=120)
    out = log.read_text()
    assert "SIGINT received: stopping the stack." in out
    for name in ("app", "dagster"):
        assert f"  {name:<10} stopped" in out
    assert "Traceback" not in out
    assert_nothing_left(state_b, env_b)
    # the external services were left alone
    report_a = status(env_a)
    assert report_a["services"]["postgres"]["state"] == "running"
    assert report_a["services"]["mindsdb"]["state"] == "running"


def test_down_leaves_nothing_running(stack_a):
    state, env, _ = stack_a
    pids = processes_of(state)
    report = status(env)
    recorded = {s["pid"] for s in report["services"].values()}
    assert recorded <= pids.keys()  # the scan sees every service, PostgreSQL included
    assert len(pids) > len(recorded)  # and their children (Dagster's daemon, MindsDB's workers)
    t = time.monotonic()
    result = profiteer(env, "down", timeout=180)
    print(f"down in {time.monotonic() - t:.1f}s\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, result.stderr
    assert "did not stop cleanly" not in result.stderr, result.stderr  # pg_ctl stopped it
    for name in SERVICES:
        assert f"  {name:<10} stopped" in result.stdout
    for pid in pids:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        assert stat[0] == "Z", f"pid {pid} still running: {pids[pid]}"
    assert_nothing_left(state, env)
    assert all(s["state"] == "stopped" for s in status(env)["services"].values())
    again = profiteer(env, "down", timeout=60)
    assert again.returncode == 0 and "Nothing was running." in again.stdout
