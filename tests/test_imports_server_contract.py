"""Contract test of an import's *server* path: an Airbyte server runs the File source.

No Airbyte server can run on this machine (no Docker, no cluster, no network beyond package
registries), so this test replays Airbyte's public REST API with `responses`, with payloads shaped
as in Airbyte's API reference (listSources/createSource/patchSource, listConnections/
createConnection, createJob/getJob): the token, the file source with the same connector config as
the embedded path (the server's URL of the file), the connection into namespace `imports_raw`,
the job and its polls. Everything else is real: the warehouse, where the test lands the records
the way Airbyte's Postgres destination lands them (typed columns, headers folded to lower case,
`_airbyte_*` columns, in no particular order), and the import assets built from them.
"""

from __future__ import annotations

import io
import json
import random
import uuid
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import psycopg2
import pytest
import responses
from import_fixtures import read_table, write
from psycopg2 import sql

from profiteer_pipeline.defs.files.airbyte_server_files import ServerFileImport
from profiteer_pipeline.defs.files.assets import import_order_export, inbox_file
from profiteer_pipeline.defs.files.resources import ImportReaders, build_file_airbyte
from profiteer_pipeline.defs.warehouse.resources import warehouse_resource

REST = "http://airbyte.test:8000/api/public/v1"
CONFIG = "http://airbyte.test:8000/api/v1"
WORKSPACE_ID = "744cc0ed-7f05-4949-9e60-2a814f90c035"
DESTINATION_ID = "0b3a5c4e-5ac1-4a57-9f0f-6b2f0c1d7e21"
SOURCE_ID = "2f9d0d63-5b57-4f1e-8e0f-1a3a1f3e6b10"
CONNECTION_ID = "8a1e4c11-7a0e-4c7b-a7d6-3f5f8e2b9c44"
JOB_ID = 4242
URL_BASE = "https://files.example.test/profiteer-inbox"

ENV = {
    "AIRBYTE_REST_API_BASE_URL": REST,
    "AIRBYTE_CONFIGURATION_API_BASE_URL": CONFIG,
    "AIRBYTE_WORKSPACE_ID": WORKSPACE_ID,
    "AIRBYTE_CONNECTION_ID": "shop-connection-not-used-here",
    "AIRBYTE_CLIENT_ID": "contract-client-id",
    "AIRBYTE_CLIENT_SECRET": "contract-client-secret-77",
    "AIRBYTE_POLL_INTERVAL": "0.01",
    "AIRBYTE_IMPORT_URL_BASE": URL_BASE,
    "AIRBYTE_IMPORT_DESTINATION_ID": DESTINATION_ID,
}

EXPORT = """\
InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country
536365;85123A;WHITE HANGING HEART;6;12/01/2010 08:26;2,55;17850;United Kingdom
536365;71053;WHITE METAL LANTERN;6;12/01/2010 08:26;3,39;17850;United Kingdom
C536379;85123A;WHITE HANGING HEART;-1;12/01/2010 09:41;2,55;14527;United Kingdom
536380;71053;WHITE METAL LANTERN;2;2/20/11 11:39;3,39;NA;France
536381;;NO PRODUCT;1;12/01/2010 08:26;1,00;;United Kingdom
536387;22633;HAND WARMER;12;12/13/2010 14:05;1,85;13047;United Kingdom
"""


def land_as_destination(settings, name: str, text: str) -> None:
    """The destination's final table for stream `order_lines` with prefix `<name>__`: every
    column a varchar (the File source discovers text), lower-case names, Airbyte's columns."""
    frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    frame.columns = [c.lower() for c in frame.columns]
    table = sql.Identifier("imports_raw", f"{name}__order_lines")
    rows = list(frame.itertuples(index=False))
    random.Random(5).shuffle(rows)  # the destination keeps no file order
    with psycopg2.connect(settings.warehouse.dsn()) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS imports_raw")
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        cur.execute(
            sql.SQL("CREATE TABLE {} ({}, _airbyte_raw_id varchar NOT NULL, ").format(
                table,
                sql.SQL(", ").join(
                    sql.SQL("{} varchar").format(sql.Identifier(c)) for c in frame.columns
                ),
            )
            + sql.SQL(
                "_airbyte_extracted_at timestamptz NOT NULL, _airbyte_meta jsonb NOT NULL, "
                "_airbyte_generation_id bigint)"
            )
        )
        extracted = datetime.now(UTC)
        for row in rows:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES ({})").format(
                    table, sql.SQL(", ").join(sql.Placeholder() * (len(frame.columns) + 4))
                ),
                [*row, str(uuid.uuid4()), extracted, json.dumps({"changes": []}), 1],
            )
    conn.close()


