"""The whole local stack: its peak memory during the main job, one partition's end-to-end latency,
and a 30-day backfill, all through the real `profiteer up --detach` and its Dagster.

    .venv/bin/python benchmarks/bench_stack.py                 # 3 partitions, a 30-day backfill
    .venv/bin/python benchmarks/bench_stack.py --days 7 --json figures.json

It starts the stack in a temporary state folder on free ports (MindsDB included), so a running
stack is untouched, and measures:

- memory: every 0.5 s, the resident set (VmRSS) and the proportional set (Pss, which counts shared
  pages once) of every process of the stack: each service's process group and descendants (the
  Dagster daemon's run workers included) and the embedded PostgreSQL's postmaster and backends.
  The peak of the sum while the main job runs (48 hourly partitions, then the model training) is
  the figure; the peak of the whole measurement is printed too;
- one partition end to end: a run of `hourly_sales_job` for one hour (generate, shop store,
  shop API, PyAirbyte, `sales`, the metrics and the checks) launched through Dagster's GraphQL
  API into the run queue, as the hourly schedule's run request is; timed from the launch to the
  run's success (the queue and the run worker's start included), and the run's own duration;
- a 30-day backfill: 720 hours x 15 products, one backfill of `hourly_sales_job` over the range;
  every asset of the job has BackfillPolicy.single_run(), so Dagster runs it as one run. Timed
  from the launch to the run's success.

Then `profiteer down`. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from profiteer_pipeline.stack.dagster_api import (
    LAUNCH_BACKFILL,
    LAUNCH_RUN,
    PARTITION_SETS,
    GraphQL,
    wait_for_location,
)
from profiteer_pipeline.stack.processes import process_tree

PROFITEER = str(Path(sys.executable).parent / "profiteer")
PORT_VARS = ("PROFITEER_PG_PORT", "PROFITEER_MINDSDB_PORT", "PROFITEER_SHOP_API_PORT",
             "PROFITEER_DAGSTER_PORT", "PROFITEER_APP_PORT")  # fmt: skip
JOB = "hourly_sales_job"
KEEP = {"PROFITEER_MINDSDB_VENV", "PROFITEER_CACHE_DIR"}

BACKFILL_RUNS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on Error { message }
    ... on PartitionBackfill {
      status
      error { message }
      runs(limit: 10000) { runId status startTime endTime }
    }
  }
}"""
RUN_TIMES = """
query ($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { status startTime endTime }
    ... on Error { message }
  }
}"""
ENDED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def stack_env(state: Path) -> dict[str, str]:
    """This environment without any stack setting, plus a private state folder and free ports."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("PROFITEER_") or k in KEEP)
        and k not in ("MINDSDB_URL", "DAGSTER_HOME")
    }
    env["PROFITEER_STATE_DIR"] = str(state)
    env.update(zip(PORT_VARS, map(str, free_ports(len(PORT_VARS))), strict=True))
    env.setdefault("DO_NOT_TRACK", "1")
    return env


# --- memory ------------------------------------------------------------------------------------


def _kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stack_roots(state: Path) -> list[int]:
    """The stack's root PIDs: each service from its pid file, and the PostgreSQL postmaster."""
    roots = []
    for record in (state / "run").glob("*.json"):
        try:
            roots.append(int(json.loads(record.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            continue
    try:
        roots.append(int((state / "postgres" / "data" / "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    return roots


class MemorySampler(threading.Thread):
    """Samples the summed VmRSS and Pss of the stack's processes; keeps the peak per phase."""

    def __init__(self, state: Path, interval: float = 0.5):
        super().__init__(daemon=True, name="memory-sampler")
        self.state = state
        self.interval = interval
        self.phase = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self._halt = threading.Event()

    def sample(self) -> tuple[int, int, int]:
        pids: set[int] = set()
        for root in stack_roots(self.state):
            pids |= set(process_tree(root))
        rss = sum(_kib(Path(f"/proc/{p}/status"), "VmRSS") for p in pids)
        pss = sum(_kib(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in pids)
        return rss, pss, len(pids)

    def run(self) -> None:
        while not self._halt.is_set():
            rss, pss, n = self.sample()
            peak = self.peaks.setdefault(self.phase, {"rss_mib": 0.0, "pss_mib": 0.0, "procs": 0})
            if rss / 1024 > peak["rss_mib"]:
                peak.update(rss_mib=rss / 1024, pss_mib=pss / 1024, procs=n)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


# --- Dagster -----------------------------------------------------------------------------------


def hour_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")


def partition_set(gql: GraphQL, location) -> dict:
    """The selector of the hourly job's partition set (what `dagster job backfill` targets)."""
    sets = gql(PARTITION_SETS, repositorySelector=location.selector(), job=JOB, limit=1)
    name = sets["partitionSetsOrError"]["results"][0]["name"]
    return {"partitionSetName": name, "repositorySelector": location.selector()}


def partition_run(gql: GraphQL, location, key: str) -> dict:
    """One run of the hourly job for one partition, launched as a schedule tick's run request is
    (through the run queue); wait; return its timings (seconds)."""
    t0 = time.monotonic()
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
    run_id = launched["run"]["runId"]
    while (run := gql(RUN_TIMES, id=run_id)["runOrError"])["status"] not in TERMINAL:
        time.sleep(0.5)
    wall = time.monotonic() - t0
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"run {run_id} for {key}: {run['status']}")
    return {"wall_s": wall, "run_s": run["endTime"] - run["startTime"]}


def backfill(gql: GraphQL, selector: dict, keys: list[str], title: str) -> dict:
    """One backfill of the hourly job over `keys` (as its partitions page or `dagster job
    backfill` launches it; with every asset on BackfillPolicy.single_run, Dagster makes one run
    of the whole range); wait; return its timings (seconds)."""
    t0 = time.monotonic()
    launched = gql(
        LAUNCH_BACKFILL,
        params={"selector": selector, "partitionNames": keys, "title": title},
    )["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill refused: {launched.get('message')}")
    backfill_id = launched["backfillId"]
    while True:
        bf = gql(BACKFILL_RUNS, id=backfill_id)["partitionBackfillOrError"]
        if bf["__typename"] != "PartitionBackfill":
            raise RuntimeError(f"backfill {backfill_id}: {bf.get('message')}")
        runs = bf["runs"]
        if bf["status"] in ENDED and all(r["status"] in TERMINAL for r in runs):
            break
        time.sleep(0.5)
    wall = time.monotonic() - t0
    failed = [r["runId"] for r in runs if r["status"] != "SUCCESS"]
    if failed or bf["status"] not in ("COMPLETED", "COMPLETED_SUCCESS"):
        error = (bf.get("error") or {}).get("message", "")
        raise RuntimeError(f"backfill {backfill_id} {bf['status']}: failed runs {failed} {error}")
    return {
        "wall_s": wall,
        "runs": len(runs),
        "run_s": sum(r["endTime"] - r["startTime"] for r in runs),
    }


def profiteer(
    env: dict[str, str], *args: str, timeout: float = 1200
) -> subprocess.CompletedProcess:
    return subprocess.run([PROFITEER, *args], env=env, cwd=Path(env["PROFITEER_STATE_DIR"]).parent,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def up_with_main_job(env: dict[str, str], sampler: MemorySampler, main_job: bool = True) -> float:
    """`profiteer up --detach` (services, then the main job); the sampler's phase follows it."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [PROFITEER, "up", "--detach", *([] if main_job else ["--no-main-job"])], env=env, cwd=Path(env["PROFITEER_STATE_DIR"]).parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines, t_main = [], None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Main job"):
            sampler.phase = "main job"
            t_main = time.monotonic()
    code = proc.wait()
    sampler.phase = "after"
    tail = "".join(lines[-30:])
    if not main_job and code == 0:
        print(f"stack up in {time.monotonic() - t0:.1f}s (no main job)")
        return 0.0
    if code != 0 or t_main is None or "main job finished" not in "".join(lines):
        raise RuntimeError(
            f"`profiteer up --detach` exited {code} without finishing the main job:\n{tail}"
        )
    print(f"stack up in {t_main - t0:.1f}s, main job in {time.monotonic() - t_main:.1f}s")
    return time.monotonic() - t_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30, help="length of the backfill (default 30)")
    ap.add_argument("--latency-runs", type=int, default=3)
    ap.add_argument("--no-main-job", action="store_true", help="skip the main job (quick check)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines as they come, even into a file

    state = Path(tempfile.mkdtemp(prefix="profiteer-bench-stack-")) / "state"
    state.parent.chmod(0o755)  # the embedded PostgreSQL runs as another user when we are root
    env = stack_env(state)
    sampler = MemorySampler(state)
    sampler.start()
    figures: dict[str, object] = {}
    try:
        figures["main_job_s"] = up_with_main_job(env, sampler, not args.no_main_job)
        report = json.loads(profiteer(env, "status", "--json", timeout=60).stdout)
        gql = GraphQL(report["dagster_url"], timeout=120)
        location = wait_for_location(gql, lambda: None)
        selector = partition_set(gql, location)

        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        oldest_main = now - timedelta(hours=48)  # the main job backfilled [now - 48 h, now)
        sampler.phase = "one partition"
        latencies, run_times = [], []
        for i in range(args.latency_runs):
            key = hour_key(oldest_main - timedelta(hours=i + 1))
            t = partition_run(gql, location, key)
            latencies.append(t["wall_s"])
            run_times.append(t["run_s"])
            print(f"one partition {key}: {t['wall_s']:.1f}s from launch, run {t['run_s']:.1f}s")
        figures["partition_latency_s"] = statistics.median(latencies)
        figures["partition_run_s"] = statistics.median(run_times)

        hours = args.days * 24
        last = oldest_main - timedelta(hours=args.latency_runs + 1)
        keys = [hour_key(last - timedelta(hours=h)) for h in range(hours)][::-1]
        sampler.phase = "backfill"
        t = backfill(gql, selector, keys, f"bench: {args.days}-day backfill")
        figures["backfill_days"] = args.days
        figures["backfill_s"] = t["wall_s"]
        figures["backfill_run_s"] = t["run_s"]
        figures["backfill_runs"] = t["runs"]
        print(f"{args.days}-day backfill ({hours} hours x 15 products = {hours * 15:,} rows): "
              f"{t['wall_s']:.1f}s in {t['runs']} run(s) (run time {t['run_s']:.1f}s)")  # fmt: skip
    finally:
        sampler.phase = "down"
        down = profiteer(env, "down", timeout=300)
        sampler.stop()
        if down.returncode != 0:
            print(down.stdout + down.stderr, file=sys.stderr)
        shutil.rmtree(state.parent, ignore_errors=True)

    main_peak = sampler.peaks.get("main job", {})
    figures["stack_peak_rss_mib"] = main_peak.get("rss_mib")
    figures["stack_peak_pss_mib"] = main_peak.get("pss_mib")
    figures["stack_peak_processes"] = main_peak.get("procs")
    overall = max(sampler.peaks.values(), key=lambda p: p["rss_mib"])
    figures["stack_peak_rss_overall_mib"] = overall["rss_mib"]
    for phase, peak in sampler.peaks.items():
        print(f"peak memory, {phase:<14} RSS {peak['rss_mib']:8.0f} MiB   "
              f"PSS {peak['pss_mib']:8.0f} MiB   ({peak['procs']} processes)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
