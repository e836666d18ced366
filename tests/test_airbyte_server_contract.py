"""Contract tests of the Airbyte *server* path (dagster-airbyte's AirbyteWorkspace client).

No Airbyte server can run on this machine (no Docker, no cluster, no network beyond package
registries), so these tests replay Airbyte's REST API with `responses`, with payloads shaped as in
Airbyte's API documentation and dagster-airbyte's own test suite: `POST /applications/token`,
`GET /jobs` (running jobs of the connection), `POST /jobs`, `GET /jobs/{id}`, and the
configuration API's `POST /jobs/get` for a failure's reason. Everything else is real: the embedded
PostgreSQL warehouse, with rows landed the way Airbyte's Postgres destination lands them, and the
`sales` asset built from them.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
import responses
from ingest_fixtures import expected_rows, table_rows
from psycopg2 import sql

from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.ingest.airbyte_server import AirbyteServer
from profiteer_pipeline.defs.ingest.assets import raw_sales, sales
from profiteer_pipeline.defs.ingest.resources import build_airbyte
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.stack.postgres import ensure_databases
from profiteer_pipeline.synth.fields import RECORD_FIELDS

REST = "http://airbyte.test:8000/api/public/v1"
CONFIG = "http://airbyte.test:8000/api/v1"
WORKSPACE_ID = "744cc0ed-7f05-4949-9e60-2a814f90c035"
CONNECTION_ID = "9924bcd0-99be-453d-ba47-c2c9766f7da5"
CLIENT_SECRET = "contract-client-secret-5c1e"
JOB_ID = 12345
CONTRACT_DB = "warehouse_contract"

SERVER_ENV = {
    "AIRBYTE_REST_API_BASE_URL": REST,
    "AIRBYTE_CONFIGURATION_API_BASE_URL": CONFIG,
    "AIRBYTE_WORKSPACE_ID": WORKSPACE_ID,
    "AIRBYTE_CONNECTION_ID": CONNECTION_ID,
    "AIRBYTE_CLIENT_ID": "contract-client-id",
    "AIRBYTE_CLIENT_SECRET": CLIENT_SECRET,
    "AIRBYTE_POLL_INTERVAL": "0.01",
}

# Airbyte's Postgres destination (Destinations V2) final table for the `sales` stream, namespace
# airbyte_raw: typed columns as it maps JSON schema types, plus its own columns.
DESTINATION_DDL = """
CREATE SCHEMA IF NOT EXISTS airbyte_raw;
CREATE TABLE IF NOT EXISTS airbyte_raw.sales (
    "timestamp" timestamp with time zone, product_id varchar, product_name varchar,
    product_image varchar, category varchar, price_strategy varchar,
    category_popularity numeric, base_price numeric, current_price numeric,
    popularity_factor numeric, rating numeric, time_of_day_bucket varchar,
    views bigint, cart_adds bigint, purchases bigint,
    _airbyte_raw_id varchar NOT NULL, _airbyte_extracted_at timestamp with time zone NOT NULL,
    _airbyte_meta jsonb NOT NULL, _airbyte_generation_id bigint
);
"""


DESTINATION_COLUMNS = [
    *RECORD_FIELDS,
    "_airbyte_raw_id",
    "_airbyte_extracted_at",
    "_airbyte_meta",
    "_airbyte_generation_id",
]
INSERT_SQL = sql.SQL("INSERT INTO airbyte_raw.sales ({}) VALUES ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, DESTINATION_COLUMNS)),
    sql.SQL(", ").join(sql.Placeholder() * len(DESTINATION_COLUMNS)),
)


def job(job_id: int, status: str, rows: int = 0) -> dict:
    """A job as `GET /jobs/{id}` returns it (Airbyte REST API reference, getJob)."""
    return {
        "jobId": job_id,
        "status": status,
        "jobType": "sync",
        "startTime": "2026-05-01T06:05:03Z",
        "connectionId": CONNECTION_ID,
        "lastUpdatedAt": "2026-05-01T06:05:41Z",
        "duration": "PT38S",
        "bytesSynced": rows * 420,
        "rowsSynced": rows,
    }


@pytest.fixture(scope="module")
def contract_warehouse(settings) -> str:
    """A warehouse database of its own, shaped by the server's destination; its DSN."""
    ensure_databases(settings.warehouse.with_database("postgres").dsn(), [CONTRACT_DB])
    dsn = settings.warehouse.with_database(CONTRACT_DB).dsn()
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DESTINATION_DDL)
    conn.close()
    return dsn


