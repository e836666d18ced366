"""`make bench`: run every benchmark script and print ONE table of the figures that matter.

    .venv/bin/python benchmarks/report.py                  # everything (about 15-20 minutes)
    .venv/bin/python benchmarks/report.py --only synth ingest
    .venv/bin/python benchmarks/report.py --json report.json

Each script runs in its own process with `--json FILE` (its figures) and its usual arguments;
its full output goes to a log file (the folder is printed). Where a figure is compared with
another (generator vs the per-row loop, sync vs COPY), both were measured in the same run of the
same script, on the same machine, one after the other. What each figure measures:
benchmarks/README.md. A script that fails leaves "failed" in its rows and makes the exit code 1;
the table is printed anyway.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Bench:
    name: str
    script: str
    args: list[str] = field(default_factory=list)
    timeout: float = 2400  # generous: the machines are often shared


# in this order: the cheap ones first; bench_stack (the whole stack with MindsDB) last
BENCHES = [
    Bench("synth", "bench_synth.py", ["--no-loop-memory"]),
    Bench("ingest", "bench_ingest.py", ["--rows", "100000"]),
    Bench("import", "bench_import.py"),  # 541,909 order lines through Airbyte's File source
    Bench("elasticity", "bench_elasticity.py"),  # known elasticities, 4,000 products x 364 days
    Bench("grain", "bench_shop_grain.py"),  # the shop through the import's count model, hourly
    Bench("year", "bench_import_year.py"),  # a UCI-size year, 4,000 products: file to advice
    Bench("metrics", "bench_metrics.py"),
    Bench("model", "bench_model.py"),
    # the shop's advice against its own demand formula: 200 products x 4 times of day, 48 h
    Bench("recommendations", "bench_recommendations.py", ["--products", "200"]),
    Bench("app", "bench_app.py"),
    Bench("latency", "bench_latency.py"),  # 10 scheduled hours, a 30-day range run (its events)
    Bench("stack", "bench_stack.py", ["--days", "30"], timeout=3600),
]


def run(bench: Bench, logs: Path) -> tuple[dict | None, str]:
    """(figures, status) of one script; its output in logs/<name>.log."""
    script = HERE / bench.script
    if not script.exists():
        return None, "missing"
    out = logs / f"{bench.name}.json"
    log = logs / f"{bench.name}.log"
    t0 = time.monotonic()
    print(f"  {bench.name:<8} {bench.script} ...", end="", flush=True, file=sys.stderr)
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(
                [sys.executable, str(script), "--json", str(out), *bench.args],
                stdout=fh, stderr=subprocess.STDOUT, timeout=bench.timeout, cwd=HERE.parent,
            )  # fmt: skip
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    took = time.monotonic() - t0
    ok = code == 0 and out.exists()
    print(f" {'ok' if ok else f'FAILED ({code})'} in {took:.0f}s", file=sys.stderr)
    if not ok:
        return None, f"failed ({code}): see {log}"
    return json.loads(out.read_text()), "ok"


# --- formatting -----------------------------------------------------------------------------


def num(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return ""
    return f"{a / b:,.1f}x"


def get(figures: dict | None, *path: str | int) -> float | None:
    value: object = figures
    for key in path:
        try:
            value = value[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return value if isinstance(value, int | float) else None


Row = tuple[str, str, str, str]  # figure, value, comparison, source


def synth_rows(f: dict | None) -> list[Row]:
    case = next((c for c in (f or {}).get("cases", []) if c.get("products") == 15), None)
    fast, slow = get(case, "vectorized_rows_per_s"), get(case, "loop_rows_per_s")
    label = f"generator, 15 x {get(case, 'hours') or 0:,.0f} h"
    return [
        (f"{label}: rows/s", num(fast), f"{ratio(fast, slow)} the per-row loop ({num(slow)} rows/s)",
         "bench_synth"),
    ]  # fmt: skip


def ingest_rows(f: dict | None) -> list[Row]:
    case = max((f or {}).get("cases", []), key=lambda c: c.get("rows", 0), default=None)
    sync, copy = get(case, "embedded_rows_per_s"), get(case, "select_copy_rows_per_s")
    rows = get(case, "rows")
    return [
        (f"sync shop API -> sales, {num(rows)} rows: rows/s", num(sync),
         f"COPY is {ratio(copy, sync)} faster ({num(copy)} rows/s)", "bench_ingest"),
    ]  # fmt: skip


def metrics_rows(f: dict | None) -> list[Row]:
    rows = get(f, "sales_rows")
    return [
        ("metrics refresh, one hour (incremental)", num(get(f, "hourly_update_ms"), " ms"),
         f"full rebuild {num(get(f, 'full_rebuild_ms'), ' ms')} ({num(rows)} sales rows)",
         "bench_metrics"),
    ]  # fmt: skip


def model_rows(f: dict | None) -> list[Row]:
    return [
        ("training time, 48 h (720 rows)", num(get(f, "train_48h_s"), " s", 1),
         f"30 days: {num(get(f, 'train_30d_s'), ' s', 1)}", "bench_model"),
        ("prediction latency, single (SQL)", num(get(f, "single_sql_ms"), " ms"),
         f"REST: {num(get(f, 'single_rest_ms'), ' ms')}", "bench_model"),
        ("prediction latency, batch of 21", num(get(f, "batch_ms"), " ms"),
         f"{num(get(f, 'batch_per_row_ms'), ' ms', 1)} per row", "bench_model"),
    ]  # fmt: skip


def app_rows(f: dict | None) -> list[Row]:
    pages = (f or {}).get("pages") or {}
    rows: list[Row] = [
        (f"page render: {name} (data cache empty)", num(get(pages, name, "median_s"), " s", 2),
         f"cache warm {num(get(pages, name, 'cached_median_s'), ' s', 2)}", "bench_app")
        for name in pages
    ]  # fmt: skip
    if get(f, "prediction_ms") is not None:
        rows.append(
            ("app: one price's prediction round trip", num(get(f, "prediction_ms"), " ms"),
             f"revenue curve ({num(get(f, 'curve_points'))} prices, one batch): "
             f"{num(get(f, 'curve_batch_ms'), ' ms')}", "bench_app")
        )  # fmt: skip
    return rows or [("page render", "n/a", "", "bench_app")]


def stack_rows(f: dict | None) -> list[Row]:
    days = get(f, "backfill_days") or 30
    backfill = get(f, "backfill_s")
    rows = days * 24 * 15
    return [
        ("one partition end to end (launch -> success)", num(get(f, "partition_latency_s"), " s", 1),
         f"run itself {num(get(f, 'partition_run_s'), ' s', 1)}", "bench_stack"),
        (f"{days:.0f}-day backfill ({rows:,.0f} rows, launch -> success)", num(backfill, " s", 1),
         f"run itself {num(get(f, 'backfill_run_s'), ' s', 1)}; "
         f"{num(get(f, 'backfill_runs'))} run(s)", "bench_stack"),
        ("peak RSS of the local stack, main job", num(get(f, "stack_peak_rss_mib"), " MiB"),
         f"PSS {num(get(f, 'stack_peak_pss_mib'), ' MiB')}, "
         f"{num(get(f, 'stack_peak_processes'))} processes", "bench_stack"),
    ]  # fmt: skip


def latency_rows(f: dict | None) -> list[Row]:
    phases = (f or {}).get("phases") or {}
    runs = get(f, "runs") or 0
    rows: list[Row] = [
        (f"scheduled hour: {name} (median of {runs:.0f})", num(get(phases, name, "median_s"), " s", 2),
         f"p95 {num(get(phases, name, 'p95_s'), ' s', 2)}", "bench_latency")
        for name in phases
    ]  # fmt: skip
    days = get(f, "range_run", "days")
    if days:
        rows.append(
            (f"{days:.0f}-day single-run backfill: events written",
             num(get(f, "range_run", "bytes") and get(f, "range_run", "bytes") / 1e6, " MB", 2),
             f"{num(get(f, 'range_run', 'events'))} events; queued -> success "
             f"{num(get(f, 'range_run', 'queued_to_success_s'), ' s', 1)}", "bench_latency")
        )  # fmt: skip
    if get(f, "imports", "ratio") is not None:
        rows.append(
            ("code location import / `import dagster` (medians of fresh processes)",
             num(get(f, "imports", "ratio"), "x", 2),
             f"{num(get(f, 'imports', 'import_location_s'), ' s', 2)} / "
             f"{num(get(f, 'imports', 'import_dagster_s'), ' s', 2)}", "bench_latency")
        )  # fmt: skip
    if get(f, "cli", "asset_list_median_s") is not None:
        rows.append(
            ("CLI start: `dagster asset list -m profiteer_pipeline.definitions`",
             num(get(f, "cli", "asset_list_median_s"), " s", 2),
             f"warnings: asset list {num(get(f, 'cli', 'asset_list_warnings'))}, "
             f"dg launch {num(get(f, 'cli', 'materialize_warnings'))}", "bench_latency")
        )  # fmt: skip
    return rows or [("scheduled hour", "n/a", "", "bench_latency")]


def import_model_rows(f: dict | None) -> list[Row]:
    """The import's model (bench_import's model stage), when it ran."""
    if get(f, "model_training_s") is None:
        return []
    return [
        ("import model: training", num(get(f, "model_training_s"), " s", 1),
         f"{num(get(f, 'model_training_rows'))} rows, {num(get(f, 'model_products'))} products; "
         f"held-out twin {num(get(f, 'model_holdout_training_s'), ' s', 1)}", "bench_import"),
        ("import model: backtest RMSSE", num(get(f, "model_rmsse"), "", 3),
         f"28-day mean {num(get(f, 'trailing_mean_rmsse'), '', 3)}, seasonal naive "
         f"{num(get(f, 'seasonal_naive_rmsse'), '', 3)}; Poisson deviance "
         f"{num(get(f, 'model_poisson_deviance'), '', 3)} vs "
         f"{num(get(f, 'trailing_mean_poisson_deviance'), '', 3)}; "
         f"price response {'ok' if get(f, 'price_response_ok') else 'FAILS'}", "bench_import"),
        ("import model: best/base off 0.8125", num(get(f, "model_optimum_error_median"), "", 3),
         f"median abs. difference over products; median best/base {num(get(f, 'model_best_over_true_base_median'), '', 3)}",
         "bench_import"),
    ]  # fmt: skip


def elasticity_rows(f: dict | None) -> list[Row]:
    return [
        ("elasticity: truth inside 90 % interval", num(100 * (get(f, "coverage") or 0), " %", 1),
         f"{num(100 * (get(f, 'coverage_own') or 0), ' %', 1)} with their own estimate; median "
         f"abs. error {num(get(f, 'median_abs_error'), '', 2)}", "bench_elasticity"),
        ("elasticity: pooled", num(get(f, "pooled"), "", 2),
         f"90 % {num(get(f, 'pooled_low'), '', 2)} to {num(get(f, 'pooled_high'), '', 2)}; true "
         f"mean {num(get(f, 'true_mean'), '', 2)}; {num(get(f, 'products'))} products in "
         f"{num(get(f, 'seconds'), ' s', 1)}", "bench_elasticity"),
    ]  # fmt: skip


def year_rows(f: dict | None) -> list[Row]:
    status = (f or {}).get("products_by_status") or {}
    return [
        ("UCI-size year (4,000 products): file to advice", num(get(f, "file_to_advice_s"), " s"),
         f"goal <= 600 s; import {num(get(f, 'seconds', 'import'), ' s')}, model "
         f"{num(get(f, 'seconds', 'model'), ' s')}", "bench_import_year"),
        ("UCI-size year: products priced", num(status.get("advice")),
         f"of {num(get(f, 'products_qualifying'))} qualifying (all modelled: "
         f"{num(get(f, 'products_modelled'))}); no change {num(status.get('no_change'))}",
         "bench_import_year"),
        ("UCI-size year: backtest RMSSE", num(get(f, "model_rmsse"), "", 3),
         f"28-day mean {num(get(f, 'trailing_mean_rmsse'), '', 3)}, seasonal naive "
         f"{num(get(f, 'seasonal_naive_rmsse'), '', 3)}; Poisson deviance "
         f"{num(get(f, 'model_poisson_deviance'), '', 2)} vs "
         f"{num(get(f, 'trailing_mean_poisson_deviance'), '', 2)}", "bench_import_year"),
    ]  # fmt: skip


def grain_rows(f: dict | None) -> list[Row]:
    """The shop's longest history in bench_shop_grain (30 days by default)."""
    runs = (f or {}).get("days") or {}
    days = max(runs, key=int, default=None)
    d = runs.get(days) if days else None
    m = (d or {}).get("methods") or {}
    return [
        (f"shop hourly, count model: held-out R² ({days} days, funnel)",
         num(get(m, "funnel", "r2"), "", 3),
         f"no funnel {num(get(m, 'no_funnel_frozen', 'r2'), '', 3)} (day ahead); seasonal naive "
         f"{num(get(m, 'seasonal_naive', 'r2'), '', 3)}, same-hour mean "
         f"{num(get(m, 'trailing_mean', 'r2'), '', 3)}; lightwood {num(get(d, 'lightwood', 'r2'), '', 3)}",
         "bench_shop_grain"),
        ("shop hourly, count model: best price off (% of base)",
         num(get(d, "price", "funnel", "optimum_off_pct"), " %", 1),
         f"no funnel {num(get(d, 'price', 'no funnel', 'optimum_off_pct'), ' %', 1)}, product-day "
         f"{num(get(d, 'daily', 'price', 'optimum_off_pct'), ' %', 1)}; curves falling "
         f"{num(get(d, 'price', 'funnel', 'falling'))}/{num(get(d, 'price', 'funnel', 'curves'))}",
         "bench_shop_grain"),
    ]  # fmt: skip


