"""Where the seconds of one scheduled hour go: queue, process start, code load, each step, success.

    .venv/bin/python benchmarks/bench_latency.py                # 10 partitions
    .venv/bin/python benchmarks/bench_latency.py --runs 5 --json figures.json

It starts the stack (`profiteer up --detach --no-main-job`) in a temporary state folder on free
ports, so a running stack is untouched, then launches `--runs` runs of `hourly_sales_job`, one
after the other, each for one past hour, as the hourly schedule's run request is launched: a
queued run with the `dagster/partition` tag, through the webserver's GraphQL API. Every figure is
read from Dagster's own event log of the run (the `logsForRun` GraphQL field: the events and
timestamps the instance stored), not from a stopwatch here:

- queued -> dequeued: RUN_ENQUEUED to RUN_STARTING (the daemon's run queue dequeues the run and
  hands it to the run launcher at once; Dagster 1.13 records no separate RUN_DEQUEUED event);
- launch -> process started: RUN_STARTING to the run worker's engine event "Started process for
  run" (the launcher spawns `dagster api execute_run`: the interpreter, Dagster's imports, the
  instance);
- code location loaded: that event to RUN_START (the worker imports the code location and builds
  the job before it starts);
- each step: STEP_START to STEP_SUCCESS (the steps run one after the other in the run's process);
- success: the last step's end to RUN_SUCCESS;
- queued -> success: RUN_ENQUEUED to RUN_SUCCESS, the figure a user waits for.

Median and p95 (nearest rank) over the runs. Then (`--range-days`, default 7) one single-run
backfill of the job over that many days of hours (a run with the `dagster/asset_partition_range_*`
tags, as a backfill of single-run assets launches it), timed from its queueing to its success, and
the bytes its events take in the instance's event log (`DagsterInstance.all_logs(run_id)`,
serialized as the instance stores them): materializations, their metadata (previews, charts) and
everything else. Then `profiteer down`. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import (  # noqa: E402 (the sibling script)
    JOB,
    TERMINAL,
    hour_key,
    profiteer,
    stack_env,
)

from profiteer_pipeline.stack.dagster_api import LAUNCH_RUN, GraphQL, wait_for_location  # noqa: E402

EVENTS = """
query ($id: ID!, $cursor: String) {
  logsForRun(runId: $id, afterCursor: $cursor) {
    __typename
    ... on PythonError { message }
    ... on RunNotFoundError { message }
    ... on EventConnection {
      cursor
      hasMore
      events { __typename ... on MessageEvent { timestamp message stepKey } }
    }
  }
}"""
STATUS = """
query ($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""

PHASES = ("queued -> dequeued", "launch -> process started", "code location loaded")
TAIL = ("success (last step -> RUN_SUCCESS)", "queued -> success")


def events_of(gql: GraphQL, run_id: str) -> list[dict]:
    events, cursor = [], None
    while True:
        page = gql(EVENTS, id=run_id, cursor=cursor)["logsForRun"]
        if page["__typename"] != "EventConnection":
            raise RuntimeError(f"events of {run_id}: {page.get('message')}")
        events += page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events


def breakdown(events: list[dict]) -> dict[str, float]:
    """Seconds per phase, from the run's own event timestamps (milliseconds since the epoch)."""

    def first(kind: str, text: str = "") -> float:
        for e in events:
            if e["__typename"] == kind and text in (e.get("message") or ""):
                return int(e["timestamp"]) / 1000
        raise RuntimeError(f"no {kind} {text!r} in the run's events")

    queued = first("RunEnqueuedEvent")
    dequeued = first("RunStartingEvent")  # the daemon dequeued it and called the launcher
    started = first("EngineEvent", "Started process for run")
    run_start = first("RunStartEvent")
    success = first("RunSuccessEvent")
    out = {
        "queued -> dequeued": dequeued - queued,
        "launch -> process started": started - dequeued,
        "code location loaded": run_start - started,
    }
    step_start: dict[str, float] = {}
    last_end = run_start
    for e in events:
        ts = int(e["timestamp"]) / 1000
        if e["__typename"] == "ExecutionStepStartEvent":
            step_start[e["stepKey"]] = ts
        elif e["__typename"] == "ExecutionStepSuccessEvent":
            out[f"step {e['stepKey']}"] = ts - step_start[e["stepKey"]]
            last_end = max(last_end, ts)
    out["success (last step -> RUN_SUCCESS)"] = success - last_end
    out["queued -> success"] = success - queued
    return out


def launch(gql: GraphQL, location, key: str) -> str:
    """A queued run of the hourly job for one partition, as a schedule tick's run request."""
    launched = gql(
        LAUNCH_RUN,
        params={
            "selector": {"repositoryLocationName": location.location,
                         "repositoryName": location.repository, "jobName": JOB},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": key}]},
        },
    )["launchRun"]  # fmt: skip
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"run refused: {launched.get('message')}")
    return launched["run"]["runId"]


def launch_range(gql: GraphQL, location, first: str, last: str) -> str:
    """One run of the job over a range of hours (what a backfill of single-run assets queues)."""
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    launched = gql(
        LAUNCH_RUN,
        params={
            "selector": {"repositoryLocationName": location.location,
                         "repositoryName": location.repository, "jobName": JOB},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        },
    )["launchRun"]  # fmt: skip
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"range run refused: {launched.get('message')}")
    return launched["run"]["runId"]


