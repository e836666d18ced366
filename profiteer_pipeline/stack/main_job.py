"""The main job of `profiteer up`: backfill the last 48 hours, then train the model.

It drives the running Dagster webserver through its GraphQL API (what the UI itself calls), so the
runs go through the instance's run queue and daemon like any other run and show up in the UI.
Whatever the code location does not define yet is skipped with a message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from profiteer_pipeline.stack.errors import MainJobError

BACKFILL_JOB = "hourly_sales_job"
MODEL_ASSET = "sales_forecast"
PARTITIONS = 48
TAGS = [{"key": "profiteer/launched_by", "value": "profiteer up"}]

TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
ENDED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@dataclass(frozen=True)
class Location:
    location: str
    repository: str
    jobs: dict[str, list[str]]  # job name -> its nodes (an empty asset selection has none)

    def selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository}


class GraphQL:
    def __init__(self, dagster_url: str, timeout: float = 60):
        self.url = dagster_url.rstrip("/")
        self.timeout = timeout

    def __call__(self, query: str, **variables) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(
            self.url + "/graphql", body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (loopback)
                payload = json.load(resp)
        except (urllib.error.URLError, OSError) as exc:
            raise MainJobError(f"Dagster at {self.url} does not answer: {exc}") from None
        if payload.get("errors"):
            raise MainJobError(f"Dagster GraphQL error: {payload['errors'][0].get('message')}")
        return payload["data"]


WORKSPACE = """
query {
  workspaceOrError {
    __typename
    ... on PythonError { message }
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation { name repositories { name jobs { name nodeNames } } }
        }
      }
    }
  }
}"""

PARTITION_SETS = """
query ($repositorySelector: RepositorySelector!, $job: String!, $limit: Int!) {
  partitionSetsOrError(repositorySelector: $repositorySelector, pipelineName: $job) {
    __typename
    ... on PythonError { message }
    ... on PartitionSets {
      results { name partitionsOrError(reverse: true, limit: $limit) {
        __typename ... on Partitions { results { name } } ... on PythonError { message } } }
    }
  }
}"""

LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}"""

BACKFILL = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on Error { message }
    ... on PartitionBackfill {
      status
      numPartitions
      error { message }
      partitionStatuses { results { partitionName runId runStatus } }
    }
  }
}"""

ASSETS = """
query {
  assetNodes {
    assetKey { path }
    isMaterializable
    isPartitioned
    jobNames
    repository { name location { name } }
  }
}"""

LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}"""

FAILURE = """
query ($id: ID!) {
  logsForRun(runId: $id) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey error { message cause { message } } }
        ... on RunFailureEvent { message }
      }
    }
  }
}"""

RUN = """
query ($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Error { message }
    ... on Run { status stepStats { stepKey status } }
  }
}"""