@pytest.fixture
def server_env(monkeypatch):
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def server_resources(server_env, contract_warehouse) -> dict:
    warehouse = PostgresResource(database=CONTRACT_DB)
    airbyte = build_airbyte(warehouse)
    assert isinstance(airbyte, AirbyteServer)
    return {"warehouse": warehouse, "airbyte": airbyte}


def land_as_destination(dsn: str, start: datetime, end: datetime) -> None:
    """What the server's destination writes during the sync: two extractions of the window,
    an older one with stale prices and the latest one, appended (append mode)."""
    frame = expected_rows(start, end)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for age, price_shift in ((timedelta(hours=1), 1.0), (timedelta(0), 0.0)):
            extracted = datetime.now(UTC) - age
            for i, row in enumerate(frame.itertuples(index=False)):
                values = row._asdict()
                values["current_price"] = values["current_price"] + price_shift
                cur.execute(
                    INSERT_SQL,
                    [
                        *(
                            repr(v) if isinstance(v, float) else v
                            for v in (values[c] for c in RECORD_FIELDS)
                        ),
                        f"raw-{extracted.timestamp()}-{i}",
                        extracted,
                        json.dumps({"changes": [], "sync_id": JOB_ID}),
                        0,
                    ],
                )
    conn.close()


def run(resources, partition_key: str, **kw):
    return dg.materialize(
        [raw_sales, sales], partition_key=partition_key, resources=resources, **kw
    )


def test_sync_success_polls_the_job_and_builds_sales(server_resources, contract_warehouse):
    key = "2026-05-01-05:00"
    start = datetime(2026, 5, 1, 5, tzinfo=UTC)
    end = start + timedelta(hours=1)
    polls = []

    def poll(request):
        polls.append(request)
        if len(polls) == 1:
            return 200, {}, json.dumps(job(JOB_ID, "running", 0))
        land_as_destination(contract_warehouse, start, end)
        return 200, {}, json.dumps(job(JOB_ID, "succeeded", 15))

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add(responses.POST, f"{REST}/applications/token", json={"access_token": "tok-1"})
        api.add(responses.GET, f"{REST}/jobs", json={"data": [], "next": ""})
        api.add(responses.POST, f"{REST}/jobs", json=job(JOB_ID, "running"))
        api.add_callback(responses.GET, f"{REST}/jobs/{JOB_ID}", callback=poll)
        result = run(server_resources, key)

        assert result.success
        start_call = next(
            c for c in api.calls if c.request.method == "POST" and "/jobs" in c.request.url
        )
        assert json.loads(start_call.request.body) == {
            "connectionId": CONNECTION_ID,
            "jobType": "sync",
        }
        assert start_call.request.headers["Authorization"] == "Bearer tok-1"
    assert len(polls) == 2  # polled until it succeeded

    (raw_mat,) = result.asset_materializations_for_node("raw_sales")
    meta = {k: v.value for k, v in raw_mat.metadata.items()}
    assert meta["mode"] == "server" and meta["airbyte_job_id"] == JOB_ID
    assert meta["rows_synced_by_job"] == 15
    assert meta["dagster/row_count"] == 30  # two extractions landed (append mode)

    # `sales` keeps one row per key, the latest extraction, typed back to the warehouse types
    actual = table_rows(contract_warehouse, "public.sales", start, end, list(RECORD_FIELDS))
    expected = expected_rows(start, end)
    pd.testing.assert_frame_equal(
        actual.astype(expected.dtypes.to_dict()), expected, check_exact=True
    )
    assert CLIENT_SECRET not in "\n".join(str(e) for e in result.all_events)