def event_bytes(env: dict[str, str], run_id: str) -> dict[str, float]:
    """The run's events as the instance stores them: count and serialized bytes, by type."""
    exported = profiteer(env, "env", timeout=60).stdout
    for line in exported.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            os.environ[key] = shlex.split(value)[0] if value else ""
    from dagster import DagsterInstance
    from dagster_shared.serdes import serialize_value

    with DagsterInstance.get() as instance:
        logs = instance.all_logs(run_id)
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in logs:
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "log message"
        by_type[kind][0] += 1
        by_type[kind][1] += len(serialize_value(entry))
    return {
        "events": sum(n for n, _ in by_type.values()),
        "bytes": sum(b for _, b in by_type.values()),
        "by_type": {k: {"events": n, "bytes": b} for k, (n, b) in by_type.items()},
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="scheduled partitions (default 10)")
    ap.add_argument(
        "--range-days",
        type=int,
        default=7,
        help="then one single-run backfill over this many days (0: none; default 7)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    state = Path(tempfile.mkdtemp(prefix="profiteer-bench-latency-")) / "state"
    state.parent.chmod(0o755)  # the embedded PostgreSQL runs as another user when we are root
    env = stack_env(state)
    per_phase: dict[str, list[float]] = defaultdict(list)
    range_figures: dict[str, object] = {}
    order: list[str] = []
    try:
        t0 = time.monotonic()
        up = profiteer(env, "up", "--detach", "--no-main-job", timeout=900)
        if up.returncode != 0:
            raise RuntimeError(f"`profiteer up` exited {up.returncode}:\n{up.stdout}{up.stderr}")
        print(f"stack up in {time.monotonic() - t0:.1f}s")
        report = json.loads(profiteer(env, "status", "--json", timeout=60).stdout)
        gql = GraphQL(report["dagster_url"], timeout=120)
        location = wait_for_location(gql, lambda: None)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for i in range(args.runs):
            key = hour_key(now - timedelta(hours=args.runs - i))
            run_id = launch(gql, location, key)
            while (status := gql(STATUS, id=run_id)["runOrError"]["status"]) not in TERMINAL:
                time.sleep(0.5)
            if status != "SUCCESS":
                raise RuntimeError(f"run {run_id} for {key}: {status}")
            phases = breakdown(events_of(gql, run_id))
            for name, seconds in phases.items():
                if name not in order:
                    order.append(name)
                per_phase[name].append(seconds)
            print(f"{key}: queued -> success {phases['queued -> success']:.1f}s")
        if args.range_days:
            hours = args.range_days * 24
            last = now - timedelta(hours=args.runs + 1)
            first = last - timedelta(hours=hours - 1)
            run_id = launch_range(gql, location, hour_key(first), hour_key(last))
            while (status := gql(STATUS, id=run_id)["runOrError"]["status"]) not in TERMINAL:
                time.sleep(1)
            if status != "SUCCESS":
                raise RuntimeError(f"range run {run_id}: {status}")
            phases = breakdown(events_of(gql, run_id))
            volume = event_bytes(env, run_id)
            range_figures = {"days": args.range_days, "hours": hours, **volume,
                             "queued_to_success_s": phases["queued -> success"],
                             "steps_s": {k: v for k, v in phases.items() if k.startswith("step ")}}  # fmt: skip
    finally:
        down = profiteer(env, "down", timeout=300)
        if down.returncode != 0:
            print(down.stdout + down.stderr, file=sys.stderr)
        shutil.rmtree(state.parent, ignore_errors=True)

    steps = [n for n in order if n.startswith("step ")]
    rows = [*PHASES, *steps, *TAIL]
    figures: dict[str, object] = {"runs": args.runs, "phases": {}}
    width = max(map(len, rows))
    print(f"\n{'phase (' + str(args.runs) + ' scheduled partitions)':<{width}}  median     p95")
    for name in rows:
        values = per_phase[name]
        med, top = statistics.median(values), p95(values)
        figures["phases"][name] = {"median_s": med, "p95_s": top}  # type: ignore[index]
        print(f"{name:<{width}}  {med:6.2f}s {top:6.2f}s")
    figures["queued_to_success_median_s"] = statistics.median(per_phase["queued -> success"])
    figures["queued_to_success_p95_s"] = p95(per_phase["queued -> success"])
    if range_figures:
        figures["range_run"] = range_figures
        print(f"\n{range_figures['days']}-day single-run backfill ({range_figures['hours']} hours): "
              f"queued -> success {range_figures['queued_to_success_s']:.1f}s; "
              f"{range_figures['events']:,} events, {range_figures['bytes'] / 1e6:.2f} MB in the "
              f"event log")  # fmt: skip
        for name, seconds in range_figures["steps_s"].items():  # type: ignore[union-attr]
            print(f"  {name:<{width}} {seconds:7.2f}s")
        top = sorted(range_figures["by_type"].items(), key=lambda kv: -kv[1]["bytes"])  # type: ignore[union-attr]
        for kind, v in top[:8]:
            print(f"  {kind:<{width}} {v['events']:6,} events {v['bytes'] / 1e6:7.2f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