def job(status: str) -> dict:
    return {
        "jobId": JOB_ID,
        "status": status,
        "jobType": "sync",
        "startTime": "2026-12-01T06:05:03Z",
        "connectionId": CONNECTION_ID,
        "lastUpdatedAt": "2026-12-01T06:05:41Z",
        "duration": "PT38S",
        "bytesSynced": 900,
        "rowsSynced": 6,
    }


@pytest.fixture
def server(monkeypatch, tmp_path, pg_server):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PROFITEER_INBOX", str(tmp_path / "inbox"))
    (tmp_path / "inbox").mkdir()
    resource = build_file_airbyte()
    assert isinstance(resource, ServerFileImport)
    return resource


def _materialize(resource, name: str, raise_on_error: bool = True):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("imported_files", [name])
    return dg.materialize(
        [import_order_export, inbox_file],
        partition_key=name,
        instance=instance,
        resources={
            "warehouse": warehouse_resource(),
            "file_airbyte": resource,
            "import_readers": ImportReaders(),
        },
        raise_on_error=raise_on_error,
    )


def test_the_server_runs_the_same_connector_config_and_the_import_builds_on_its_table(
    server, tmp_path, settings
):
    name = "contract_orders"
    write(tmp_path / "inbox", f"{name}.csv", EXPORT)
    polls = []

    def poll(request):
        polls.append(request)
        if len(polls) == 1:
            return 200, {}, json.dumps(job("running"))
        land_as_destination(settings, name, EXPORT)
        return 200, {}, json.dumps(job("succeeded"))

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add(responses.POST, f"{REST}/applications/token", json={"access_token": "tok-9"})
        api.add(responses.GET, f"{REST}/sources", json={"data": [], "next": ""})
        api.add(
            responses.POST,
            f"{REST}/sources",
            json={"sourceId": SOURCE_ID, "name": f"profiteer-import-{name}", "sourceType": "file",
                  "workspaceId": WORKSPACE_ID, "configuration": {}},
        )  # fmt: skip
        api.add(responses.GET, f"{REST}/connections", json={"data": [], "next": ""})
        api.add(
            responses.POST,
            f"{REST}/connections",
            json={"connectionId": CONNECTION_ID, "name": f"profiteer-import-{name}",
                  "sourceId": SOURCE_ID, "destinationId": DESTINATION_ID, "status": "active"},
        )  # fmt: skip
        api.add(responses.POST, f"{REST}/jobs", json=job("running"))
        api.add_callback(responses.GET, f"{REST}/jobs/{JOB_ID}", callback=poll)
        result = _materialize(server, name)
        assert result.success

        bodies = {
            (c.request.method, c.request.url.split("?")[0].removeprefix(REST)): c.request.body
            for c in api.calls
        }
        source = json.loads(bodies[("POST", "/sources")])
        assert source["workspaceId"] == WORKSPACE_ID
        config = source["configuration"]
        assert config["sourceType"] == "file" and config["format"] == "csv"
        assert config["dataset_name"] == "order_lines"
        assert config["url"] == f"{URL_BASE}/{name}.csv"
        assert config["provider"]["storage"] == "HTTPS"
        reader = json.loads(config["reader_options"])
        assert reader["sep"] == ";" and reader["dtype"] == "str"  # the embedded path's options
        connection = json.loads(bodies[("POST", "/connections")])
        assert connection["sourceId"] == SOURCE_ID
        assert connection["destinationId"] == DESTINATION_ID
        assert connection["namespaceFormat"] == "imports_raw"
        assert connection["prefix"] == f"{name}__"
        assert connection["configurations"]["streams"] == [
            {"name": "order_lines", "syncMode": "full_refresh_overwrite"}
        ]
        assert json.loads(bodies[("POST", "/jobs")]) == {
            "connectionId": CONNECTION_ID,
            "jobType": "sync",
        }
    assert len(polls) == 2

    meta = {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node("import_order_export")
    }
    assert meta["raw_order_lines"]["dagster/row_count"] == 6
    assert f"job {JOB_ID}" in meta["raw_order_lines"]["connector"]
    assert meta["import_order_lines"]["lines_accepted"] == 4
    assert meta["import_order_lines"]["lines_returned"] == 1
    assert meta["import_quarantine"]["rejected_by_reason"] == {"missing product id": 1}
    sales = read_table(
        settings,
        f"SELECT sum(units) AS units, sum(revenue) AS revenue FROM import_{name}.sales",  # noqa: S608
    ).iloc[0]
    assert float(sales["units"]) == 6 + 6 + 2 + 12
    assert float(sales["revenue"]) == pytest.approx(6 * 2.55 + 6 * 3.39 + 2 * 3.39 + 12 * 1.85)
    assert ENV["AIRBYTE_CLIENT_SECRET"] not in "\n".join(str(e) for e in result.all_events)