def wait_for_location(gql: GraphQL, check_stop: Callable[[], None], timeout: float = 300):
    """The loaded code location holding the repository, or MainJobError with its load error."""
    deadline = time.monotonic() + timeout
    while True:
        check_stop()
        ws = gql(WORKSPACE)["workspaceOrError"]
        if ws["__typename"] != "Workspace":
            raise MainJobError(f"Dagster cannot list its code locations: {ws.get('message')}")
        entries = ws["locationEntries"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            break
        if time.monotonic() > deadline:
            raise MainJobError(f"the code location did not load within {timeout:.0f}s")
        time.sleep(1)
    for entry in entries:
        loc = entry["locationOrLoadError"] or {}
        if loc.get("__typename") == "PythonError":
            first = (loc.get("message") or "").strip().splitlines()[:1]
            raise MainJobError(
                f"the code location {entry['name']!r} failed to load: {' '.join(first)}"
            )
        for repo in loc.get("repositories", []):
            return Location(
                loc["name"], repo["name"], {j["name"]: j["nodeNames"] for j in repo["jobs"]}
            )
    raise MainJobError("Dagster has no code location loaded (check workspace.yaml)")


def run_main_job(
    dagster_url: str,
    echo: Callable[[str], None],
    check_stop: Callable[[], None],
    *,
    job: str = BACKFILL_JOB,
    asset: str = MODEL_ASSET,
    partitions: int = PARTITIONS,
    poll: float = 3.0,
) -> None:
    """Backfill `job` over the last `partitions` complete hours, then materialize `asset`.

    `check_stop` raises to abandon the wait (Ctrl-C); the runs already queued stay in Dagster.
    Raises MainJobError naming the backfill or run and its UI page when anything fails.
    """
    gql = GraphQL(dagster_url)
    ui = gql.url
    location = wait_for_location(gql, check_stop)
    _backfill(gql, ui, location, echo, check_stop, job, partitions, poll)
    _materialize(gql, ui, echo, check_stop, asset, poll)


def _backfill(gql, ui, location, echo, check_stop, job, partitions, poll) -> None:
    """Launch the backfill and wait for every partition's run; MainJobError if any failed."""
    nodes = location.jobs.get(job)
    if nodes is None:
        echo(f"  main job: no job {job!r} in the code location yet: backfill skipped")
        return
    if not nodes:
        echo(f"  main job: {job} selects no assets yet: backfill skipped")
        return
    sets = gql(
        PARTITION_SETS,
        repositorySelector=location.selector(),
        job=job,
        limit=partitions,
    )["partitionSetsOrError"]
    if sets["__typename"] != "PartitionSets" or not sets["results"]:
        echo(f"  main job: {job} has no partitions: backfill skipped")
        return
    pset = sets["results"][0]
    keys_or_error = pset["partitionsOrError"]
    if keys_or_error["__typename"] != "Partitions":
        raise MainJobError(f"cannot list the partitions of {job}: {keys_or_error.get('message')}")
    keys = sorted(p["name"] for p in keys_or_error["results"])
    if not keys:
        echo(f"  main job: {job} has no complete partition yet: backfill skipped")
        return
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
            echo(f"  backfill   {line}   {_elapsed(time.monotonic() - start)}")
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
    echo(f"  backfill   done: {len(keys)} partitions in {_elapsed(time.monotonic() - start)}")


def _materialize(gql, ui, echo, check_stop, asset, poll) -> None:
    """One run of `asset` with every unpartitioned asset (the views it trains on, the products
    table the app reads): the backfill covered the partitioned ones."""
    nodes = [n for n in gql(ASSETS)["assetNodes"] if n["isMaterializable"]]
    if not any(n["assetKey"]["path"] == [asset] for n in nodes):
        echo(f"  main job: no asset {asset!r} yet: model training skipped")
        return
    selection = [n for n in nodes if not n["isPartitioned"]]
    job = next((j for j in _node(nodes, asset)["jobNames"] if j.startswith("__ASSET_JOB")), None)
    if job is None:
        raise MainJobError(f"{asset} belongs to no asset job: {_node(nodes, asset)['jobNames']}")
    repo = _node(nodes, asset)["repository"]
    names = ", ".join("/".join(n["assetKey"]["path"]) for n in selection)
    launched = gql(
        LAUNCH_RUN,
        params={
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": job,
                "assetSelection": [{"path": n["assetKey"]["path"]} for n in selection],
            },
            "executionMetadata": {"tags": TAGS},
        },
    )["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise MainJobError(f"Dagster refused to run {names}: {launched['message']}")
    run_id = launched["run"]["runId"]
    page = f"{ui}/runs/{run_id}"
    echo(f"  main job: materializing {names}: run {run_id} ({page})")
    start = time.monotonic()
    last = None
    while True:
        check_stop()
        run = gql(RUN, id=run_id)["runOrError"]
        if run["__typename"] != "Run":
            raise MainJobError(f"run {run_id} vanished: {run.get('message')} ({page})")
        if run["status"] != last:
            echo(f"  {asset:<10} {run['status'].lower()}   {_elapsed(time.monotonic() - start)}")
            last = run["status"]
        if run["status"] in TERMINAL_RUN:
            break
        time.sleep(poll)
    if run["status"] != "SUCCESS":
        failed = [s["stepKey"] for s in run["stepStats"] if s["status"] == "FAILURE"]
        steps = f" (failed step: {', '.join(failed)})" if failed else ""
        raise MainJobError(
            f"run {run_id} {run['status'].lower()}{steps}{failure_cause(gql, run_id)}; see {page}"
        )


def _node(nodes: list[dict], asset: str) -> dict:
    return next(n for n in nodes if n["assetKey"]["path"] == [asset])


def failure_cause(gql: GraphQL, run_id: str) -> str:
    """': <first line of the innermost error>' of a failed run, or '' when there is none."""
    try:
        logs = gql(FAILURE, id=run_id)["logsForRun"]
    except MainJobError:
        return ""
    for event in logs.get("events", []):
        error = event.get("error")
        if event["__typename"] == "ExecutionStepFailureEvent" and error:
            while error.get("cause"):
                error = error["cause"]
            lines = [line for line in error["message"].strip().splitlines() if line.strip()]
            return f": {lines[0].strip()[:300]}" if lines else ""
    return ""


def _progress(counts: Counter, total: int) -> str:
    ok, failed = counts["SUCCESS"], counts["FAILURE"] + counts["CANCELED"]
    running = counts["STARTED"] + counts["STARTING"]
    waiting = total - ok - failed - running
    return f"{ok}/{total} done, {failed} failed, {running} running, {waiting} waiting"


def _elapsed(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 90 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
