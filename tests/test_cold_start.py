"""Cold start: what a Kubernetes install does, here. The acceptance test of the self-driving graph.

A fresh Dagster instance (PostgreSQL storage, a database of its own, the repository's dagster.yaml),
an empty warehouse, the session's shop API and MindsDB, and a real `dagster-daemon run`. The test
then only launches a backfill of the three latest hours (what the hourly schedule would do over
three hours) and waits, issuing no other command: automation must materialize `products`,
`sales_features`, the first `sales_forecast` and its `price_recommendations`, and the app's
catalog and simulation pages must render from what it built. Three hours hold no day out, so
the model is not evaluated and, by the rule every source's model answers to, advises no price.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from app_fixtures import point_app_at
from ingest_fixtures import shop_api  # noqa: F401 - fixture
from instance_fixtures import BIN, REPO, fresh_instance, materialized, scalar
from streamlit.testing.v1 import AppTest
from test_backfill_cli import WORKSPACE, dagster

from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.stack.processes import ProcessTable

pytestmark = [pytest.mark.mindsdb, pytest.mark.timeout(1500)]

HOME = REPO / "profiteer_app" / "Home.py"
HOURS = 3
WAIT_SECONDS = 1200


@pytest.fixture(scope="module")
def cold_instance(pg_server, shop_api, settings, state_root, mindsdb_url):  # noqa: F811
    """A fresh instance and an empty warehouse, a running daemon; MindsDB without the model."""
    fresh = fresh_instance(settings, state_root, mindsdb_url, "cold_start")
    table = ProcessTable(state_root / "run", state_root / "logs")
    rec = table.spawn(
        "dagster-daemon-cold-start",
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        fresh.env,
        cwd=REPO,
    )
    yield fresh.env, fresh.warehouse, fresh.dagster_db, rec.log
    table.stop("dagster-daemon-cold-start", timeout=30)


def test_a_fresh_instance_reaches_a_trained_model_by_itself(
    cold_instance, mindsdb_url, monkeypatch
):
    env, warehouse, dagster_db, daemon_log = cold_instance
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first, last = (f"{now - timedelta(hours=h):%Y-%m-%d-%H:%M}" for h in (HOURS, 1))
    start = time.monotonic()
    out = dagster(env, "job", "backfill", "-w", WORKSPACE, "-j", "hourly_sales_job",
                  "--from", first, "--to", last, "--noprompt")  # fmt: skip
    assert "Launched backfill job" in out, out

    client = MindsDBClient(mindsdb_url)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # wait; no other command
        versions = client.versions(DEFAULT_SPEC.name, DEFAULT_SPEC.project)
        if (
            materialized(dagster_db, DEFAULT_SPEC.name)
            and any(v.status == "complete" for v in versions)
            and materialized(dagster_db, "price_recommendations")
        ):
            break
        assert time.monotonic() < deadline, (
            f"no trained model after {WAIT_SECONDS}s: products "
            f"{materialized(dagster_db, 'products')}, sales_features "
            f"{materialized(dagster_db, 'sales_features')}, versions {versions}, "
            f"recommendations {materialized(dagster_db, 'price_recommendations')}; "
            f"daemon log {daemon_log}"
        )
        time.sleep(5)
    print(f"empty instance -> complete model in {time.monotonic() - start:.0f}s")

    assert scalar(warehouse, "SELECT count(*) FROM public.products") == 15
    assert materialized(dagster_db, "sales_features") >= 1
    assert scalar(warehouse, "SELECT count(*) FROM public.sales_features") == 15 * HOURS
    assert scalar(warehouse, "SELECT count(*) FROM analytics.product_stats") == 15
    assert scalar(warehouse, "SELECT sum(items_sold) FROM analytics.dashboard_summary") > 0

    point_app_at(monkeypatch, warehouse, mindsdb_url, DEFAULT_SPEC.qualified_name)
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    at.switch_page("views/catalog.py").run()
    assert not at.exception and not at.error, [e.value for e in at.exception or at.error]
    assert sum(1 for b in at.button if (b.key or "").startswith("simulate_")) == 15
    at.button(key="simulate_P007").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception or at.error]
    assert [t.value for t in at.title] == ["Price simulation"]
    assert at.selectbox(key="product").value == "P007"
    notice = at.info[0].value  # not evaluated: no price, and the page says why
    assert notice.startswith("**No price change advised**") and "not evaluated" in notice