def existing(api: responses.RequestsMock, name: str) -> None:
    """The workspace already has the import's source and connection: the token, the source
    found and patched with this file's URL, the connection found, a job started."""
    source = {"sourceId": SOURCE_ID, "name": f"profiteer-import-{name}"}
    connection = {"connectionId": CONNECTION_ID, "name": f"profiteer-import-{name}"}
    api.add(responses.POST, f"{REST}/applications/token", json={"access_token": "tok-9"})
    api.add(responses.GET, f"{REST}/sources", json={"data": [source], "next": ""})
    api.add(responses.PATCH, f"{REST}/sources/{SOURCE_ID}", json=source)
    api.add(responses.GET, f"{REST}/connections", json={"data": [connection], "next": ""})
    api.add(responses.POST, f"{REST}/jobs", json=job("pending"))


def test_a_second_import_reuses_the_source_and_connection(server, tmp_path, settings):
    name = "contract_again"
    write(tmp_path / "inbox", f"{name}.csv", EXPORT)

    def done(request):
        land_as_destination(settings, name, EXPORT)
        return 200, {}, json.dumps(job("succeeded"))

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        existing(api, name)
        api.add_callback(responses.GET, f"{REST}/jobs/{JOB_ID}", callback=done)
        result = _materialize(server, name)
        assert result.success
        patch = next(c for c in api.calls if c.request.method == "PATCH")
        assert json.loads(patch.request.body)["configuration"]["url"] == f"{URL_BASE}/{name}.csv"
        assert not any(
            c.request.method == "POST" and c.request.url.startswith(f"{REST}/connections")
            for c in api.calls
        )


def test_a_failed_server_job_refuses_the_import_with_airbytes_reason(server, tmp_path, settings):
    name = "contract_failed"
    write(tmp_path / "inbox", f"{name}.csv", EXPORT)
    reason = "Failed to load https://files.example.test/profiteer-inbox/contract_failed.csv: 404"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        existing(api, name)
        api.add(responses.GET, f"{REST}/jobs/{JOB_ID}", json=job("failed"))
        api.add(
            responses.POST,
            f"{CONFIG}/jobs/get",
            json={"job": {"id": JOB_ID, "status": "failed"}, "attempts": [
                {"attempt": {"id": 0, "status": "failed", "failureSummary": {"failures": [
                    {"failureOrigin": "source", "externalMessage": reason}]}}}]},
        )  # fmt: skip
        result = _materialize(server, name, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("import_order_export").user_failure_data
    assert f"Airbyte job {JOB_ID}" in failure.description and reason in failure.description
    exists = read_table(settings, "SELECT to_regclass(%s) AS t", (f"import_{name}.sales",))
    assert exists["t"].iloc[0] is None  # nothing written
