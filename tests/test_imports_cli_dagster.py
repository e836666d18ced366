"""`profiteer import` against a running Dagster: the run is submitted through its GraphQL API
(partition added, `import_job` launched with the content tags), awaited, its page printed, and the
summary read back from the warehouse; a bad file's run fails and the command prints its one
message and exits 1.

A real `dagster dev` (webserver and daemon, started here and stopped by PID) serves a code
location holding the import assets, job and resources from `profiteer_pipeline.defs.files`
(in-process executor: one process per run on a busy machine); the session's real PostgreSQL,
PyAirbyte and source-file do the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import free_port
from import_fixtures import AMBIGUOUS, MESSY_UCI, schema_exists, write

from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

pytestmark = pytest.mark.timeout(900)

BIN = Path(sys.executable).parent

DEFS = """
import dagster as dg

from profiteer_pipeline.defs.files.assets import import_job, import_order_export, inbox_file
from profiteer_pipeline.defs.files.file_airbyte import EmbeddedFileImport
from profiteer_pipeline.defs.files.resources import ImportReaders
from profiteer_pipeline.defs.warehouse.resources import warehouse_resource

defs = dg.Definitions(
    assets=[inbox_file, import_order_export],
    jobs=[import_job],
    executor=dg.in_process_executor,
    resources={
        "warehouse": warehouse_resource(),
        "file_airbyte": EmbeddedFileImport(),
        "import_readers": ImportReaders(),
    },
)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_server):
    root = tmp_path_factory.mktemp("import-dagster")
    (root / "defs.py").write_text(textwrap.dedent(DEFS))
    (root / "workspace.yaml").write_text(
        "load_from:\n  - python_file:\n      relative_path: defs.py\n      location_name: imports\n"
    )
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    inbox = root / "inbox"
    env = {
        **os.environ,  # the session's warehouse variables reach the run through EnvVar
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PROFITEER_INBOX": str(inbox),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = free_port()
    table = ProcessTable(root / "run", root / "logs")
    rec = table.spawn(
        "dagster",
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        env,
        cwd=root,
        port=port,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_ok(url + "/server_info"),
            timeout=180, name="dagster", log=rec.log, pid=rec.pid,
        )  # fmt: skip
        yield url, env | {"PROFITEER_DAGSTER_URL": url}, root
    finally:
        table.stop("dagster")


def _import(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "profiteer"), "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_import_through_dagster_prints_the_run_and_the_summary(stack, settings):
    url, env, root = stack
    source = write(root, "uk_orders.csv", MESSY_UCI)
    done = _import(env, str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"submitting the import run to Dagster at {url}" in out
    assert f"Dagster run: {url}/runs/" in out
    assert "lines read:      14" in out and "products:        3" in out
    assert "first hour:      2010-12-01T08:00:00+00:00" in out
    assert schema_exists(settings, "import_uk_orders")
    assert "Traceback" not in done.stderr


def test_a_bad_file_through_dagster_exits_1_with_its_message(stack, settings):
    url, env, root = stack
    bad = write(root, "dates.csv", AMBIGUOUS)
    done = _import(env, str(bad), "--name", "dagster_bad")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Dagster run: {url}/runs/" in done.stdout
    [message] = done.stderr.strip().splitlines()
    assert message.startswith("import refused: column timestamp"), message
    assert "2, 3, 4" in message and "day_first" in message
    assert not schema_exists(settings, "import_dagster_bad")
