"""The running Dagster webserver's GraphQL API, as the stack uses it (the queries the UI makes).

`profiteer up`'s main job and `profiteer import` drive Dagster through it, so their runs go through
the instance's run queue and daemon like any other run and show up in the UI.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from profiteer_pipeline.stack.errors import MainJobError

TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class Location:
    location: str
    repository: str
    jobs: dict[str, list[str]]  # job name -> its nodes (an asset job's nodes are its assets)

    def selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository}


class GraphQL:
    """The webserver's `/graphql`. A read that meets a passing error (a 5xx, a dropped connection:
    a busy webserver) is tried again a few times; a mutation never is, so nothing runs twice."""

    def __init__(self, dagster_url: str, timeout: float = 60, attempts: int = 4):
        self.url = dagster_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts

    def __call__(self, query: str, **variables) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        attempts = 1 if query.lstrip().startswith("mutation") else self.attempts
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(
                self.url + "/graphql", body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    payload = json.load(resp)
                break
            except (urllib.error.URLError, OSError) as exc:
                client_error = isinstance(exc, urllib.error.HTTPError) and exc.code < 500
                if client_error or attempt == attempts:
                    raise MainJobError(f"Dagster at {self.url} does not answer: {exc}") from None
                time.sleep(attempt)
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

# one run of a job (an import, the benchmark's single-partition runs)
LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}"""

# a dynamic partition (an import's file), added before its run is launched
ADD_PARTITION = """
mutation ($selector: RepositorySelector!, $defName: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $defName,
                      partitionKey: $key) {
    __typename
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


def elapsed(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 90 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
