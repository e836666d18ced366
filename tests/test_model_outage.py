"""A MindsDB outage: the model asset fails within seconds naming the URL; ingest still runs.

MINDSDB_URL points at a closed port on this machine (nothing listens there). The ingest part uses
the real shop API, PyAirbyte and PostgreSQL of the ingest fixtures; no MindsDB server is needed.
"""

import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest
from ingest_fixtures import free_port, ingest_resources, shop_api  # noqa: F401 - fixtures

from profiteer_pipeline.defs.ingest.assets import raw_sales, sales
from profiteer_pipeline.defs.model.assets import sales_forecast
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.shop.assets import synthetic_sales
from profiteer_pipeline.defs.warehouse.resources import PostgresResource

PARTITION = "2026-03-02-05:00"  # the ingest tests' hour: the same generated rows either way


@pytest.fixture
def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_model_asset_fails_fast_naming_the_url(pg_server, closed_url, monkeypatch):
    monkeypatch.setenv("MINDSDB_URL", closed_url)
    resources = {
        "mindsdb": MindsDBResource.from_env(),  # what build_resources() gives the code location
        "warehouse": PostgresResource(database="warehouse"),
    }
    start = time.monotonic()
    result = dg.materialize([sales_forecast], resources=resources, raise_on_error=False)
    elapsed = time.monotonic() - start
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert f"cannot connect to MindsDB at {closed_url}" in message
    assert "connection refused" in message and "MINDSDB_URL" in message
    assert elapsed < 30, f"took {elapsed:.1f}s to fail"  # seconds, not a hung run


def test_unreachable_host_times_out_quickly(pg_server):
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so the connect attempt times out
    resource = MindsDBResource(url="http://192.0.2.1:47334", connect_timeout=2.0)
    start = time.monotonic()
    with pytest.raises(dg.Failure, match="192.0.2.1:47334"):
        resource.client()
    assert time.monotonic() - start < 10


def test_ingest_runs_while_mindsdb_is_down(ingest_resources, settings, closed_url):  # noqa: F811
    resources = {**ingest_resources, "mindsdb": MindsDBResource(url=closed_url)}
    result = dg.materialize(
        [synthetic_sales, raw_sales, sales], partition_key=PARTITION, resources=resources
    )
    assert result.success
    start = datetime.strptime(PARTITION, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    with psycopg2.connect(settings.warehouse.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            'SELECT count(*) FROM public.sales WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, start + timedelta(hours=1)),
        )
        assert cur.fetchone()[0] == 15
    conn.close()
    assert os.environ.get("MINDSDB_URL") != closed_url  # the broken URL stayed in this test
