"""Session fixtures: a real embedded PostgreSQL and a real MindsDB server, never mocks.

Both run under a private state folder on free ports, so a developer's running stack is untouched.
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.stack import mindsdb as mindsdb_server
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, ensure_databases, wait_ready
from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until
from profiteer_pipeline.stack.roles import (
    ensure_login,
    ensure_model_role,
    ensure_reader_role,
    ensure_shop_api_role,
    hand_over,
    restrict_connect,
)

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# a shell that ran `eval "$(profiteer env)"` exports its stack's modes; the tests choose their own
for _mode_var, _ in settings_mod.MODE_VARIABLES.values():
    os.environ.pop(_mode_var, None)


# the pipeline's writer, made as `profiteer up` makes it (the tests' own runs use the admin)
PIPELINE_USER = "profiteer_pipeline"
PIPELINE_PASSWORD = "pipeline-" + os.urandom(6).hex()
SHOP_API_USER = "profiteer_shop_api"  # the shop API's read-only login to its store
SHOP_API_PASSWORD = "shop-api-" + os.urandom(6).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def _collect_what_the_module_left():
    """Finalize, in the main thread, what a module left for the garbage collector (e.g. the
    SQLite connections of `dg.materialize`'s ephemeral instances). Otherwise a later module's
    thread runs their finalizers whenever it triggers a collection: a Streamlit script thread
    then logs SQLite's "created in another thread" errors. A reversed-order run showed them in
    the log of its one failure: a page's `compile()` in such a thread raised CPython 3.11's
    `SystemError: AST constructor recursion depth mismatch` (cpython#106905's family)."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def state_root() -> Path:
    # Not under pytest's basetemp: pytest keeps that folder at mode 700, and the embedded server
    # runs as an unprivileged user that must traverse every parent of its data folder.
    root = Path(tempfile.mkdtemp(prefix="profiteer-tests-"))
    root.chmod(0o755)
    os.environ["PROFITEER_STATE_DIR"] = str(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(state_root):
    """The embedded PostgreSQL server, with the warehouse, shop and dagster databases closed to
    PUBLIC and owned by the pipeline's writer, and the app's and MindsDB's roles, as `profiteer
    up` makes them."""
    port = free_port()
    password = "pw-" + os.urandom(8).hex()
    server = EmbeddedPostgres(state_root / "postgres", port, password)
    server.start()
    admin = settings_mod.PgUrl("postgres", password, "127.0.0.1", port, "postgres")
    wait_ready(admin.dsn())
    databases = ["warehouse", "shop", "dagster"]
    ensure_databases(admin.dsn(), databases)
    restrict_connect(admin.dsn(), databases)
    ensure_login(admin.dsn(), PIPELINE_USER, PIPELINE_PASSWORD)
    reader_password = "reader-" + os.urandom(6).hex()
    ensure_reader_role(
        admin.dsn(), "profiteer_reader", reader_password, "warehouse", [PIPELINE_USER]
    )
    model_password = "model-" + os.urandom(6).hex()
    ensure_model_role(admin.dsn(), "profiteer_model", model_password, "warehouse")
    ensure_shop_api_role(admin.dsn(), SHOP_API_USER, SHOP_API_PASSWORD, "shop")
    hand_over(admin.dsn(), PIPELINE_USER, databases)  # the tests themselves log in as the admin
    os.environ["PROFITEER_DATABASE_URL"] = admin.with_database("warehouse").dsn()
    os.environ.setdefault("PROFITEER_SHOP_API_KEY", "test-key-" + os.urandom(8).hex())
    os.environ["PROFITEER_READER_PASSWORD"] = reader_password
    os.environ["PROFITEER_MODEL_PASSWORD"] = model_password
    # the same variables `profiteer up` gives every process (Dagster's EnvVar reads them)
    os.environ.update(settings_mod.environment(settings_mod.load()))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(pg_server) -> settings_mod.Settings:
    return settings_mod.load()


@pytest.fixture
def warehouse_conn(settings):
    conn = psycopg2.connect(settings.warehouse.dsn())
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def mindsdb_url(state_root, pg_server):
    """A real MindsDB 25.14.1 server (lightwood), started once per session and stopped by PID.

    Set PROFITEER_TEST_MINDSDB_URL to reuse an already running server instead.
    """
    if url := os.environ.get("PROFITEER_TEST_MINDSDB_URL"):
        os.environ["MINDSDB_URL"] = url
        yield url
        return
    port = free_port()
    storage = state_root / "mindsdb"
    table = ProcessTable(state_root / "run", state_root / "logs")
    env = {**os.environ, **mindsdb_server.environment(storage)}
    rec = table.spawn(
        "mindsdb", mindsdb_server.command(settings_mod.mindsdb_venv(), storage, port), env
    )
    try:
        wait_until(
            lambda: http_ok(mindsdb_server.status_url(port)),
            timeout=240, name="MindsDB", log=rec.log, pid=rec.pid,
        )  # fmt: skip
    except Exception:
        table.stop("mindsdb")
        raise
    url = f"http://127.0.0.1:{port}"
    os.environ["MINDSDB_URL"] = url
    yield url
    t = time.monotonic()
    table.stop("mindsdb", timeout=30)
    print(f"MindsDB stopped in {time.monotonic() - t:.1f}s")
