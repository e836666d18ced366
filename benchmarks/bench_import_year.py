"""Benchmark: a whole year of a UCI-size shop, from the file to the price advice.

UCI Online Retail has 541,909 lines over a year and about 4,000 stock codes, 90 % of whose
product-days sell nothing. This generates an export of that shape with KNOWN elasticities
(`synth.order_export`: -3 to -0.5 per product, prices that move in steps, quantity tiers, a weekly
and a yearly season, postage and manual lines), then does what a user's file goes through:
`run_import` (Airbyte's File source through PyAirbyte, cleaning, the hourly grain) and the import's
model run (`forecast.run`: features at product-day, the rolling-origin backtest, the model on a
MindsDB server of its own, curves, elasticities, advice). It prints:

- the time from file to advice, by stage (the goal: <= 10 min on this 2-core machine);
- the products: with sales, qualifying for a curve, modelled, advised, no change, too little
  data, excluded (not merchandise);
- the backtest: RMSSE and Poisson deviance against the seasonal naive and the 28-day mean;
- the shop's pooled elasticity against the true mean, and the share of the products' true
  elasticities inside their own 90 % intervals.

    .venv/bin/python benchmarks/bench_import_year.py
    .venv/bin/python benchmarks/bench_import_year.py --engine lightwood   # MindsDB's own mixers
    .venv/bin/python benchmarks/bench_import_year.py --products 500 --lines 60000 --json out.json
    .venv/bin/python benchmarks/bench_import_year.py --file "Online Retail.xlsx"   # a real export
    .venv/bin/python benchmarks/bench_import_year.py --file "Online Retail.xlsx" --until 2011-11-01

With `--file` the export is the user's own (any layout `profiteer import` reads; UCI's Excel
file is the acceptance check): the same stages and figures, without the true elasticities.
With `--until` only the lines before that day are imported and modelled; the advice's units per
day at today's price are then scored on what each product sold from that day to the export's
end, beside its trailing 28-day mean: the check the first import failed (trained to 31 October,
it missed November and December by 244 units/day, the trailing mean by 2.45).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from bench_import import connector, train_import_model, warehouse_server

from profiteer_pipeline.model import elasticity, forecast
from profiteer_pipeline.model.backtest_twins import HORIZON_DAYS
from profiteer_pipeline.pricing import advice_table, evidence
from profiteer_pipeline.sources.files import dates, layouts
from profiteer_pipeline.sources.files.pipeline import run_import
from profiteer_pipeline.synth import order_export
from profiteer_pipeline.warehouse.source_tables import REASONS

UCI_LINES = 541_909
#: orders per product-day at the base price that give about UCI_LINES lines over 4,000 x 364
LEVEL_PER_LINE = 0.12 / 188_500


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=4000)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--lines", type=int, default=UCI_LINES, help="about this many order lines")
    ap.add_argument(
        "--engine", default="count", choices=("count", "lightwood"),
        help="the count model every source trains, or lightwood's mixers (a comparison)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--file", type=Path, help="import this export instead of generating one")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--csv", type=Path, help="write every product's price_advice row here")
    ap.add_argument(
        "--until", type=date.fromisoformat,
        help="import only the lines before this day (YYYY-MM-DD), then score the advice's units "
        "per day at today's price on what each product sold from that day on (issue 23's check)",
    )  # fmt: skip
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-year-"))
    root.chmod(0o755)  # the embedded server runs as its own user
    os.environ["PROFITEER_STATE_DIR"] = str(root / "state")
    clock: dict[str, float] = {}
    try:
        made, export = (None, args.file) if args.file else generated(args, root)
        later = None
        if args.until:
            export, later = split_export(export, args.until, root)
        with warehouse_server(root) as admin:
            t = time.monotonic()
            imported = run_import(export, "year", connector(admin), log=indented)
            clock["import"] = time.monotonic() - t
            run, clock["model"] = train_import_model(
                root, admin, "year", lightwood=args.engine == "lightwood"
            )
            sellers = best_sellers(admin, run)
            every_unit = elasticity_of_every_unit(admin, run.advice)
            if later is not None:
                run_import(later, "later", connector(admin))
                ahead, days_after = sold_after(admin, run.advice, args.until)
        figures = report(args, made, imported.summary, run, clock)
        figures["every_unit"] = whichever_units(run.advice, every_unit, made)
        if later is not None:
            figures["after_until"] = out_of_sample(ahead, days_after, args.until)
        figures["best_sellers"] = sellers.to_dict("records")
        print("best sellers by revenue: the model's units per day at today's price (the advice's")
        print("level) against what each sold per day over its last 28 days:")
        for row in figures["best_sellers"]:
            print(
                f"  {row['product_id']:<8} {str(row['product_name'])[:34]:<34} forecast "
                f"{row['forecast']:6.2f}/day, sold {row['sold_28d']:6.2f}/day; {row['status']}"
            )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        if args.csv:
            run.advice.to_csv(args.csv, index=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def generated(args, root: Path) -> tuple[order_export.KnownExport, Path]:
    """The UCI-size export with known elasticities, written as CSV under `root`."""
    t = time.monotonic()
    level = LEVEL_PER_LINE * args.lines * 4000 * 364 / (args.products * args.days)
    made = order_export.generate(args.products, args.days, seed=args.seed, mean_level=level)
    export = root / "online_retail_year.csv"
    made.lines.to_csv(export, index=False)
    print(
        f"generated {len(made.lines):,} lines, {args.products:,} products x {args.days} days "
        f"({export.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - t:.1f}s"
    )
    return made, export


def true_revenue_change(factor, true_elasticity):
    """The true change in revenue, as a share, of multiplying a price by `factor` where demand is
    units ~ price ** `true_elasticity` (the generated export's truth)."""
    return factor ** (1 + true_elasticity) - 1


def split_export(export: Path, until: date, root: Path) -> tuple[Path, Path]:
    """The export's lines ordered before `until` and from it on, as two CSV files under `root`,
    each line's text unchanged (the date column is found and read as the import reads it)."""
    read = pd.read_excel if export.suffix.lower() in (".xlsx", ".xls") else pd.read_csv
    lines = read(export, dtype=str, keep_default_na=False)
    found = layouts.resolve(list(lines.columns))
    column = found.columns["ordered_at"]
    stamps = dates.parse_timestamps(
        lines[column].replace("", pd.NA), np.arange(len(lines)) + 2, column=column,
        day_first=found.options.day_first, date_format=found.options.date_format,
        timezone=found.options.timezone,
    )  # fmt: skip
    after = (stamps >= pd.Timestamp(until, tz="UTC")).to_numpy()
    paths = root / "before.csv", root / "after.csv"
    lines[~after].to_csv(paths[0], index=False)
    lines[after].to_csv(paths[1], index=False)
    print(f"split at {until}: {(~after).sum():,} lines before (imported), {after.sum():,} after")
    return paths


#: the trailing mean the advice's level is compared with, as a forecaster would use it
TRAILING_DAYS = 28


def sold_after(admin, advice: pd.DataFrame, until: date) -> tuple[pd.DataFrame, int]:
    """Per modelled product: the advice's units per day at today's price (the model's forecast),
    the units per day it really sold from `until` to the export's last day and over the week the
    forecast is for (import `later`), and its mean over the TRAILING_DAYS before `until`
    (import `year`); and the days from `until` to the export's last."""
    with connector(admin)() as conn, conn.cursor() as cur:
        cur.execute("SELECT max(day) FROM import_later.daily")
        days = (cur.fetchone()[0] - until).days + 1
        cur.execute("SELECT product_id, sum(units) FROM import_later.daily GROUP BY product_id")
        sold = {p: float(u) / days for p, u in cur.fetchall()}
        cur.execute(
            "SELECT product_id, sum(units) FROM import_later.daily WHERE day < %s"
            " GROUP BY product_id",
            (until + timedelta(days=HORIZON_DAYS),),
        )
        week = {p: float(u) / HORIZON_DAYS for p, u in cur.fetchall()}
        cur.execute(
            "SELECT product_id, sum(units) FROM import_year.daily WHERE day >= %s"
            " GROUP BY product_id",
            (until - timedelta(days=TRAILING_DAYS),),
        )
        trailing = {p: float(u) / TRAILING_DAYS for p, u in cur.fetchall()}
    modelled = advice[advice["units_per_day_at_current"].notna()]
    ids = modelled["product_id"]
    frame = pd.DataFrame(
        {
            "product_id": ids.to_numpy(),
            "status": modelled["status"].to_numpy(),
            "revenue": modelled["revenue_per_day_at_current"].astype(float).to_numpy(),
            "forecast": modelled["units_per_day_at_current"].astype(float).to_numpy(),
            "sold": ids.map(sold).fillna(0.0).to_numpy(),
            "sold_week": ids.map(week).fillna(0.0).to_numpy(),
            "trailing": ids.map(trailing).fillna(0.0).to_numpy(),
        }
    )
    return frame, days


def out_of_sample(ahead: pd.DataFrame, days: int, until: date) -> dict:
    """The advice's units per day at today's price against what each product then sold, beside
    its trailing mean: MAE (what the first import was judged by), RMSE, the bias, and the share
    of products the forecast is nearer for; over every modelled product, the advised ones and
    the 20 best sellers. Prints them."""

    def scored(rows: pd.DataFrame, sold: str) -> dict:
        out = {"products": len(rows)}
        for name in ("forecast", "trailing"):
            miss = rows[name] - rows[sold]
            out[f"{name}_mae"] = round(float(miss.abs().mean()), 3)
            out[f"{name}_rmse"] = round(float(np.sqrt((miss**2).mean())), 3)
            out[f"{name}_bias"] = round(float(miss.mean()), 3)
        nearer = (rows["forecast"] - rows[sold]).abs() < (rows["trailing"] - rows[sold]).abs()
        out["forecast_nearer_share"] = round(float(nearer.mean()), 3)
        return out

    groups = {
        "modelled": ahead,
        "advised": ahead[ahead["status"] == "advice"],
        "best_sellers": ahead.nlargest(20, "revenue"),
    }
    figures: dict = {"days": days}
    print(
        f"out of sample from {until}: the advice's units per day at today's price against what "
        f"each product sold per day, beside its {TRAILING_DAYS}-day mean before {until}:"
    )
    for sold, span in (
        ("sold_week", f"the {HORIZON_DAYS} days forecast"),
        ("sold", f"all {days} days"),
    ):
        print(f"  over {span}:")
        for name, rows in groups.items():
            if rows.empty:
                continue
            f = figures[f"{name}_{sold}"] = scored(rows, sold)
            print(
                f"    {name:<12} {f['products']:>5,} products: MAE {f['forecast_mae']:.2f} vs "
                f"{f['trailing_mae']:.2f}, RMSE {f['forecast_rmse']:.2f} vs "
                f"{f['trailing_rmse']:.2f}, bias {f['forecast_bias']:+.2f} vs "
                f"{f['trailing_bias']:+.2f}; the forecast is nearer for "
                f"{f['forecast_nearer_share']:.0%}"
            )
    return figures


def elasticity_of_every_unit(admin, advice: pd.DataFrame) -> elasticity.Elasticities:
    """The products' elasticities refitted with every unit sold as the response, bulk and tier
    lines included, instead of the units billed at the offered price (`elasticity.RESPONSE`)."""
    excluded = advice.loc[advice["status"] == "excluded", "product_id"].tolist()
    with connector(admin)() as conn:
        lines = forecast.read_sale_lines(conn, "import_year", excluded)
    return elasticity.estimate(elasticity.daily_panel(lines), response="units")


def whichever_units(advice: pd.DataFrame, refit: elasticity.Elasticities, made) -> dict:
    """A sensitivity check, not the advice: how many advised moves the evidence rule still
    backs when every unit sold is the response (`elasticity_of_every_unit`): which units answer
    the offered price is a choice, and a move that holds either way rests on less of it. On a
    generated export, the share of those moves, and of the others, that raise the true revenue.
    Prints it."""
    advised = advice[advice["status"] == "advice"]
    again = advice_table.with_elasticity(advised, refit.products)
    unbacked, _, _ = evidence.unsupported(again, np.ones(len(again), dtype=bool))
    held = ~unbacked
    out = {
        "pooled": refit.pooled.summary(),
        "advised": len(advised),
        "held": int(held.sum()),
    }
    line = (
        f"with every unit sold as the response (bulk and tier lines too): {refit.pooled.summary()};"
        f" {out['held']:,} of the {len(advised):,} advised moves still backed"
    )
    if made is not None and len(advised):
        true = advised.merge(made.truth, on="product_id", suffixes=("", "_t"))
        factor = true["best_price"].astype(float) / true["current_price"].astype(float)
        up = (true_revenue_change(factor, true["elasticity_t"]) > 0).to_numpy()
        kept = true["product_id"].isin(advised["product_id"][held]).to_numpy()
        for name, rows in (("held", kept), ("not_held", ~kept)):
            if rows.any():
                out[f"{name}_true_up_share"] = round(float(up[rows].mean()), 3)
        line += "; true revenue rises for " + ", ".join(
            f"{out[k]:.1%} of those {k.split('_true')[0].replace('_', ' ')}"
            for k in ("held_true_up_share", "not_held_true_up_share")
            if k in out
        )
    print(line)
    return out


def advice_against_truth(advice: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Would following the advice raise revenue? With the export's true demand, units ~
    price ** elasticity, moving from today's price to the advised one changes revenue by
    (best / today) ** (1 + elasticity) - 1: the share of advised products where that is
    positive, its median beside the model's own prediction (best over today), the share whose
    true change lies inside the advice's 90 % range of its gain, and, where the curve's move
    and the product's own elasticity disagree (no change), which one the truth sides with."""
    advised = advice[advice["status"] == "advice"].merge(
        truth, on="product_id", suffixes=("", "_t")
    )
    if advised.empty or "elasticity_t" not in advised:
        return {}
    today = advised["current_price"].astype(float)
    true = true_revenue_change(advised["best_price"].astype(float) / today, advised["elasticity_t"])
    predicted = (
        advised["revenue_per_day_at_best"].astype(float)
        / (today * advised["units_per_day_at_current"].astype(float))
        - 1
    )
    # the stored 90 % range of each move's gain (revenue: the export has no costs), as a share
    # of today's revenue, against the true change
    now = today * advised["units_per_day_at_current"].astype(float)
    low, high = (advised[f"gain_per_day_{end}"].astype(float) / now for end in ("low", "high"))
    # where the curve's move and the product's own interval disagree: which one the truth backs
    other = advice[advice["reason"] == "disagree"].merge(
        truth, on="product_id", suffixes=("", "_t")
    )
    up = other["elasticity_high"] < -1  # the curve's rise, the interval wholly below -1
    elasticity_right = np.where(up, other["elasticity_t"] < -1, other["elasticity_t"] > -1)
    return {
        "disagreements": len(other),
        "disagreements_elasticity_right_share": round(float(elasticity_right.mean()), 3)
        if len(other)
        else None,
        "advised_true_gain_in_range_share": round(
            float(((low <= true) & (true <= high)).mean()), 3
        ),
        "advised_true_revenue_up_share": round(float((true > 0).mean()), 3),
        "advised_true_revenue_change_median_pct": round(float(100 * true.median()), 2),
        "advised_predicted_revenue_change_median_pct": round(float(100 * predicted.median()), 2),
    }


def best_sellers(admin, run, n: int = 5) -> pd.DataFrame:
    """The `n` modelled products with the most revenue: the model's forecast at today's price
    (`units_per_day_at_current`, the advice's level) beside their units per day over their last
    28 days (`model_features`), and their advice status. A model that predicted zero for a best
    seller, as the first import's did, shows here."""
    with connector(admin)() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT product_id, avg(units) FROM import_year.model_features"
            " WHERE day > (SELECT max(day) FROM import_year.model_features) - interval '28 days'"
            " GROUP BY product_id"
        )
        sold = dict(cur.fetchall())
    top = run.evidence[run.evidence["product_id"].isin(run.selection.products)]
    top = top.sort_values("revenue", ascending=False).head(n)
    advice = run.advice.set_index("product_id")
    return pd.DataFrame(
        {
            "product_id": top["product_id"].to_numpy(),
            "product_name": advice.reindex(top["product_id"])["product_name"].to_numpy(),
            "forecast": advice.reindex(top["product_id"])["units_per_day_at_current"]
            .astype(float)
            .to_numpy(),
            "sold_28d": [float(sold.get(p, float("nan"))) for p in top["product_id"]],
            "status": advice.reindex(top["product_id"])["status"].to_numpy(),
        }
    )


def no_change_reasons(advice: pd.DataFrame) -> dict[str, int]:
    """How many products keep their price, by the rule that kept it (`REASONS`, most first)."""
    kept = advice.loc[advice["status"] == "no_change", "reason"].map(REASONS)
    return {k: int(v) for k, v in kept.value_counts().items()}


def advised_gains(advice: pd.DataFrame) -> dict:
    """The advised moves: their median gain in % of today's revenue (profit), and how many have
    a 90 % range of gain wholly above zero."""
    advised = advice[advice["status"] == "advice"]
    if advised.empty:
        return {}
    return {
        "advised_gain_pct_median": round(float(advised["revenue_uplift_pct"].median()), 2),
        "advised_range_above_zero": int((advised["gain_per_day_low"] > 0).sum()),
    }


#: the comparison's step: the default guardrails' largest move per step
STEP = 0.10


def elasticity_steps(advice: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """A comparison, not the advice: one STEP toward more revenue for every modelled product
    whose own interval lies wholly on one side of -1 (a cut below it, a rise above), whatever
    its curve says. How many products that would move, and, on a generated export, the share
    whose true revenue rises."""
    modelled = advice["status"].isin(["advice", "no_change"])
    own = advice[modelled & (advice["elasticity_source"] == "own")]
    cut, rise = own["elasticity_high"] < -1, own["elasticity_low"] > -1
    out = {"elasticity_steps": int((cut | rise).sum()), "elasticity_steps_cuts": int(cut.sum())}
    moved = own[cut | rise].merge(truth, on="product_id", suffixes=("", "_t"))
    if len(moved) and "elasticity_t" in moved:
        factor = np.where(moved["elasticity_high"] < -1, 1 - STEP, 1 + STEP)
        true = true_revenue_change(factor, moved["elasticity_t"])
        out["elasticity_steps_true_up_share"] = round(float((true > 0).mean()), 3)
    return out


def indented(line: str) -> None:
    print("  " + line)


def report(args, made: order_export.KnownExport | None, summary: dict, run, clock: dict) -> dict:
    """Print the figures; return them (the truth's only for a generated export)."""
    status = run.advice["status"].value_counts().to_dict()
    truth = made.truth if made is not None else pd.DataFrame(columns=["product_id", "elasticity"])
    own = run.advice[run.advice["elasticity_source"] == "own"].merge(
        truth, on="product_id", suffixes=("", "_true")
    )
    inside = (own["elasticity_low"] <= own["elasticity_true"]) & (
        own["elasticity_true"] <= own["elasticity_high"]
    )
    figures = {
        "engine": run.spec.engine,
        "lines": int(summary["lines_read"]),
        "products_with_sales": int(summary["products"]),
        "products_qualifying": int(run.evidence["eligible"].sum()),
        "products_modelled": len(run.selection.products),
        "products_by_status": status,
        "selection": run.selection.reason,
        "training_rows": run.training_rows,
        **{k: round(v, 4) if v is not None else None for k, v in run.result.figures.items()},
        "backtest_meets_goal": run.result.meets_goal,
        "beats_baseline": run.result.beats_baseline,
        "pooled_elasticity": run.elasticities.pooled.summary(),
        "true_mean_elasticity": round(float(truth["elasticity"].mean()), 3) if len(truth) else None,
        "own_interval_coverage": round(float(inside.mean()), 3) if len(own) else None,
        "own_median_abs_error": round(
            float((own["elasticity"] - own["elasticity_true"]).abs().median()), 3
        )
        if len(own)
        else None,
        "no_change_by_reason": no_change_reasons(run.advice),
        **advised_gains(run.advice),
        **elasticity_steps(run.advice, truth),
        **advice_against_truth(run.advice, truth),
        "seconds": {k: round(v, 1) for k, v in clock.items()},
        "model_parts_s": run.seconds,
        "file_to_advice_s": round(clock["import"] + clock["model"], 1),
    }
    print()
    print(f"engine {figures['engine']}; {figures['selection']}")
    print(
        f"products: {figures['products_with_sales']:,} with sales, "
        f"{figures['products_qualifying']:,} qualify for a curve, "
        f"{figures['products_modelled']:,} modelled; advice status {status}"
    )
    print(f"no change, by reason: {figures['no_change_by_reason']}")
    if "advised_gain_pct_median" in figures:
        print(
            f"advised: median gain {figures['advised_gain_pct_median']:+.1f} % of today's "
            f"revenue; {figures['advised_range_above_zero']:,} of {status.get('advice', 0):,} "
            "with a 90 % range of gain wholly above zero"
        )
    print(f"backtest: {run.result.summary()} (meets the goal: {figures['backtest_meets_goal']})")
    print(f"elasticity: {figures['pooled_elasticity']} (published for UCI: -1.88)")
    if len(own):
        print(
            f"  true mean {figures['true_mean_elasticity']}; {len(own):,} products with their own "
            f"estimate, {figures['own_interval_coverage']:.1%} of true values inside their 90 % "
            f"interval, median |error| {figures['own_median_abs_error']}"
        )
    if figures.get("advised_true_revenue_up_share") is not None:
        print(
            f"the advice against the truth: {figures['advised_true_revenue_up_share']:.1%} of "
            f"the {status.get('advice', 0):,} advised price changes raise the true revenue "
            f"(median true change {figures['advised_true_revenue_change_median_pct']:+.2f} %, "
            f"predicted {figures['advised_predicted_revenue_change_median_pct']:+.2f} %); "
            f"{figures['advised_true_gain_in_range_share']:.1%} inside their 90 % range of gain"
        )
    truly = figures.get("elasticity_steps_true_up_share")
    print(
        f"for comparison, one {STEP * 100:.0f} % step wherever a product's own interval lies wholly on "
        f"one side of -1, whatever its curve says: {figures['elasticity_steps']:,} products "
        f"({figures['elasticity_steps_cuts']:,} cuts)"
        + (f"; {truly:.1%} of them raise the true revenue" if truly is not None else "")
    )
    if figures.get("disagreements"):
        print(
            f"where the curve and the product's own elasticity disagree ({figures['disagreements']:,}"
            f" products, no change): the truth sides with the elasticity in "
            f"{figures['disagreements_elasticity_right_share']:.1%}"
        )
    minutes = figures["file_to_advice_s"] / 60
    print(
        f"file to advice: {figures['file_to_advice_s']:.0f} s = {minutes:.1f} min (import "
        f"{clock['import']:.0f} s, model {clock['model']:.0f} s: {run.seconds}); goal <= 10 min: "
        f"{'met' if minutes <= 10 else 'NOT met'}"
    )
    return figures


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
