"""Faults: PostgreSQL stopped during a backfill, the shop API down and back, MindsDB down.

Everything is real. The PostgreSQL test runs its own embedded server (not the session's), so it
may stop and restart it; the shop API serves that server's shop database from a child process.
The shop-API-down case that never recovers is in test_ingest.py, the model asset failing fast in
test_model_outage.py, the app's banners in test_app.py, and `profiteer up` on a stale pid file or
a crashing service in test_stack_faults.py; here are the recoveries.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from conftest import free_port
from ingest_fixtures import expected_rows
from reliability_fixtures import FIELDS, PrivatePipeline, hour, key_of

from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, wait_ready
from profiteer_pipeline.warehouse import metrics as m

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def own_pg(state_root):
    """A PostgreSQL server of this module only: the tests stop and restart it."""
    password = "faults-" + os.urandom(8).hex()
    server = EmbeddedPostgres(state_root / "faults-postgres", free_port(), password)
    server.start()
    admin = PgUrl("postgres", password, "127.0.0.1", server.port, "postgres")
    wait_ready(admin.dsn())
    yield server, admin
    server.stop()


@pytest.fixture(scope="module")
def pipeline(own_pg, state_root, settings):
    _, admin = own_pg
    p = PrivatePipeline(
        "faults", admin, state_root / "faults", free_port(), settings.shop_api_key
    ).create()
    p.start_api()
    yield p
    p.stop_api()


def restart(server: EmbeddedPostgres, admin: PgUrl) -> None:
    server.start()
    wait_ready(admin.dsn())


class Watched:
    """A run of the job in a thread, on an instance whose events this thread can read."""

    def __init__(self, instance: dg.DagsterInstance, target, *args, **kwargs):
        self.instance = instance
        self.result: dg.ExecuteInProcessResult | None = None
        self.error: BaseException | None = None

        def body() -> None:
            try:
                self.result = target(*args, instance=instance, raise_on_error=False, **kwargs)
            except BaseException as exc:  # reported by the test
                self.error = exc

        self.thread = threading.Thread(target=body, name="watched-run")
        self.thread.start()

    def events(self, event_type: dg.DagsterEventType, step_key: str) -> list[dg.EventLogEntry]:
        runs = self.instance.get_runs()
        if not runs:
            return []
        return [
            e
            for e in self.instance.all_logs(runs[0].run_id, of_type=event_type)
            if e.step_key == step_key
        ]

    def wait_for(self, event_type: dg.DagsterEventType, step_key: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.events(event_type, step_key):
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError(
                    f"no {event_type.value} of {step_key} (run ended or timed out)"
                )
            time.sleep(0.1)

    def join(self, timeout: float = 300) -> dg.ExecuteInProcessResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not end"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures, "no step failed"
    data = failures[0].step_failure_data
    return data.user_failure_data.description if data.user_failure_data else data.error.message


def retry_reason(entry: dg.EventLogEntry) -> str:
    """The messages of a STEP_UP_FOR_RETRY's error and its causes (the first is Dagster's own)."""
    error, parts = entry.dagster_event.event_specific_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause or error.context
    return "\n".join(parts)


def assert_complete(p: PrivatePipeline, start, end) -> None:
    """No gap, no duplicate: shop, raw and sales hold exactly the generator's rows of the window,
    and the incrementally kept metrics equal a full rebuild from `sales`."""
    tables = p.tables(start, end)
    expected = expected_rows(start, end)[FIELDS].reset_index(drop=True)
    for name in ("shop", "raw", "sales"):
        actual = tables[name].astype(expected.dtypes.to_dict())
        pd.testing.assert_frame_equal(actual, expected, check_exact=True, obj=name)
    incremental = p.metric_tables()
    conn = psycopg2.connect(p.dsn(p.warehouse_db))
    try:
        m.refresh_metrics(conn)  # from scratch
    finally:
        conn.close()
    rebuilt = p.metric_tables()
    for name, frame in rebuilt.items():
        pd.testing.assert_frame_equal(incremental[name], frame, check_exact=False, obj=name)


def test_postgres_stopped_during_a_backfill(own_pg, pipeline, tmp_path):
    server, admin = own_pg
    p = pipeline
    first = hour("2026-07-01-00:00")
    keys = [key_of(first + timedelta(hours=i)) for i in range(8)]

    # 1. one run per partition (`dagster job backfill`); the server stops between two runs
    assert p.run(keys[0]).success
    server.stop()
    try:
        t0 = time.monotonic()
        down = p.run(keys[1], raise_on_error=False)
        took = time.monotonic() - t0
    finally:
        restart(server, admin)
    assert not down.success
    message = failure_message(down)
    assert f"cannot connect to PostgreSQL at postgres:***@127.0.0.1:{server.port}/" in (
        message.replace("postgresql://", "")
    ), message
    assert admin.password not in message
    assert took < 60, f"the affected run took {took:.0f}s to fail"
    # the backfill goes on: the failed partition again (as a re-executed backfill does), the rest
    for key in keys[1:4]:
        assert p.run(key).success, key

    # 2. the rest of the backfill as one single run for a range, with the server back
    #    (stopping the server *while* a step runs raced with the step's speed: which step met the
    #    outage, or whether one did, was timing; the RetryPolicy itself is shown by the shop-API
    #    outage test below)
    result = p.run((keys[4], keys[7]))
    assert result.success, failure_message(result)

    assert_complete(p, first, first + timedelta(hours=8))


def test_shop_api_down_then_back_the_sync_retries_and_completes(pipeline, tmp_path):
    p = pipeline
    key = "2026-07-02-12:00"
    start = hour(key)
    p.stop_api()
    try:
        (tmp_path / "instance").mkdir()
        with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "instance")) as instance:
            run = Watched(instance, p.run, key)
            run.wait_for(dg.DagsterEventType.STEP_UP_FOR_RETRY, "raw_sales", timeout=180)
            p.start_api()  # back before the retry (RetryPolicy delay 5 s)
            result = run.join()
            assert result.success, failure_message(result)
            (retry,) = run.events(dg.DagsterEventType.STEP_UP_FOR_RETRY, "raw_sales")
            reason = retry_reason(retry)
            assert f"shop API at {p.api_url}" in reason, reason
    finally:
        if not p.table.running(f"{p.name}-shop-api"):
            p.start_api()
    assert p.raw_count(start, start + timedelta(hours=1)) == 15
    tables = p.tables(start, start + timedelta(hours=1))
    assert len(tables["sales"]) == 15


def test_mindsdb_down_hourly_job_and_metrics_keep_running(settings, monkeypatch, state_root):
    """The code location as `profiteer up` loads it, MINDSDB_URL pointing at a closed port: the
    hourly job (ingest and metrics) succeeds; the model asset alone fails, fast, naming the URL."""
    from profiteer_pipeline.definitions import defs

    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MINDSDB_URL", closed)
    p = PrivatePipeline(
        "faults_mindsdb", settings.warehouse, state_root / "faults_mindsdb", free_port(),
        settings.shop_api_key,
    ).create()  # fmt: skip
    p.start_api()
    try:
        for name, value in {
            "PROFITEER_WAREHOUSE_DB": p.warehouse_db,
            "PROFITEER_SHOP_DB": p.shop_db,
            "PROFITEER_SHOP_API_URL": p.api_url,
        }.items():
            monkeypatch.setenv(name, value)
        key = "2026-07-03-09:00"
        start = hour(key)
        with dg.DagsterInstance.ephemeral() as instance:
            job = defs.resolve_job_def("hourly_sales_job")
            result = job.execute_in_process(partition_key=key, instance=instance)
            assert result.success
            assert result.asset_materializations_for_node("analytics_metrics")

            model = defs.resolve_implicit_global_asset_job_def()
            t0 = time.monotonic()
            failed = model.execute_in_process(
                instance=instance,
                asset_selection=[dg.AssetKey("sales_forecast")],
                raise_on_error=False,
            )
            took = time.monotonic() - t0
        assert not failed.success
        assert closed in failure_message(failed)
        assert took < 60
        assert len(p.tables(start, start + timedelta(hours=1))["sales"]) == 15
    finally:
        p.stop_api()
