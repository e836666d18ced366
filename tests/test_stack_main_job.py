"""The main job of `profiteer up`, driven through a real `dagster dev` webserver and daemon.

A tiny code location written here stands in for the pipeline: an hourly partitioned
`hourly_sales_job` (`synthetic_sales` -> `sales`), and `products`, `sales_features` and
`sales_forecast` with the pipeline's own automation conditions, evaluated by an automation sensor
that is on by default (every 5 s here). So the backfill, the watching of what automation does, the
failure report and Ctrl-C are exercised for real (GraphQL, run queue, daemon, automation sensor,
run processes) without the pipeline's heavy assets. Instance storage is Dagster's default SQLite
under a temporary DAGSTER_HOME. `test_stack_main_job_real.py` runs the same job on the real code.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import free_port

from profiteer_pipeline.stack.main_job import MainJobError, run_main_job
from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

pytestmark = pytest.mark.timeout(300)

#: The stand-in location's automated assets (it has no recommendations).
STAND_IN = ("products", "sales_features", "sales_forecast")

DEFS = """
import os
import time
from pathlib import Path

import dagster as dg

from profiteer_pipeline.defs.automation.conditions import first_model, follow_inputs, keep_fresh

MARKS = Path(os.environ["MAIN_JOB_MARKS"])
hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC")


