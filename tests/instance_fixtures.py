"""A fresh Dagster instance on PostgreSQL and an empty warehouse, as a first deployment has them.

Shared by the cold-start test (a daemon alone) and the main job's test on the real code location
(`dagster dev`): each gets databases of its own on the session's server, re-created empty, and a
new DAGSTER_HOME holding the repository's dagster.yaml (PostgreSQL storage, run queue, run retries),
while the shop API and MindsDB are the session's. MindsDB is shared, so its model is dropped first.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from reliability_fixtures import recreate_database

from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.spec import DEFAULT_SPEC, HOLDOUT_SUFFIX
from profiteer_pipeline.settings import PgUrl, Settings
from profiteer_pipeline.stack.roles import grant_model, grant_reader, restrict_connect

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class FreshInstance:
    env: dict[str, str]  # for the Dagster processes: DAGSTER_HOME and the databases set
    home: Path
    warehouse: PgUrl
    dagster_db: PgUrl


def fresh_instance(
    settings: Settings, state_root: Path, mindsdb_url: str, name: str
) -> FreshInstance:
    """Databases `dagster_<name>` and `warehouse_<name>` re-created empty (the app's and MindsDB's
    logins granted on the warehouse, as `profiteer up` grants them), MindsDB without the model
    `sales_forecast` (nor its held-out twin), and DAGSTER_HOME `<state_root>/dagster_home_<name>`
    holding the repository's dagster.yaml.

    Call it after the `shop_api` fixture: the environment copies os.environ, the shop API's URL
    included.
    """
    admin = settings.warehouse
    dagster_db, warehouse_db = f"dagster_{name}", f"warehouse_{name}"
    for db in (dagster_db, warehouse_db):
        recreate_database(admin, db)
    server = admin.with_database("postgres").dsn()
    restrict_connect(server, [dagster_db, warehouse_db])
    grant_reader(server, settings.reader_user, warehouse_db)
    grant_model(server, settings.model_user, warehouse_db)
    client = MindsDBClient(mindsdb_url)
    for model in (DEFAULT_SPEC.name, DEFAULT_SPEC.name + HOLDOUT_SUFFIX):
        client.query(f"DROP MODEL IF EXISTS {DEFAULT_SPEC.project}.{model}")
    home = state_root / f"dagster_home_{name}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PROFITEER_DAGSTER_DB": dagster_db,
        "PROFITEER_WAREHOUSE_DB": warehouse_db,
        "MINDSDB_URL": mindsdb_url,
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return FreshInstance(
        env, home, admin.with_database(warehouse_db), admin.with_database(dagster_db)
    )


def scalar(url: PgUrl, statement: str, params: tuple = ()) -> object:
    """The first column of the first row, or None while the table does not exist yet."""
    conn = psycopg2.connect(url.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchone()[0]
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn):
        return None  # not created yet
    finally:
        conn.close()


def materialized(dagster_db: PgUrl, asset: str) -> int:
    """How many materializations of `asset` the instance recorded."""
    count = scalar(
        dagster_db,
        "SELECT count(*) FROM event_logs"
        " WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
        (f'["{asset}"]',),
    )
    return int(count or 0)
