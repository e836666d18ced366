"""Benchmark: per-product price elasticities with 90 % intervals (`model.elasticity`) on an order
export with KNOWN elasticities (`synth.order_export`: -3 to -0.5 per product, quantity tiers,
about 90 % zero product-days, postage and manual lines), or on a real UCI-layout export.

Prints how often the true elasticity lies inside its interval (goal: about 90 %), the median
absolute error, the shop's pooled elasticity against the true mean, how many products show a
price response (interval below zero), what was excluded as non-merchandise, and the time.

    .venv/bin/python benchmarks/bench_elasticity.py                     # 4,000 products x 364 days
    .venv/bin/python benchmarks/bench_elasticity.py --products 300 --json out.json
    .venv/bin/python benchmarks/bench_elasticity.py --uci Online_Retail.xlsx   # a real export
    .venv/bin/python benchmarks/bench_elasticity.py --standing 0.3 --response units

With `--uci`, the file's sale lines (no C-invoices, positive quantity and price) are read with
pandas, non-merchandise is excluded by the import's rules, and the pooled elasticity is printed
beside the published -1.88 (double ML on UCI Online Retail); there is no truth per product.
`--standing` bills a share of the generated lines at an older price (customers on a standing
price list); `--response units` fits every unit sold instead of the units billed at the offer.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from profiteer_pipeline.model import elasticity
from profiteer_pipeline.sources.files import merchandise
from profiteer_pipeline.synth import order_export

PUBLISHED_UCI = -1.88


def sale_lines(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sale lines of merchandise: product_id, day, quantity, unit_price; excluded products)."""
    raw = raw[~raw["InvoiceNo"].astype(str).str.startswith("C")]
    raw = raw[(raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)]
    products = (
        raw.assign(product_id=raw["StockCode"].astype(str))
        .groupby("product_id", as_index=False)["Description"]
        .first()
        .rename(columns={"Description": "product_name"})
    )
    excluded = merchandise.excluded(products)
    keep = ~raw["StockCode"].astype(str).isin(excluded["product_id"])
    raw = raw[keep]
    stamp = pd.to_datetime(raw["InvoiceDate"], format="mixed")
    lines = pd.DataFrame(
        {
            "product_id": raw["StockCode"].astype(str),
            "day": stamp.dt.normalize(),
            "quantity": raw["Quantity"].astype(float),
            "unit_price": raw["UnitPrice"].astype(float),
        }
    )
    return lines, excluded


def measure(lines: pd.DataFrame, response: str) -> tuple[elasticity.Elasticities, float]:
    t0 = time.perf_counter()
    found = elasticity.estimate(elasticity.daily_panel(lines), response=response)
    return found, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=4000)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--uci", type=Path, help="a real UCI-layout export (xlsx or csv)")
    ap.add_argument(
        "--standing", type=float, default=0.0,
        help="the share of generated lines billed at the price offered 35 days before",
    )  # fmt: skip
    ap.add_argument(
        "--response", default=elasticity.RESPONSE, choices=(elasticity.RESPONSE, "units"),
        help="what responds to the price: the units billed at the offer, or every unit sold",
    )  # fmt: skip
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    figures: dict[str, object] = {"response": args.response, "standing": args.standing}
    if args.uci:
        raw = (
            pd.read_excel(args.uci)
            if args.uci.suffix.lower() in {".xlsx", ".xls"}
            else pd.read_csv(args.uci, encoding_errors="replace")
        )
        lines, excluded = sale_lines(raw)
        found, seconds = measure(lines, args.response)
        figures["published_pooled"] = PUBLISHED_UCI
    else:
        export = order_export.generate(
            products=args.products, days=args.days, seed=args.seed, standing=args.standing
        )
        lines, excluded = sale_lines(export.lines)
        found, seconds = measure(lines, args.response)
        truth = found.products.merge(export.truth, on="product_id", suffixes=("", "_true"))
        inside = (truth["elasticity_low"] <= truth["elasticity_true"]) & (
            truth["elasticity_true"] <= truth["elasticity_high"]
        )
        own = truth["source"] == "own"
        error = (truth["elasticity"] - truth["elasticity_true"]).abs()
        figures |= {
            "coverage": float(inside.mean()),
            "coverage_own": float(inside[own].mean()),
            "coverage_pooled": float(inside[~own].mean()) if (~own).any() else None,
            "median_abs_error": float(error.median()),
            "median_abs_error_60_sale_days": float(error[truth["sale_days"] >= 60].median()),
            "true_mean": float(export.truth["elasticity"].mean()),
            "zero_product_days": float((elasticity.daily_panel(lines)["units"] == 0).mean()),
        }
    products = found.products
    figures |= {
        "lines": len(lines),
        "products": len(products),
        "products_own": int((products["source"] == "own").sum()),
        "products_showing_response": int(
            elasticity.shows_response(products, source="source").sum()
        ),
        "excluded": excluded.to_dict("records"),
        "pooled": found.pooled.elasticity,
        "pooled_low": found.pooled.low,
        "pooled_high": found.pooled.high,
        "pooled_spread": found.pooled.spread,
        "product_days": found.rows,
        "iterations": found.iterations,
        "seconds": round(seconds, 2),
    }

    print(f"{figures['lines']:,} sale lines, {len(products):,} products, {found.rows:,} "
          f"product-days, estimated in {seconds:.2f} s ({found.iterations} iterations)")  # fmt: skip
    print(f"excluded (not merchandise): {len(excluded)}: "
          + ", ".join(f"{r.product_id} ({r.reason})" for r in excluded.itertuples()))  # fmt: skip
    print(f"{found.pooled.summary()}; response {args.response}"
          + (f"; {args.standing:.0%} of lines on standing prices" if args.standing else ""))  # fmt: skip
    if args.uci:
        print(f"published (double ML): {PUBLISHED_UCI}")
    else:
        print(f"true mean elasticity {figures['true_mean']:.2f}; zero product-days "
              f"{figures['zero_product_days']:.1%}")  # fmt: skip
        print(f"true elasticity inside its 90 % interval: {figures['coverage']:.1%} of products "
              f"({figures['coverage_own']:.1%} with their own estimate, "
              f"{figures['coverage_pooled'] or float('nan'):.1%} borrowing the pooled one)")  # fmt: skip
        print(f"median absolute error {figures['median_abs_error']:.2f} "
              f"({figures['median_abs_error_60_sale_days']:.2f} for products with 60+ sale days)")  # fmt: skip
    print(f"products whose own interval lies below zero: {figures['products_showing_response']:,} "
          f"of {figures['products_own']:,} with an estimate of their own")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