@dg.asset(partitions_def=hourly, group_name="shop")
def synthetic_sales(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partition": context.partition_key})


@dg.asset(partitions_def=hourly, group_name="ingest", deps=[synthetic_sales])
def sales(context: dg.AssetExecutionContext) -> None:
    (MARKS / context.partition_key).touch()


@dg.asset(group_name="warehouse", automation_condition=keep_fresh())
def products() -> None:
    (MARKS / "products").touch()


@dg.asset(group_name="warehouse", deps=[sales], automation_condition=follow_inputs())
def sales_features() -> None:
    (MARKS / "features").touch()


@dg.asset(group_name="model", deps=[sales_features], automation_condition=first_model())
def sales_forecast() -> None:
    for _ in range(300):  # the test holds the training here while the mark exists
        if not (MARKS / "slow-model").exists():
            break
        time.sleep(0.5)
    if (MARKS / "fail-model").exists():
        raise RuntimeError("simulated training failure")


defs = dg.Definitions(
    assets=[synthetic_sales, sales, products, sales_features, sales_forecast],
    executor=dg.in_process_executor,  # one process per run: quicker on a busy machine
    jobs=[
        dg.define_asset_job(
            "hourly_sales_job", selection=dg.AssetSelection.groups("shop", "ingest"),
            partitions_def=hourly,
        )
    ],
    sensors=[
        dg.AutomationConditionSensorDefinition(
            "automation_condition_sensor",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=5,
        )
    ],
)
"""

WIPE = """
mutation ($ranges: [PartitionsByAssetSelector!]!) {
  wipeAssets(assetPartitionRanges: $ranges) { __typename }
}"""


@pytest.fixture(scope="module")
def dagster_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("main-job")
    (root / "defs.py").write_text(textwrap.dedent(DEFS))
    (root / "workspace.yaml").write_text(
        "load_from:\n  - python_file:\n      relative_path: defs.py\n      location_name: tiny\n"
    )
    home, marks = root / "home", root / "marks"
    home.mkdir()
    marks.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROFITEER_", "DAGSTER_"))} | {
        "DAGSTER_HOME": str(home),
        "MAIN_JOB_MARKS": str(marks),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    port = free_port()
    table = ProcessTable(root / "run", root / "logs")
    dagster = str(Path(sys.executable).parent / "dagster")
    rec = table.spawn(
        "dagster",
        [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
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
        yield url, marks
    finally:
        table.stop("dagster")


def _no_stop() -> None:
    return None


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _last_hours(now: datetime, n: int) -> list[str]:
    return [f"{now - timedelta(hours=h):%Y-%m-%d-%H:%M}" for h in range(n, 0, -1)]


def _wipe(url: str, asset: str) -> None:
    """Forget `asset`'s materializations: automation sees it missing again (a fresh model)."""
    body = json.dumps(
        {"query": WIPE, "variables": {"ranges": [{"assetKey": {"path": [asset]}}]}}
    ).encode()
    req = urllib.request.Request(url + "/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert json.load(resp)["data"]["wipeAssets"]["__typename"] == "AssetWipeSuccess"


def test_backfills_the_last_hours_then_watches_automation_do_the_rest(dagster_url):
    url, marks = dagster_url
    lines: list[str] = []
    before = _this_hour()
    run_main_job(url, lines.append, _no_stop, partitions=2, poll=1, watched=STAND_IN)
    after = _this_hour()
    text = "\n".join(lines)
    print(text)
    # one run per partition, for the last two complete hours (as of the hour the job started in,
    # or the next one if the hour ticked over before it listed the partitions)
    done = sorted(p.name for p in marks.iterdir() if p.name[0].isdigit())
    assert done in (_last_hours(before, 2), _last_hours(after, 2)), text
    assert f"of hourly_sales_job, {done[0]} .. {done[1]} ({url}/runs/b/" in text
    assert "2/2 done, 0 failed" in text
    assert "backfill   done: 2 partitions" in text
    # then the main job launched nothing: automation materialized the rest, and it said so
    assert (marks / "products").exists() and (marks / "features").exists()
    watching = lines.index(
        "  main job: automation materializes products, sales_features, sales_forecast; "
        "watching (at most 20m00s)"
    )
    assert watching > lines.index(next(x for x in lines if x.startswith("  backfill   done")))
    runs = [x for x in lines[watching:] if x.startswith("  run ")]
    assert any(
        " of sales_features by automation_condition_sensor: " in x
        or " of products, sales_features by automation_condition_sensor: " in x
        for x in runs
    ), text
    assert any(" of sales_forecast by automation_condition_sensor: " in x for x in runs), text
    assert all(f"{url}/runs/" in x for x in runs if " by " in x), text
    assert any(x.startswith("  products ") and "materialized" in x for x in lines), text
    assert any(x.startswith("  sales_features  materialized by run ") for x in lines), text
    assert any(x.startswith("  sales_forecast  materialized by run ") for x in lines), text
    assert lines[-1].startswith(
        "  automation done: products, sales_features, sales_forecast materialized"
    ), text


def test_failed_automation_run_names_the_run_and_its_page(dagster_url):
    """A first model whose training fails after the backfill's hours landed (no run retries here,
    no newer input), so the job fails at once, naming the run, its error and its page."""
    url, marks = dagster_url
    (marks / "fail-model").touch()
    _wipe(url, "sales_forecast")
    lines: list[str] = []
    try:
        with pytest.raises(MainJobError) as err:
            run_main_job(url, lines.append, _no_stop, partitions=1, poll=1, watched=STAND_IN)
    finally:
        (marks / "fail-model").unlink()
    message = str(err.value)
    run_id = message.split("sales_forecast: run ", 1)[1].split()[0]
    assert message == (
        f"sales_forecast: run {run_id} failure (failed step: sales_forecast): RuntimeError: "
        f"simulated training failure; see {url}/runs/{run_id}"
    )
    text = "\n".join(lines)
    assert "backfill   done: 1 partitions" in text
    assert any(
        x.startswith(f"  run {run_id[:8]}") and "failure: RuntimeError: simulated" in x
        for x in lines
    ), text


def test_a_timeout_names_what_automation_has_not_materialized(dagster_url):
    url, marks = dagster_url
    (marks / "slow-model").touch()  # the first model's training waits for this mark to go
    _wipe(url, "sales_forecast")
    lines: list[str] = []
    try:
        with pytest.raises(MainJobError) as err:
            run_main_job(
                url, lines.append, _no_stop, partitions=1, timeout=2, poll=1, watched=STAND_IN
            )
    finally:
        (marks / "slow-model").unlink()
    message = str(err.value)
    assert message.startswith("automation did not materialize "), message
    assert " within 2s: " in message and "sales_forecast: " in message, message
    assert message.endswith(f". The automation sensor's ticks: {url}/automation")
    assert "backfill   done: 1 partitions" in "\n".join(lines)


@pytest.mark.parametrize(
    "stop_after",
    [
        None,  # at once: while waiting for the code location
        "  main job: backfill ",  # while waiting for the backfill's runs
        "  main job: automation materializes ",  # while watching automation
    ],
    ids=["code-location", "backfill", "automation"],
)
def test_ctrl_c_abandons_the_wait(dagster_url, stop_after):
    """Ctrl-C in any of the three waits ends it at the next check: nothing is echoed after it
    (no progress line, no result, no next step)."""
    url, _ = dagster_url
    lines: list[str] = []

    class Stop(Exception):
        pass

    def stop() -> None:  # Ctrl-C pressed once `stop_after` was echoed
        if stop_after is None or any(line.startswith(stop_after) for line in lines):
            raise Stop

    with pytest.raises(Stop):
        run_main_job(url, lines.append, stop, partitions=2, poll=1, watched=STAND_IN)
    if stop_after is None:
        assert lines == []
    else:
        assert [line for line in lines if line.startswith(stop_after)] == lines[-1:], lines