def recommendation_rows(f: dict | None) -> list[Row]:
    """The shop's advice scored by its own demand formula (bench_recommendations)."""
    return [
        ("shop advice per product: raise the true revenue", num(get(f, "advised_raise_true_revenue")),
         f"of {num(get(f, 'advised'))} advised ({num(get(f, 'products'))} products); median true "
         f"gain {num(get(f, 'advised_median_true_gain_pct'), ' %', 1)}, predicted "
         f"{num(get(f, 'advised_median_predicted_gain_pct'), ' %', 1)}", "bench_recommendations"),
        ("shop advice by time of day: true gain captured",
         num(100 * (get(f, "bucket_gain_captured_in_one_step") or 0), " %", 1),
         f"of the gain one guardrail step can reach; the demand line alone, no step: "
         f"{num(100 * (get(f, 'bucket_line_alone_captured') or 0), ' %', 1)} of all within the "
         f"bounds; {num(get(f, 'bucket_changes_raise_true_revenue'))} of "
         f"{num(get(f, 'bucket_changes'))} changes raise the true revenue; "
         f"{num(get(f, 'seconds'), ' s', 1)} for {num(get(f, 'curves'))} curves",
         "bench_recommendations"),
    ]  # fmt: skip


ROWS: dict[str, Callable[[dict | None], list[Row]]] = {
    "synth": synth_rows,
    "ingest": ingest_rows,
    "import": lambda f: [
        (
            f"import {num(get(f, 'lines'))} order lines: lines/s",
            num(get(f, "lines_per_s")),
            f"whole import {num(get(f, 'total_s'), ' s', 1)} (goal <= 60 s), peak {num(get(f, 'peak_rss_mb'), ' MB')}",
            "bench_import",
        ),
        *import_model_rows(f),
    ],
    "elasticity": elasticity_rows,
    "grain": grain_rows,
    "year": year_rows,
    "metrics": metrics_rows,
    "model": model_rows,
    "recommendations": recommendation_rows,
    "app": app_rows,
    "latency": latency_rows,
    "stack": stack_rows,
}


