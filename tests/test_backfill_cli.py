"""Backfills from the dagster CLI, exactly as the README gives them, against real services.

- `dagster job backfill -w workspace.yaml -j hourly_sales_job --from A --to B --noprompt` queues
  one run per partition; a real `dagster-daemon run` (started here, stopped by PID) executes them.
- `dg launch --job hourly_sales_job -m profiteer_pipeline.definitions --partition-range 'A...B'`
  runs the whole range in one run (the hourly assets have BackfillPolicy.single_run()), and
  prints no warning (`dagster asset materialize` prints a SupersessionWarning pointing at it).

Everything is real: the session's PostgreSQL (Dagster's instance storage in a database of its
own, through the repository's dagster.yaml), the shop API (uvicorn in this process), PyAirbyte,
the warehouse. The test checks that `sales` holds rows for exactly the requested hours.
"""

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from ingest_fixtures import shop_api  # noqa: F401 - fixture
from psycopg2 import sql as pgsql

from profiteer_pipeline.stack.processes import ProcessTable
from profiteer_pipeline.warehouse.schema import SALES_DDL

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parent.parent
WORKSPACE = str(REPO / "workspace.yaml")
# the CLI runs outside the clone: every `dagster` command loads `./.env`, and the clone's `.env`
# (written by `profiteer up` for a stack running there) would point it at that stack's instance
CLI_CWD = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DAGSTER_DB = "dagster_cli_test"
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")


def hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def cli_env(pg_server, shop_api, settings, state_root):  # noqa: F811
    """DAGSTER_HOME with the repository's dagster.yaml, its storage in a fresh database."""
    admin = psycopg2.connect(settings.warehouse.with_database("postgres").dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        name = pgsql.Identifier(DAGSTER_DB)
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cur.execute(pgsql.SQL("CREATE DATABASE {}").format(name))
    admin.close()
    home = state_root / "dagster_home_cli"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,  # the session's PROFITEER_* variables, the shop API's URL among them
        "DAGSTER_HOME": str(home),
        "PROFITEER_DAGSTER_DB": DAGSTER_DB,
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return env


@pytest.fixture(scope="module")
def daemon(cli_env, state_root):
    """`dagster-daemon run`: it dequeues and launches the backfill's runs. Stopped by its PID.

    The hourly schedule is stopped first, so that only the test's runs land data, and so is the
    automation sensor: this test is about the CLI's runs, not a training on the shared warehouse.
    """
    dagster(cli_env, "schedule", "stop", "hourly_sales_schedule", "-w", WORKSPACE)
    dagster(cli_env, "sensor", "stop", "automation_condition_sensor", "-w", WORKSPACE)
    table = ProcessTable(state_root / "run", state_root / "logs")
    rec = table.spawn(
        "dagster-daemon-cli-test",
        [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE],
        cli_env,
        cwd=CLI_CWD,
    )
    yield rec
    table.stop("dagster-daemon-cli-test", timeout=30)


def dagster(env: dict[str, str], *args: str, timeout: float = 600, cli: str = "dagster") -> str:
    proc = subprocess.run(
        [str(BIN / cli), *args],
        env=env, cwd=CLI_CWD, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, f"{cli} {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def runs(settings, tag: str, values: list[str]) -> list[tuple[str, str, float]]:
    """(run id, status, seconds) of the runs whose `tag` is one of `values`, oldest first."""
    conn = psycopg2.connect(settings.warehouse.with_database(DAGSTER_DB).dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT r.run_id, r.status, coalesce(r.end_time - r.start_time, 0) FROM runs r "
                "JOIN run_tags t ON t.run_id = r.run_id WHERE t.key = %s AND t.value = ANY(%s) "
                "ORDER BY r.create_timestamp",
                (tag, values),
            )
            return cur.fetchall()
    except psycopg2.errors.UndefinedTable:
        return []  # no run yet: Dagster creates its tables on first use
    finally:
        conn.close()


def hours_in_sales(settings, start: datetime, end: datetime) -> dict[datetime, int]:
    """Row counts per hour of `sales` in [start, end)."""
    with psycopg2.connect(settings.warehouse.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            'SELECT "timestamp", count(*) FROM public.sales WHERE "timestamp" >= %s '
            'AND "timestamp" < %s GROUP BY 1 ORDER BY 1',
            (start, end),
        )
        out = {ts.astimezone(UTC): n for ts, n in cur.fetchall()}
    conn.close()
    return out


def clear(settings, start: datetime, end: datetime) -> None:
    with psycopg2.connect(settings.warehouse.dsn()) as conn, conn.cursor() as cur:
        cur.execute(SALES_DDL)  # as the `sales` asset creates it
        cur.execute(
            'DELETE FROM public.sales WHERE "timestamp" >= %s AND "timestamp" < %s', (start, end)
        )
    conn.close()


def test_job_backfill_one_run_per_partition(cli_env, daemon, settings):
    first, last = "2026-04-10-01:00", "2026-04-10-02:00"
    window = (hour(first) - timedelta(hours=2), hour(last) + timedelta(hours=3))
    clear(settings, *window)
    out = dagster(
        cli_env, "job", "backfill", "-w", WORKSPACE, "-j", "hourly_sales_job",
        "--from", first, "--to", last, "--noprompt",
    )  # fmt: skip
    assert "Launched backfill job" in out, out
    partitions = [first, (hour(first) + timedelta(hours=1)).strftime("%Y-%m-%d-%H:%M")]
    assert partitions[-1] == last
    deadline = time.monotonic() + 600
    while True:
        current = runs(settings, "dagster/partition", partitions)
        if len(current) >= 2 and all(status in TERMINAL for _, status, _ in current):
            break
        assert time.monotonic() < deadline, f"runs did not finish: {current}"
        time.sleep(2)
    assert [status for _, status, _ in current] == ["SUCCESS"] * 2, current
    print("run seconds:", [round(t) for _, _, t in current])
    expected = {hour(first) + timedelta(hours=h): 15 for h in range(2)}
    assert hours_in_sales(settings, *window) == expected


def test_dg_launch_partition_range_in_one_run_without_warnings(cli_env, settings):
    first, last = "2026-04-11-05:00", "2026-04-11-06:00"
    window = (hour(first) - timedelta(hours=2), hour(last) + timedelta(hours=3))
    clear(settings, *window)
    out = dagster(
        cli_env, "launch", "--job", "hourly_sales_job", "-m", "profiteer_pipeline.definitions",
        "--partition-range", f"{first}...{last}",
        "--config-json", '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}',
        cli="dg",
    )  # fmt: skip
    warnings = [line for line in out.splitlines() if "Warning" in line]
    assert not warnings, "the README's command prints warnings:\n" + "\n".join(warnings)
    (run,) = runs(settings, "dagster/asset_partition_range_start", [first])  # one run, the range
    assert run[1] == "SUCCESS", run
    expected = {hour(first) + timedelta(hours=h): 15 for h in range(2)}
    assert hours_in_sales(settings, *window) == expected
    # the metric tables, refreshed in the same run for the range's day
    with psycopg2.connect(settings.warehouse.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT hour, products FROM analytics.hourly_sales WHERE hour >= %s AND hour < %s",
            window,
        )
        metrics = {ts.astimezone(UTC): n for ts, n in cur.fetchall()}
    conn.close()
    assert metrics == expected
