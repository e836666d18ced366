"""The main job of `profiteer up`, driven through a real `dagster dev` webserver and daemon.

A tiny code location written here (an hourly partitioned `hourly_sales_job` and a `sales_forecast`
asset) stands in for the pipeline, so the backfill, the polling and the failure report are
exercised for real (GraphQL, run queue, daemon, run processes) without the pipeline's heavy assets.
Instance storage is Dagster's default SQLite under a temporary DAGSTER_HOME.
"""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import free_port

from profiteer_pipeline.stack.main_job import MainJobError, run_main_job
from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

pytestmark = pytest.mark.timeout(300)

DEFS = """
import os
from pathlib import Path

import dagster as dg

hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC")


@dg.asset(partitions_def=hourly, group_name="shop")
def synthetic_sales(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partition": context.partition_key})


@dg.asset(partitions_def=hourly, group_name="ingest", deps=[synthetic_sales])
def sales(context: dg.AssetExecutionContext) -> None:
    Path(os.environ["MAIN_JOB_MARKS"], context.partition_key).touch()


@dg.asset(deps=[sales])
def sales_features() -> None:
    Path(os.environ["MAIN_JOB_MARKS"], "features").touch()


@dg.asset(deps=[sales_features])
def sales_forecast() -> None:
    if Path(os.environ["MAIN_JOB_MARKS"], "fail-model").exists():
        raise RuntimeError("simulated training failure")


defs = dg.Definitions(
    assets=[synthetic_sales, sales, sales_features, sales_forecast],
    executor=dg.in_process_executor,  # one process per run: quicker on a busy machine
    jobs=[
        dg.define_asset_job(
            "hourly_sales_job", selection=dg.AssetSelection.groups("shop", "ingest"),
            partitions_def=hourly,
        )
    ],
)
"""


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


def _last_two_hours(now: datetime) -> list[str]:
    return [f"{now - timedelta(hours=h):%Y-%m-%d-%H:%M}" for h in (2, 1)]


def test_backfills_the_last_hours_then_materializes_the_model(dagster_url):
    url, marks = dagster_url
    lines: list[str] = []
    before = _this_hour()
    run_main_job(url, lines.append, _no_stop, partitions=2, poll=1)
    after = _this_hour()
    text = "\n".join(lines)
    # one run per partition, for the last two complete hours (as of the hour the job started in,
    # or the next one if the hour ticked over before it listed the partitions)
    done = sorted(p.name for p in marks.iterdir() if p.name != "features")
    assert done in (_last_two_hours(before), _last_two_hours(after)), text
    assert f"of hourly_sales_job, {done[0]} .. {done[1]} ({url}/runs/b/" in text
    # the model's run also brought its unpartitioned upstream up to date
    assert (marks / "features").exists()
    assert "materializing sales_features, sales_forecast: run " in text
    assert "backfill   done: 2 partitions" in text
    assert "2/2 done, 0 failed" in text
    assert "sales_forecast success" in text
    assert f"{url}/runs/b/" in text


def test_failed_model_run_names_the_run_and_its_page(dagster_url):
    url, marks = dagster_url
    (marks / "fail-model").touch()
    lines: list[str] = []
    try:
        with pytest.raises(MainJobError) as err:
            run_main_job(url, lines.append, _no_stop, job="no_such_job", poll=1)
    finally:
        (marks / "fail-model").unlink()
    message = str(err.value)
    assert (
        "failure (failed step: sales_forecast): RuntimeError: simulated training failure" in message
    )
    assert f"see {url}/runs/" in message
    run_id = message.split("run ", 1)[1].split()[0]
    assert message.endswith(f"{url}/runs/{run_id}")
    assert any("no job 'no_such_job'" in line and "skipped" in line for line in lines)


def test_missing_pieces_are_skipped_with_a_message(dagster_url):
    url, _ = dagster_url
    lines: list[str] = []
    run_main_job(url, lines.append, _no_stop, job="no_such_job", asset="no_such_asset")
    assert lines == [
        "  main job: no job 'no_such_job' in the code location yet: backfill skipped",
        "  main job: no asset 'no_such_asset' yet: model training skipped",
    ]


@pytest.mark.parametrize(
    ("job", "stop_after"),
    [
        ("hourly_sales_job", None),  # at once: while waiting for the code location
        ("hourly_sales_job", "  main job: backfill "),  # while waiting for the backfill's runs
        ("no_such_job", "  main job: materializing "),  # while waiting for the model's run
    ],
    ids=["code-location", "backfill", "model-run"],
)
def test_ctrl_c_abandons_the_wait(dagster_url, job, stop_after):
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
        run_main_job(url, lines.append, stop, job=job, partitions=2, poll=1)
    if stop_after is None:
        assert lines == []
    else:
        assert [line for line in lines if line.startswith(stop_after)] == lines[-1:], lines
    if job == "no_such_job":
        assert lines[0].startswith("  main job: no job 'no_such_job'"), lines
