"""The main job of `profiteer up`: backfill the last 48 hours, then watch automation do the rest.

It drives the running Dagster webserver through its GraphQL API (the queries the UI itself makes),
so the backfill's runs go through the instance's run queue and daemon like any other run:

1. it waits for the code location to load;
2. it launches a backfill of `hourly_sales_job` over the last 48 complete hours (one run per hour)
   and prints its progress until every run has ended;
3. it launches nothing more. The automation sensor materializes `products` (when missing),
   `sales_features` (after `sales` updated) and the first `sales_forecast` (after its training
   data updated); the retraining sensor retrains an existing model once enough new hours landed.
   The main job watches the runs for these three assets, printing each one's status, until each
   has a materialization newer than the job's start (`products`: any materialization).

A run for one of them that fails ends the job with a MainJobError naming the run, its error and its
page, unless Dagster retries it (run retries: its `dagster/will_retry` tag) or something upstream
was updated after the run was launched, so automation requests the asset again with new data (say,
a first model whose training started before the backfill's hours had landed). Automation would
also request a still-missing asset again and again with the same inputs; the job reports the first
such failure rather than watching that loop. If the three are not materialized after `timeout`
seconds of watching, it gives up naming what is missing.
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
PARTITIONS = 48
#: What automation must materialize after the backfill, in the graph's order.
WATCHED = ("products", "sales_features", "sales_forecast")
#: Any materialization will do: the catalog table is rebuilt when missing, not after each hour.
ANY_MATERIALIZATION = {"products"}
WATCH_TIMEOUT = 1200.0
TAGS = [{"key": "profiteer/launched_by", "value": "profiteer up"}]

TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
FAILED_RUN = {"FAILURE", "CANCELED"}
ENDED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
WILL_RETRY = "dagster/will_retry"


@dataclass(frozen=True)
class Location:
    location: str
    repository: str
    jobs: dict[str, list[str]]  # job name -> its nodes (an asset job's nodes are its assets)

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

# one run of a job (the benchmark's single-partition runs)
LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}"""

SENSORS = """
query ($repositorySelector: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Error { message }
    ... on Sensors { results { name sensorType sensorState { status } } }
  }
}"""

# each asset's latest materialization, and its inputs' (for a partitioned input: any partition's)
ASSETS = """
query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    assetMaterializations(limit: 1) { timestamp runId }
    dependencies { asset { assetKey { path } assetMaterializations(limit: 1) { timestamp runId } } }
  }
}"""

