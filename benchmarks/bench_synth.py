"""Benchmark: the vectorized generator against a re-implementation of the original's Python loop.

Both run in this process on the same requests; prints rows/s, peak traced memory and the ratio.

    .venv/bin/python benchmarks/bench_synth.py            # 15 x 8,760 and 1,000 x 720
    .venv/bin/python benchmarks/bench_synth.py --full     # also 15 x 87,600 (the original's 1.31M rows)

Timings are the best of ``--repeat`` runs (the loop: best of ``--loop-repeat``), as CPU time of
this process (steady when other processes share the cores) and as elapsed time. Peak memory is
measured in a separate run under tracemalloc (numpy reports its buffers to it), so tracing does not
slow the timed runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from profiteer_pipeline.synth import Product, SalesRequest, generate_sales, load_default_catalog

# --- the original, re-implemented: a per-row Python double loop with the random module ------------

_ORIGINAL_RATINGS: dict[str, float] = {}  # the original kept ratings in a process-global dict
_POPULARITY = {"Laptops": 1.1, "Pre-Built PC": 1.0, "Consoles": 0.9}


def _original_time_of_day(hour: int) -> tuple[str, float]:
    if 6 <= hour < 12:
        return "Morning", 0.8
    if 12 <= hour < 18:
        return "Afternoon", 1.5
    if 18 <= hour < 22:
        return "Evening", 1.0
    return "Overnight", 0.5


def original_generate(hours: int, products: list[dict]) -> list[dict]:
    """The original POST /sales body: naive local timestamps from midnight two days ago, records."""
    start = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    base_views = {p["product_id"]: random.randint(8000, 12000) for p in products}
    records = []
    for h in range(hours):
        stamp = start + timedelta(hours=h)
        bucket, time_factor = _original_time_of_day(stamp.hour)
        for p in products:
            pid = p["product_id"]
            rating = _ORIGINAL_RATINGS.get(pid, round(min(5.0, max(2.0, p["base_rating"])), 1))
            if random.random() < 0.1:
                rating = round(min(5.0, max(2.0, rating + random.uniform(-0.2, 0.2))), 1)
            _ORIGINAL_RATINGS[pid] = rating
            rf = ((rating - 2) / 3) ** 0.9 * 1.8
            cp = _POPULARITY.get(p["category"], 1.0)
            popularity = cp * rf * (random.uniform(0.95, 1.05) * cp)
            base = p["base_price"]
            strategy = p["price_strategy"]
            if strategy == "aggressive":
                price = random.uniform(base * 0.85, base * 1.05)
            elif strategy == "moderate":
                price = random.gauss(base, base * 0.05)
            else:
                price = random.uniform(base * 0.9, base * 1.1)
            price = round(min(p["max_price"], max(p["min_price"], price)), 2)
            views = max(100, int(base_views[pid] * popularity * time_factor))
            cart_adds = max(1, int(views * random.uniform(0.045, 0.055) * rf))
            demand = 1 / (1 + math.exp(2.0 * (price - base) / (0.1 * base)))
            purchases = max(1, int(cart_adds * random.uniform(0.16, 0.19) * demand))
            records.append(
                {
                    "timestamp": stamp.isoformat(),
                    "product_id": pid,
                    "product_name": p["product_name"],
                    "product_image": p["product_image"],
                    "category": p["category"],
                    "price_strategy": strategy,
                    "category_popularity": cp,
                    "base_price": base,
                    "current_price": price,
                    "popularity_factor": round(popularity, 2),
                    "rating": rating,
                    "time_of_day_bucket": bucket,
                    "views": views,
                    "cart_adds": cart_adds,
                    "purchases": purchases,
                }
            )
    return records


# --- measurement -------------------------------------------------------------------------------------


def catalog(n: int) -> list[Product]:
    """``n`` products cycling through the default catalog, with distinct ids and prices."""
    default = load_default_catalog()
    out = []
    for i in range(n):
        p = default[i % len(default)]
        scale = 1 + (i // len(default)) * 0.001
        out.append(
            p.model_copy(
                update={
                    "product_id": f"B{i:05d}",
                    "base_price": round(p.base_price * scale, 2),
                    "min_price": round(p.min_price * scale, 2),
                    "max_price": round(p.max_price * scale, 2),
                }
            )
        )
    return out


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) of ``repeat`` runs; CPU time is steadier on a shared machine."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        del result
    return min(walls), min(cpus)


def peak_mib(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs of the vectorized generator"
    )
    parser.add_argument(
        "--loop-repeat", type=int, default=1, help="timed runs of the original loop"
    )
    parser.add_argument("--full", action="store_true", help="add 15 x 87,600 hours (1.31M rows)")
    parser.add_argument("--no-loop-memory", action="store_true", help="skip tracing the slow loop")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    cases = [(15, 8_760), (1_000, 720)] + ([(15, 87_600)] if args.full else [])
    figures = []
    print(
        f"{'request':>17} {'rows':>10} | {'vectorized rows/s':>17} {'(wall)':>12} {'peak MiB':>8}"
        f" | {'loop rows/s':>11} {'(wall)':>9} {'peak MiB':>8} | {'ratio':>6} {'(wall)':>6}"
    )
    for n_products, hours in cases:
        products = load_default_catalog() if n_products == 15 else catalog(n_products)
        request = SalesRequest(hours=hours, products=products, start="2026-01-01T00:00Z")
        raw = [p.model_dump() for p in products]
        rows = n_products * hours
        generate_sales(SalesRequest(hours=24, products=products, start="2026-01-01T00:00Z"))

        def fast(request=request):
            return generate_sales(request)

        def slow(hours=hours, raw=raw):
            return original_generate(hours, raw)

        fast_wall, fast_cpu = timed(fast, args.repeat)
        slow_wall, slow_cpu = timed(slow, args.loop_repeat)
        fast_mem = peak_mib(fast)
        slow_mem = float("nan") if args.no_loop_memory else peak_mib(slow)
        print(
            f"{f'{n_products:,} x {hours:,} h':>17} {rows:>10,} | {rows / fast_cpu:>17,.0f}"
            f" {rows / fast_wall:>12,.0f} {fast_mem:>8.1f} | {rows / slow_cpu:>11,.0f}"
            f" {rows / slow_wall:>9,.0f} {slow_mem:>8.1f} | {slow_cpu / fast_cpu:>5,.0f}x"
            f" {slow_wall / fast_wall:>5,.0f}x"
        )
        figures.append(
            {"products": n_products, "hours": hours, "rows": rows,
             "vectorized_rows_per_s": rows / fast_cpu, "vectorized_wall_rows_per_s": rows / fast_wall,
             "loop_rows_per_s": rows / slow_cpu, "loop_wall_rows_per_s": rows / slow_wall,
             "ratio": slow_cpu / fast_cpu, "vectorized_peak_mib": fast_mem}
        )  # fmt: skip
    print("rows/s from CPU time (best run); (wall) from elapsed time; peak = tracemalloc peak.")
    if args.json:
        args.json.write_text(json.dumps({"cases": figures}, indent=2))


if __name__ == "__main__":
    main()
