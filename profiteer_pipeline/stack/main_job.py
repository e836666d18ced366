"""The main job of `profiteer up`: backfill the last 48 hours, then watch automation do the rest.

It drives the running Dagster webserver through its GraphQL API (`dagster_api.py`), so the
backfill's runs go through the instance's run queue and daemon like any other run:

1. it waits for the code location to load;
2. it launches a backfill of `hourly_sales_job` over the last 48 complete hours (one run per hour)
   and prints its progress until every run has ended;
3. it launches nothing more, and watches automation materialize what follows
   (`automation_watch.py`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from profiteer_pipeline.stack.automation_watch import WATCH_TIMEOUT, WATCHED, Watch
from profiteer_pipeline.stack.dagster_api import (
    BACKFILL,
    LAUNCH_BACKFILL,
    PARTITION_SETS,
    TERMINAL_RUN,
    GraphQL,
    elapsed,
    failure_cause,
    wait_for_location,
)
from profiteer_pipeline.stack.errors import MainJobError

BACKFILL_JOB = "hourly_sales_job"
PARTITIONS = 48
TAGS = [{"key": "profiteer/launched_by", "value": "profiteer up"}]
ENDED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def run_main_job(
    dagster_url: str,
    echo: Callable[[str], None],
    check_stop: Callable[[], None],
    *,
    partitions: int = PARTITIONS,
    timeout: float = WATCH_TIMEOUT,
    poll: float = 3.0,
    watched: tuple[str, ...] = WATCHED,
) -> None:
    """Backfill `hourly_sales_job` over the last `partitions` complete hours, then wait (at most
    `timeout` seconds) while automation materializes the `watched` assets.

    `check_stop` raises to abandon a wait (Ctrl-C); the runs already queued stay in Dagster.
    Raises MainJobError naming the backfill or run and its UI page when anything fails.
    """
    started = time.time()
    gql = GraphQL(dagster_url)
    location = wait_for_location(gql, check_stop)
    _backfill(gql, location, echo, check_stop, partitions, poll)
    Watch(gql, location, echo, started, watched).run(check_stop, timeout, poll)


def _backfill(gql, location, echo, check_stop, partitions, poll) -> None:
    """Launch the backfill and wait for every partition's run; MainJobError if any failed."""
    ui, job = gql.url, BACKFILL_JOB
    sets = gql(PARTITION_SETS, repositorySelector=location.selector(), job=job, limit=partitions)[
        "partitionSetsOrError"
    ]
    if sets["__typename"] != "PartitionSets" or not sets["results"]:
        why = sets.get("message") or "it has no partition set"
        raise MainJobError(f"cannot find the partitions of {job}: {why}")
    pset = sets["results"][0]
    keys_or_error = pset["partitionsOrError"]
    if keys_or_error["__typename"] != "Partitions":
        raise MainJobError(f"cannot list the partitions of {job}: {keys_or_error.get('message')}")
    keys = sorted(p["name"] for p in keys_or_error["results"])
    launched = gql(
        LAUNCH_BACKFILL,
        params={
            "selector": {
                "partitionSetName": pset["name"],
                "repositorySelector": location.selector(),
            },
            "partitionNames": keys,
            "tags": TAGS,
            "title": f"profiteer up: last {len(keys)} hours",
        },
    )["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise MainJobError(f"Dagster refused the backfill of {job}: {launched['message']}")
    backfill_id = launched["backfillId"]
    page = f"{ui}/runs/b/{backfill_id}"
    echo(f"  main job: backfill {backfill_id} of {job}, {keys[0]} .. {keys[-1]} ({page})")
    start = time.monotonic()
    last = None
    while True:
        check_stop()
        bf = gql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        if bf["__typename"] != "PartitionBackfill":
            raise MainJobError(f"backfill {backfill_id} vanished: {bf.get('message')} ({page})")
        runs = {s["partitionName"]: s for s in (bf["partitionStatuses"] or {}).get("results", [])}
        counts = Counter(
            (runs.get(k) or {}).get("runStatus") or "NOT_LAUNCHED" for k in keys
        )  # one entry per partition, latest run
        line = _progress(counts, len(keys))
        if line != last:
            echo(f"  backfill   {line}   {elapsed(time.monotonic() - start)}")
            last = line
        if bf["status"] in {"FAILED", "CANCELED"} and bf["error"]:
            raise MainJobError(
                f"backfill {backfill_id} {bf['status'].lower()}: {bf['error']['message'].strip()}"
                f" ({page})"
            )
        done = sum(counts[s] for s in TERMINAL_RUN)
        if done == len(keys) or (
            bf["status"] in ENDED_BACKFILL and counts["NOT_LAUNCHED"] + done == len(keys)
        ):
            break
        time.sleep(poll)
    bad = [(k, runs[k]) for k in keys if runs.get(k) and runs[k]["runStatus"] != "SUCCESS"]
    if bad or counts["NOT_LAUNCHED"]:
        first = ""
        if bad:
            run_id = bad[0][1]["runId"]
            first = f"; first failed run {run_id}{failure_cause(gql, run_id)} ({ui}/runs/{run_id})"
        raise MainJobError(
            f"backfill {backfill_id}: {len(bad)} of {len(keys)} partitions failed"
            f" ({counts['NOT_LAUNCHED']} never launched){first}; see {page}"
        )
    echo(f"  backfill   done: {len(keys)} partitions in {elapsed(time.monotonic() - start)}")


def _progress(counts: Counter, total: int) -> str:
    ok, failed = counts["SUCCESS"], counts["FAILURE"] + counts["CANCELED"]
    running = counts["STARTED"] + counts["STARTING"]
    waiting = total - ok - failed - running
    return f"{ok}/{total} done, {failed} failed, {running} running, {waiting} waiting"