def test_sync_failure_fails_the_asset_with_airbytes_message(server_resources):
    reason = "Exhausted available request attempts: HTTP 403 from the shop API"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add(responses.POST, f"{REST}/applications/token", json={"access_token": "tok-2"})
        api.add(responses.GET, f"{REST}/jobs", json={"data": [], "next": ""})
        api.add(responses.POST, f"{REST}/jobs", json=job(JOB_ID, "pending"))
        api.add(responses.GET, f"{REST}/jobs/{JOB_ID}", json=job(JOB_ID, "failed"))
        api.add(
            responses.POST,
            f"{CONFIG}/jobs/get",
            json={
                "job": {"id": JOB_ID, "configType": "sync", "status": "failed"},
                "attempts": [
                    {
                        "attempt": {
                            "id": 0,
                            "status": "failed",
                            "failureSummary": {
                                "failures": [
                                    {
                                        "failureOrigin": "source",
                                        "failureType": "system_error",
                                        "externalMessage": reason,
                                        "internalMessage": "AirbyteTracedException",
                                    }
                                ],
                                "partialSuccess": False,
                            },
                        },
                        "logs": {"logLines": []},
                    }
                ],
            },
        )
        result = dg.materialize(
            [raw_sales],
            partition_key="2026-05-01-06:00",
            resources=server_resources,
            raise_on_error=False,
        )
    assert not result.success
    message = result.failure_data_for_node("raw_sales").user_failure_data.description
    assert str(JOB_ID) in message and "failed" in message and reason in message
    # the server retried the job's attempts itself: no Dagster retry on top
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]


def test_a_running_sync_is_awaited_before_starting_ours(server_resources, contract_warehouse):
    start = datetime(2026, 5, 1, 7, tzinfo=UTC)
    land_as_destination(contract_warehouse, start, start + timedelta(hours=1))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add(responses.POST, f"{REST}/applications/token", json={"access_token": "tok-3"})
        api.add(responses.GET, f"{REST}/jobs", json={"data": [job(111, "running")], "next": ""})
        api.add(responses.GET, f"{REST}/jobs/111", json=job(111, "succeeded", 15))
        api.add(responses.POST, f"{REST}/jobs", json=job(JOB_ID, "running"))
        api.add(responses.GET, f"{REST}/jobs/{JOB_ID}", json=job(JOB_ID, "succeeded", 15))
        result = run(server_resources, "2026-05-01-07:00")
        order = [(c.request.method, c.request.url.split("?")[0]) for c in api.calls]
    assert result.success
    assert order.index(("GET", f"{REST}/jobs/111")) < order.index(("POST", f"{REST}/jobs"))


def _graph(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): (
            sorted(p.to_user_string() for p in graph.get(key).parent_keys),
            graph.get(key).group_name,
            type(graph.get(key).partitions_def).__name__,
        )
        for key in graph.get_all_asset_keys()
    }


def test_asset_graph_is_the_same_in_both_modes(monkeypatch, pg_server):
    """Loading the definitions calls no Airbyte API in either mode, and yields one graph."""
    import profiteer_pipeline.definitions as definitions

    for name in SERVER_ENV:
        monkeypatch.delenv(name, raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # any HTTP call fails
        embedded = importlib.reload(definitions).defs
        for name, value in SERVER_ENV.items():
            monkeypatch.setenv(name, value)
        server = importlib.reload(definitions).defs
    for name in SERVER_ENV:
        monkeypatch.delenv(name, raising=False)
    importlib.reload(definitions)

    assert isinstance(embedded.resources["airbyte"], EmbeddedAirbyte)
    assert isinstance(server.resources["airbyte"], AirbyteServer)
    graph = _graph(embedded)
    assert graph == _graph(server)
    assert graph["raw_sales"][0] == ["synthetic_sales"]
    assert graph["sales"][0] == ["raw_sales"]
    for defs in (embedded, server):
        job_keys = defs.resolve_job_def("hourly_sales_job").asset_layer.executable_asset_keys
        assert {"synthetic_sales", "raw_sales", "sales"} <= {k.to_user_string() for k in job_keys}


def test_partial_server_configuration_is_refused_clearly(monkeypatch):
    warehouse = PostgresResource(database="warehouse")
    with pytest.raises(ValueError, match="AIRBYTE_WORKSPACE_ID, AIRBYTE_CONNECTION_ID"):
        build_airbyte(
            warehouse,
            {"AIRBYTE_REST_API_BASE_URL": REST, "AIRBYTE_CONFIGURATION_API_BASE_URL": CONFIG},
        )
    both = {**SERVER_ENV, "AIRBYTE_USERNAME": "u", "AIRBYTE_PASSWORD": "p"}
    with pytest.raises(ValueError, match="not both"):
        build_airbyte(warehouse, both)
    # PyAirbyte's own switches (AIRBYTE_OFFLINE_MODE...) do not select the server
    assert isinstance(build_airbyte(warehouse, {"AIRBYTE_OFFLINE_MODE": "1"}), EmbeddedAirbyte)