def table(rows: list[Row]) -> str:
    header: Row = ("figure", "value", "comparison", "script")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(r: Row) -> str:
        return (f"| {r[0]:<{widths[0]}} | {r[1]:>{widths[1]}} | {r[2]:<{widths[2]}} "
                f"| {r[3]:<{widths[3]}} |")  # fmt: skip

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *map(line, rows)])


def rows_of(names: list[str], results: dict, statuses: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    scripts = {b.name: b.script for b in BENCHES}
    for name in names:
        if statuses[name] == "ok":
            rows += ROWS[name](results[name])
        else:
            rows.append((scripts[name], statuses[name], "", name))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES])
    ap.add_argument("--json", type=Path, help="also write every script's figures to this file")
    ap.add_argument("--from-json", type=Path, help="print the table of a saved --json; run nothing")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        names = [b.name for b in BENCHES if b.name in saved["status"]]
        print(table(rows_of(names, saved["figures"], saved["status"])))
        return 0 if all(s == "ok" for s in saved["status"].values()) else 1

    logs = Path(tempfile.mkdtemp(prefix="profiteer-bench-"))
    print(f"benchmark logs in {logs}", file=sys.stderr)
    benches = [b for b in BENCHES if not args.only or b.name in args.only]
    t0 = time.monotonic()
    results: dict[str, dict | None] = {}
    statuses: dict[str, str] = {}
    for bench in benches:
        results[bench.name], statuses[bench.name] = run(bench, logs)

    print()
    print(table(rows_of([b.name for b in benches], results, statuses)))
    print(f"\n{len(benches)} scripts in {(time.monotonic() - t0) / 60:.1f} min; logs in {logs}")
    if args.json:
        args.json.write_text(json.dumps({"figures": results, "status": statuses}, indent=2))
    return 0 if all(s == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
