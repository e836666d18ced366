"""`make up`'s main job on the real code location, with PostgreSQL instance storage.

`dagster dev -w workspace.yaml` (webserver and daemon, as `profiteer up` runs them) on a fresh
instance: a DAGSTER_HOME holding the repository's dagster.yaml, a new Dagster database and an
empty warehouse of its own on the session's server, the session's shop API and MindsDB (the model
dropped first). The main job backfills three hours (48 on `make up`) and then only watches: the
automation sensor must materialize `products`, `sales_features`, the first `sales_forecast` and its
`price_recommendations`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import free_port
from ingest_fixtures import shop_api  # noqa: F401 - fixture
from instance_fixtures import BIN, REPO, fresh_instance, scalar

from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.stack.main_job import run_main_job
from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

pytestmark = [pytest.mark.mindsdb, pytest.mark.timeout(1800)]

HOURS = 3
PROCESS = "dagster-dev-main-job"


@pytest.fixture(scope="module")
def real_dagster(pg_server, shop_api, settings, state_root, mindsdb_url):  # noqa: F811
    """`dagster dev` on the real code location and a fresh instance; its URL and the instance."""
    fresh = fresh_instance(settings, state_root, mindsdb_url, "main_job")
    port = free_port()
    table = ProcessTable(state_root / "run", state_root / "logs")
    rec = table.spawn(
        PROCESS,
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        fresh.env,
        cwd=REPO,
        port=port,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_ok(url + "/server_info"),
            timeout=240, name="dagster dev", log=rec.log, pid=rec.pid,
        )  # fmt: skip
        yield url, fresh
    finally:
        table.stop(PROCESS, timeout=30)


def _hours(now: datetime) -> list[datetime]:
    return [now - timedelta(hours=h) for h in range(HOURS, 0, -1)]


def test_the_main_job_backfills_and_automation_trains_the_model(real_dagster, mindsdb_url):
    url, fresh = real_dagster
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t = time.monotonic()
    run_main_job(url, echo, lambda: None, partitions=HOURS)
    print(f"main job ({HOURS} hours) in {time.monotonic() - t:.0f}s")
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    text = "\n".join(lines)

    # the backfill's hours are in `sales`, one row per product and hour
    landed = scalar(
        fresh.warehouse,
        'SELECT array_agg(DISTINCT "timestamp" ORDER BY "timestamp") FROM public.sales',
    )
    assert landed in (_hours(before), _hours(after)), (landed, text)
    assert scalar(fresh.warehouse, "SELECT count(*) FROM public.sales") == 15 * HOURS
    # automation built the rest: the catalog table and a complete model
    assert scalar(fresh.warehouse, "SELECT count(*) FROM public.products") == 15
    versions = MindsDBClient(mindsdb_url).versions(DEFAULT_SPEC.name, DEFAULT_SPEC.project)
    assert any(v.status == "complete" for v in versions), versions

    # what it printed: the backfill, then the automation's runs
    first, last = (f"{h.astimezone(UTC):%Y-%m-%d-%H:%M}" for h in (landed[0], landed[-1]))
    assert f" of hourly_sales_job, {first} .. {last} ({url}/runs/b/" in text, text
    assert f"{HOURS}/{HOURS} done, 0 failed" in text, text
    assert f"  backfill   done: {HOURS} partitions in " in text, text
    watching = next(i for i, x in enumerate(lines) if x.startswith("  main job: automation "))
    after_backfill = lines[watching:]
    # who launched each: the automation sensor; the first model may also come from the daily
    # fallback schedule when the test runs across its 03:30 UTC tick (it trains a missing model)
    launchers = {
        "sales_features": ("automation_condition_sensor",),
        "sales_forecast": ("automation_condition_sensor", "daily_retraining_schedule"),
        "price_recommendations": ("automation_condition_sensor",),
    }
    for asset, by in launchers.items():
        assert any(
            x.startswith("  run ") and asset in x and any(f" by {b}: " in x for b in by)
            for x in after_backfill
        ), text
        assert any(x.startswith(f"  {asset:<15} materialized by run ") for x in after_backfill)
    assert any(x.startswith("  products ") and " materialized " in x for x in lines), text
    assert lines[-1].startswith(
        "  automation done: products, sales_features, sales_forecast, price_recommendations "
        "materialized"
    ), text