RUNS = """
query ($after: Float!) {
  runsOrError(filter: {updatedAfter: $after}, limit: 1000) {
    __typename
    ... on Error { message }
    ... on Runs {
      results { runId jobName status creationTime tags { key value } assetSelection { path } }
    }
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
    partitions: int = PARTITIONS,
    timeout: float = WATCH_TIMEOUT,
    poll: float = 3.0,
) -> None:
    """Backfill `hourly_sales_job` over the last `partitions` complete hours, then wait (at most
    `timeout` seconds) while automation materializes `products`, `sales_features` and
    `sales_forecast`.

    `check_stop` raises to abandon a wait (Ctrl-C); the runs already queued stay in Dagster.
    Raises MainJobError naming the backfill or run and its UI page when anything fails.
    """
    started = time.time()
    gql = GraphQL(dagster_url)
    location = wait_for_location(gql, check_stop)
    _backfill(gql, location, echo, check_stop, partitions, poll)
    Watch(gql, location, echo, started).run(check_stop, timeout, poll)


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


class Watch:
    """Waits, launching nothing, until automation has materialized each of WATCHED."""

    def __init__(self, gql: GraphQL, location: Location, echo: Callable[[str], None], since: float):
        self.gql, self.location, self.echo = gql, location, echo
        self.since = since  # the main job's start (epoch seconds)
        self.printed: dict[str, str] = {}  # run id -> the status last printed
        self.notes: set[tuple[str, str]] = set()  # (run id, note) printed once
        self.untagged: set[str] = set()  # failed runs seen once without dagster/will_retry
        self.done: dict[str, str] = {}  # asset -> the run that materialized it
        self.start = time.monotonic()

    def run(self, check_stop: Callable[[], None], timeout: float, poll: float) -> None:
        self.echo(
            f"  main job: automation materializes {', '.join(WATCHED)}; watching "
            f"(at most {_elapsed(timeout)})"
        )
        self.start = time.monotonic()
        self._require_automation()
        while True:
            check_stop()
            latest, upstream = self._assets()
            runs = self._runs()
            for run in runs:
                self._report(run)
            for asset in WATCHED:
                if asset not in self.done:
                    self._check_done(asset, latest.get(asset))
            if len(self.done) == len(WATCHED):
                self.echo(f"  automation done: {', '.join(WATCHED)} materialized{self._at()}")
                return
            for asset in WATCHED:
                if asset not in self.done:
                    self._judge(asset, runs, latest, upstream[asset])
            if time.monotonic() - self.start > timeout:
                raise MainJobError(self._timeout_message(runs, timeout))
            time.sleep(poll)

    # --- what Dagster says ----------------------------------------------------------------

    def _require_automation(self) -> None:
        sensors = self.gql(SENSORS, repositorySelector=self.location.selector())["sensorsOrError"]
        if sensors["__typename"] != "Sensors":
            raise MainJobError(f"Dagster cannot list the sensors: {sensors.get('message')}")
        automation = [
            s for s in sensors["results"] if s["sensorType"] in {"AUTOMATION", "AUTO_MATERIALIZE"}
        ]
        if not any(s["sensorState"]["status"] == "RUNNING" for s in automation):
            names = ", ".join(s["name"] for s in automation) or "the automation sensor"
            raise MainJobError(
                f"{names} is stopped, so nothing would materialize {', '.join(WATCHED)}: "
                f"start it at {self.gql.url}/automation"
            )

    def _assets(self) -> tuple[dict[str, tuple[float, str]], dict[str, set[str]]]:
        """Each asset's latest materialization (epoch seconds, run id), for WATCHED and their
        inputs; and what lies upstream of each of WATCHED (its inputs, theirs, ...)."""
        nodes = self.gql(ASSETS, keys=[{"path": [a]} for a in WATCHED])["assetNodes"]
        latest: dict[str, tuple[float, str]] = {}
        inputs: dict[str, list[str]] = {}
        for node in nodes:
            name = "/".join(node["assetKey"]["path"])
            inputs[name] = []
            for dep in [{"asset": node}] + node["dependencies"]:
                key = "/".join(dep["asset"]["assetKey"]["path"])
                if dep["asset"] is not node:
                    inputs[name].append(key)
                if mats := dep["asset"]["assetMaterializations"]:
                    latest[key] = (int(mats[0]["timestamp"]) / 1000, mats[0]["runId"])
        missing = [a for a in WATCHED if a not in inputs]
        if missing:
            raise MainJobError(f"the code location defines no asset {', '.join(missing)}")
        upstream: dict[str, set[str]] = {}
        for asset in WATCHED:
            seen, todo = set(), list(inputs[asset])
            while todo:
                key = todo.pop()
                if key not in seen:
                    seen.add(key)
                    todo += inputs.get(key, [])
            upstream[asset] = seen
        return latest, upstream

    def _runs(self) -> list[dict]:
        """Runs created or changed since the main job started, oldest first, each with `assets`
        (the assets it materializes: its asset selection, else its job's assets)."""
        result = self.gql(RUNS, after=self.since)["runsOrError"]
        if result["__typename"] != "Runs":
            raise MainJobError(f"Dagster cannot list its runs: {result.get('message')}")
        runs = []
        for run in result["results"]:
            if run["assetSelection"] is not None:
                run["assets"] = {"/".join(k["path"]) for k in run["assetSelection"]}
            else:
                run["assets"] = set(self.location.jobs.get(run["jobName"], []))
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
            runs.append(run)
        return sorted(runs, key=lambda r: r["creationTime"])

    # --- what the person watching sees -----------------------------------------------------

    def _report(self, run: dict) -> None:
        """A line when a run for a watched asset appears, and when its status changes."""
        mine = [a for a in WATCHED if a in run["assets"]]
        run_id, status = run["runId"], run["status"]
        if not mine or self.printed.get(run_id) == status:
            return
        cause = failure_cause(self.gql, run_id) if status in FAILED_RUN else ""
        if run_id not in self.printed:
            self.echo(
                f"  run {run_id[:8]} of {', '.join(mine)} by {_launcher(run['tags'])}: "
                f"{status.lower()}{cause}{self._at()}   {self.gql.url}/runs/{run_id}"
            )
        else:
            self.echo(f"  run {run_id[:8]}: {status.lower()}{cause}{self._at()}")
        self.printed[run_id] = status

    def _check_done(self, asset: str, latest: tuple[float, str] | None) -> None:
        if latest is None:
            return
        when, run_id = latest
        if when > self.since:
            self.done[asset] = run_id
            self.echo(f"  {asset:<15} materialized by run {run_id[:8]}{self._at()}")
        elif asset in ANY_MATERIALIZATION:
            self.done[asset] = run_id
            self.echo(f"  {asset:<15} materialized before this job (run {run_id[:8]})")

    def _judge(
        self,
        asset: str,
        runs: list[dict],
        latest: dict[str, tuple[float, str]],
        upstream: set[str],
    ) -> None:
        """MainJobError when the latest run for `asset` failed, Dagster does not retry it and
        nothing upstream was updated since it was launched (or is being materialized now)."""
        mine = [r for r in runs if asset in r["assets"]]
        if not mine or mine[-1]["status"] not in FAILED_RUN:
            return
        run = mine[-1]
        run_id, page = run["runId"], f"{self.gql.url}/runs/{run['runId']}"
        will_retry = run["tags"].get(WILL_RETRY)
        if will_retry == "true":
            return self._note(run_id, f"  run {run_id[:8]} failed: Dagster retries it")
        if will_retry is None and run_id not in self.untagged:
            self.untagged.add(run_id)  # Dagster tags a failed run just after its status
            return None
        updated = sorted(k for k in upstream if latest.get(k, (0.0, ""))[0] > run["creationTime"])
        running = sorted(
            k for r in runs if r["status"] not in TERMINAL_RUN for k in r["assets"] & upstream
        )
        if updated or running:
            why = (
                f"{', '.join(updated)} updated since it was launched"
                if updated
                else f"{', '.join(running)} is being materialized"
            )
            return self._note(
                run_id, f"  run {run_id[:8]} of {asset} failed, but {why}: automation tries again"
            )
        raise MainJobError(
            f"{asset}: run {run_id} {run['status'].lower()}{self._failed_steps(run_id)}"
            f"{failure_cause(self.gql, run_id)}; see {page}"
        )

    def _note(self, run_id: str, line: str) -> None:
        if (run_id, line) not in self.notes:
            self.notes.add((run_id, line))
            self.echo(line + self._at())

    def _failed_steps(self, run_id: str) -> str:
        run = self.gql(RUN, id=run_id)["runOrError"]
        failed = [s["stepKey"] for s in run.get("stepStats") or [] if s["status"] == "FAILURE"]
        return f" (failed step: {', '.join(failed)})" if failed else ""

    def _timeout_message(self, runs: list[dict], timeout: float) -> str:
        states = []
        for asset in WATCHED:
            if asset in self.done:
                continue
            mine = [r for r in runs if asset in r["assets"]]
            if not mine:
                states.append(f"{asset}: no run launched for it")
                continue
            run = mine[-1]
            cause = failure_cause(self.gql, run["runId"]) if run["status"] in FAILED_RUN else ""
            states.append(
                f"{asset}: run {run['runId']} {run['status'].lower()}{cause} "
                f"({self.gql.url}/runs/{run['runId']})"
            )
        missing = ", ".join(a for a in WATCHED if a not in self.done)
        return (
            f"automation did not materialize {missing} within {_elapsed(timeout)}: "
            + "; ".join(states)
            + f". The automation sensor's ticks: {self.gql.url}/automation"
        )

    def _at(self) -> str:
        return f"   {_elapsed(time.monotonic() - self.start)}"


def _launcher(tags: dict[str, str]) -> str:
    """Who launched a run, from its tags."""
    if "dagster/retry_number" in tags and "dagster/parent_run_id" in tags:  # before the tags it
        # copied from the run it retries
        return f"retry {tags['dagster/retry_number']} of run {tags['dagster/parent_run_id'][:8]}"
    for key in ("dagster/sensor_name", "dagster/schedule_name"):
        if key in tags:
            return tags[key]
    if "dagster/backfill" in tags:
        return f"backfill {tags['dagster/backfill']}"
    return "hand (the UI or the CLI)"


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
