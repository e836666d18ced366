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

Median and p95 (nearest rank) over the runs. Then (`--range-days`, default 30) one single-run
backfill of the job over that many days of hours (a run with the `dagster/asset_partition_range_*`
tags, as a backfill of single-run assets launches it), timed from its queueing to its success, and
the bytes its events take in the instance's event log (`DagsterInstance.all_logs(run_id)`,
serialized as the instance stores them), by event type and, for materializations, by asset.

With `--cli-backfill-days N`, then `dagster job backfill -w workspace.yaml -j hourly_sales_job
--from A --to B --noprompt` over the N days before that range, as the README gives it: timed from
the command's start until its runs succeeded (the CLI makes one run per partition: 24 x N runs).

Then the CLI against that stack, from a folder with no `.env` and the stack's variables (as after
`eval "$(profiteer env)"`): `dagster asset list -m profiteer_pipeline.definitions` `--cli-runs`
times (default 5; median wall clock and CPU time of the process: the interpreter, Dagster's CLI and
the code location's import), and one `dg launch --assets products -m ...` (the README's
in-process run); for both, the Python warnings they print (lines `file:line: SomethingWarning:
...`). Then `profiteer down`. Figures, not a test.

First of all, without the stack: `import profiteer_pipeline.definitions` against a bare `import
dagster`, medians of `--import-runs` fresh processes each (default 5), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import (  # noqa: E402 (the sibling script)
    BACKFILL_RUNS,
    ENDED,
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


def stack_variables(env: dict[str, str]) -> dict[str, str]:
    """What `eval "$(profiteer env)"` gives a shell: DAGSTER_HOME, the logins, the URLs."""
    out = {}
    for line in profiteer(env, "env", timeout=60).stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


def event_bytes(env: dict[str, str], run_id: str) -> dict[str, object]:
    """The run's events as the instance stores them: count and serialized bytes, by type (and
    for materializations, by asset)."""
    os.environ.update(stack_variables(env))
    from dagster import DagsterInstance
    from dagster_shared.serdes import serialize_value

    with DagsterInstance.get() as instance:
        logs = instance.all_logs(run_id)
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_asset: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in logs:
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "log message"
        size = len(serialize_value(entry))
        by_type[kind][0] += 1
        by_type[kind][1] += size
        if kind == "ASSET_MATERIALIZATION":
            asset = entry.dagster_event.asset_key.to_user_string()  # type: ignore[union-attr]
            by_asset[asset][0] += 1
            by_asset[asset][1] += size
    return {
        "events": sum(n for n, _ in by_type.values()),
        "bytes": sum(b for _, b in by_type.values()),
        "by_type": {k: {"events": n, "bytes": b} for k, (n, b) in by_type.items()},
        "materializations_by_asset": {
            k: {"events": n, "bytes": b} for k, (n, b) in by_asset.items()
        },
    }


WARNING_LINE = re.compile(r":\d+: \w*Warning: ")
MODULE = "profiteer_pipeline.definitions"


def dagster_cli(
    variables: dict[str, str], cwd: Path, *args: str, timeout: float = 600, cli: str = "dagster"
) -> tuple[float, float, str, int]:
    """One `dagster` (or `dg`) CLI call: wall seconds, CPU seconds (user + system), stdout and
    stderr (in that order, one text), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / cli), *args], cwd=cwd,
                          env={**os.environ, **variables}, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout + proc.stderr, proc.returncode


WORKSPACE = str(Path(__file__).resolve().parent.parent / "workspace.yaml")


def cli_backfill(env: dict[str, str], gql: GraphQL, first: str, last: str) -> dict[str, object]:
    """`dagster job backfill -w workspace.yaml -j hourly_sales_job --from A --to B --noprompt`,
    as the README gives it, against the stack; timed from the command's start until the
    backfill ended with every run a success. Dagster 1.13's CLI creates ONE RUN PER PARTITION
    itself (in the command's process, whatever the backfill policy), and the run queue executes
    them two at a time: 720 runs for 30 days (measured: the command alone ran over 10 minutes),
    unlike the UI's or GraphQL's backfill (one run for the range, `bench_stack.py`)."""
    variables = stack_variables(env)
    cwd = Path(tempfile.mkdtemp(prefix="profiteer-bench-cli-"))
    try:
        t0 = time.monotonic()
        wall, _, out, code = dagster_cli(variables, cwd, "job", "backfill", "-w", WORKSPACE,
                                         "-j", JOB, "--from", first, "--to", last, "--noprompt",
                                         timeout=6 * 3600)  # fmt: skip
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    found = re.search(r"Launched backfill job `([^`]+)`", out)
    if code != 0 or not found:
        raise RuntimeError(f"dagster job backfill exited {code}:\n{out}")
    backfill_id = found.group(1)
    while True:
        bf = gql(BACKFILL_RUNS, id=backfill_id)["partitionBackfillOrError"]
        if bf["__typename"] != "PartitionBackfill":
            raise RuntimeError(f"backfill {backfill_id}: {bf.get('message')}")
        if bf["status"] in ENDED and all(r["status"] in TERMINAL for r in bf["runs"]):
            break
        time.sleep(1)
    total = time.monotonic() - t0
    failed = [r["runId"] for r in bf["runs"] if r["status"] != "SUCCESS"]
    if failed or bf["status"] not in ("COMPLETED", "COMPLETED_SUCCESS"):
        raise RuntimeError(f"backfill {backfill_id} {bf['status']}: failed runs {failed}")
    return {
        "first": first,
        "last": last,
        "launch_to_success_s": total,
        "command_s": wall,
        "runs": len(bf["runs"]),
        "run_s": sum(r["endTime"] - r["startTime"] for r in bf["runs"]),
        "warnings": len(WARNING_LINE.findall(out)),
    }


def cli_figures(env: dict[str, str], runs: int, key: str) -> dict[str, object]:
    """The CLI's start (the code location loaded) and the warnings it prints, against the stack."""
    variables = stack_variables(env)
    cwd = Path(tempfile.mkdtemp(prefix="profiteer-bench-cli-"))  # no .env here
    try:
        walls, cpus, warnings_seen = [], [], 0
        for _ in range(runs):
            wall, cpu, err, code = dagster_cli(variables, cwd, "asset", "list", "-m", MODULE)
            if code != 0:
                raise RuntimeError(f"dagster asset list exited {code}:\n{err}")
            walls.append(wall)
            cpus.append(cpu)
            warnings_seen = max(warnings_seen, len(WARNING_LINE.findall(err)))
        # the README's in-process run (`dg launch`, the successor of `asset materialize`)
        _, _, err, code = dagster_cli(
            variables, cwd, "launch", "--assets", "products", "-m", MODULE, cli="dg"
        )
        if code != 0:
            raise RuntimeError(f"dg launch exited {code}:\n{err}")
        materialize_warnings = [ln for ln in err.splitlines() if WARNING_LINE.search(ln)]
        # the same hour through the run queue (what the README's `job launch` does)
        tags = json.dumps({"dagster/partition": key})
        _, _, err, code = dagster_cli(
            variables, cwd, "job", "launch", "-w", WORKSPACE, "-j", JOB, "--tags", tags
        )
        if code != 0:
            raise RuntimeError(f"dagster job launch exited {code}:\n{err}")
        launch_warnings = [ln for ln in err.splitlines() if WARNING_LINE.search(ln)]
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return {
        "asset_list_median_s": statistics.median(walls),
        "asset_list_cpu_median_s": statistics.median(cpus),
        "asset_list_warnings": warnings_seen,
        "materialize_warnings": len(materialize_warnings),
        "materialize_warning_lines": materialize_warnings,
        "job_launch_warnings": len(launch_warnings),
        "job_launch_warning_lines": launch_warnings,
    }


def import_seconds(statement: str) -> float:
    """Wall seconds of a fresh interpreter running `statement` (startup included)."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", statement], check=True, cwd=Path(__file__).parent)
    return time.monotonic() - t0


def import_ratio(runs: int) -> dict[str, float]:
    """The code location's import against a bare `import dagster`: medians of `runs` fresh
    processes each, interleaved so both see the same machine load."""
    bare, ours = [], []
    for _ in range(runs):
        bare.append(import_seconds("import dagster"))
        ours.append(import_seconds(f"import {MODULE}"))
    b, o = statistics.median(bare), statistics.median(ours)
    return {"import_dagster_s": b, "import_location_s": o, "ratio": o / b}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="scheduled partitions (default 10)")
    ap.add_argument(
        "--range-days",
        type=int,
        default=30,
        help="then one single-run backfill over this many days (0: none; default 30)",
    )
    ap.add_argument(
        "--cli-runs", type=int, default=5, help="`dagster asset list` calls timed (0: none)"
    )
    ap.add_argument(
        "--cli-backfill-days",
        type=int,
        default=0,
        help="then `dagster job backfill` over this many days (the daemon runs it; default 0: none)",
    )
    ap.add_argument("--import-runs", type=int, default=5,
                    help="fresh processes per import timing (default 5)")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    imports = import_ratio(args.import_runs)
    print(f"`import {MODULE}` {imports['import_location_s']:.2f}s against `import dagster` "
          f"{imports['import_dagster_s']:.2f}s (medians of {args.import_runs} fresh processes): "
          f"{imports['ratio']:.2f}x")  # fmt: skip

    state = Path(tempfile.mkdtemp(prefix="profiteer-bench-latency-")) / "state"
    state.parent.chmod(0o755)  # the embedded PostgreSQL runs as another user when we are root
    env = stack_env(state)
    per_phase: dict[str, list[float]] = defaultdict(list)
    range_figures: dict[str, object] = {}
    cli: dict[str, object] = {}
    cli_bf: dict[str, object] = {}
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
        if args.cli_backfill_days:
            end = now - timedelta(hours=args.runs + 1 + args.range_days * 24)
            cli_bf = cli_backfill(env, gql, hour_key(end - timedelta(hours=args.cli_backfill_days * 24)),
                                  hour_key(end - timedelta(hours=1)))  # fmt: skip
        if args.cli_runs:
            cli = cli_figures(env, args.cli_runs, hour_key(now - timedelta(hours=args.runs + 1)))
    finally:
        down = profiteer(env, "down", timeout=300)
        if down.returncode != 0:
            print(down.stdout + down.stderr, file=sys.stderr)
        shutil.rmtree(state.parent, ignore_errors=True)

    steps = [n for n in order if n.startswith("step ")]
    rows = [*PHASES, *steps, *TAIL]
    figures: dict[str, object] = {"runs": args.runs, "imports": imports, "phases": {}}
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
        print("  materializations by asset:")
        assets = range_figures["materializations_by_asset"].items()  # type: ignore[union-attr]
        for asset, v in sorted(assets, key=lambda kv: -kv[1]["bytes"]):
            print(f"    {asset:<{width - 2}} {v['events']:6,} events {v['bytes'] / 1e6:7.2f} MB")
    if cli_bf:
        figures["cli_backfill"] = cli_bf
        print(f"\n`dagster job backfill` {cli_bf['first']} .. {cli_bf['last']} "
              f"({args.cli_backfill_days} days): launch -> success "
              f"{cli_bf['launch_to_success_s']:.1f}s (the command {cli_bf['command_s']:.1f}s; "
              f"{cli_bf['runs']} run(s), {cli_bf['run_s']:.1f}s running); "
              f"{cli_bf['warnings']} warnings")  # fmt: skip
    if cli:
        figures["cli"] = cli
        print(f"\nCLI `dagster asset list -m {MODULE}` ({args.cli_runs} calls): median "
              f"{cli['asset_list_median_s']:.2f}s (CPU {cli['asset_list_cpu_median_s']:.2f}s), "
              f"{cli['asset_list_warnings']} warnings; `dg launch --assets products`: "
              f"{cli['materialize_warnings']} warnings; `dagster job launch`: "
              f"{cli['job_launch_warnings']} warnings")  # fmt: skip
        for line in [*cli["materialize_warning_lines"], *cli["job_launch_warning_lines"]]:  # type: ignore[misc]
            print(f"  {line}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
