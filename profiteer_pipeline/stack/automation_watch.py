"""Watching automation after `profiteer up`'s backfill: it launches nothing, it reports.

The automation sensor materializes the unpartitioned assets by itself (`products` when missing,
`sales_features` after `sales` updated, the first `sales_forecast` after its training data
updated, `price_recommendations` after each training). `Watch` follows the runs for the watched
assets, printing each one's status, until each is materialized: `sales_features` after the main
job started (the backfill updated its input), the others present at all (an existing model and its
recommendations are up to date until the retraining sensor decides otherwise).

A run for one of them that fails ends the wait with a MainJobError naming the run, its error and
its page, unless Dagster retries it (its `dagster/will_retry` tag) or something upstream was
updated after the run was launched, so automation requests the asset again with new data.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profiteer_pipeline.stack.dagster_api import (
    ASSETS,
    RUN,
    RUNS,
    SENSORS,
    TERMINAL_RUN,
    GraphQL,
    Location,
    elapsed,
    failure_cause,
)
from profiteer_pipeline.stack.errors import MainJobError

#: What automation must materialize after the backfill, in the graph's order.
WATCHED = ("products", "sales_features", "sales_forecast", "price_recommendations")
#: Must be materialized after the main job started: the backfill updated its input.
NEWER_THAN_START = {"sales_features"}
WATCH_TIMEOUT = 1200.0
FAILED_RUN = {"FAILURE", "CANCELED"}
WILL_RETRY = "dagster/will_retry"


class Watch:
    """Waits, launching nothing, until automation has materialized each watched asset."""

    def __init__(
        self,
        gql: GraphQL,
        location: Location,
        echo: Callable[[str], None],
        since: float,
        watched: tuple[str, ...] = WATCHED,
    ):
        self.gql, self.location, self.echo, self.watched = gql, location, echo, watched
        self.since = since  # the main job's start (epoch seconds)
        self.printed: dict[str, str] = {}  # run id -> the status last printed
        self.notes: set[tuple[str, str]] = set()  # (run id, note) printed once
        self.untagged: set[str] = set()  # failed runs seen once without dagster/will_retry
        self.done: dict[str, str] = {}  # asset -> the run that materialized it
        self.start = time.monotonic()

    def run(self, check_stop: Callable[[], None], timeout: float, poll: float) -> None:
        self.echo(
            f"  main job: automation materializes {', '.join(self.watched)}; watching "
            f"(at most {elapsed(timeout)})"
        )
        self.start = time.monotonic()
        self._require_automation()
        while True:
            check_stop()
            latest, upstream = self._assets()
            runs = self._runs()
            for run in runs:
                self._report(run)
            for asset in self.watched:
                if asset not in self.done:
                    self._check_done(asset, latest.get(asset))
            if len(self.done) == len(self.watched):
                self.echo(f"  automation done: {', '.join(self.watched)} materialized{self._at()}")
                return
            for asset in self.watched:
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
                f"{names} is stopped, so nothing would materialize {', '.join(self.watched)}: "
                f"start it at {self.gql.url}/automation"
            )

    def _assets(self) -> tuple[dict[str, tuple[float, str]], dict[str, set[str]]]:
        """Each asset's latest materialization (epoch seconds, run id), for the watched assets and
        their inputs; and what lies upstream of each (its inputs, theirs, ...)."""
        nodes = self.gql(ASSETS, keys=[{"path": [a]} for a in self.watched])["assetNodes"]
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
        missing = [a for a in self.watched if a not in inputs]
        if missing:
            raise MainJobError(f"the code location defines no asset {', '.join(missing)}")
        upstream: dict[str, set[str]] = {}
        for asset in self.watched:
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
        mine = [a for a in self.watched if a in run["assets"]]
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
        elif asset not in NEWER_THAN_START:
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
        for asset in self.watched:
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
        missing = ", ".join(a for a in self.watched if a not in self.done)
        return (
            f"automation did not materialize {missing} within {elapsed(timeout)}: "
            + "; ".join(states)
            + f". The automation sensor's ticks: {self.gql.url}/automation"
        )

    def _at(self) -> str:
        return f"   {elapsed(time.monotonic() - self.start)}"


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
