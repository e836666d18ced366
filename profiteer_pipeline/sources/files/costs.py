"""Unit costs per product for an import (`profiteer costs PATH --name my_shop`): with them the
import's advice maximizes profit, not revenue, and the minimum-margin guardrail applies.

Costs come from a costs file, or from the export itself: a `unit_cost` column (mapped like any
field) gives each product the cost on its latest sale line that has one (`from_lines`).

A costs file is CSV or Excel with a SKU column and a unit-cost column (names matched without case:
`SKUS` and `COSTS`). It is read whole and checked before anything is written: a missing column,
an empty SKU, a cost that is not a number or below zero, or one SKU with two different costs
refuses the file with one message naming the field, the product and the line. The table
`import_<name>.unit_costs` is then replaced in one transaction (SKUs the import does not have are
left out and counted).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.values import as_text, parse_numbers

TABLE = "unit_costs"
SKUS = ("sku", "product_id", "stockcode", "stock code", "stock_code", "product", "item")
COSTS = ("unit_cost", "unit cost", "cost", "cost_price", "cost price", "cogs", "purchase price")
DDL = "product_id text PRIMARY KEY, unit_cost numeric(18, 4) NOT NULL CHECK (unit_cost >= 0)"


def _column(frame: pd.DataFrame, names: tuple[str, ...], what: str, path: Path) -> str:
    by_name = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in by_name:
            return by_name[name]
    raise ImportRefused(
        f"costs file {path.name}: no {what} column (one of: {', '.join(names)}); it has "
        f"{', '.join(map(str, frame.columns))}"
    )


def read(path: Path) -> pd.DataFrame:
    """product_id, unit_cost: one row per SKU of the file; ImportRefused on bad input."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    try:
        if path.suffix.lower() in {".xlsx", ".xls"}:
            raw = pd.read_excel(path, dtype=str)
        else:
            raw = pd.read_csv(path, dtype=str, sep=None, engine="python", encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ImportRefused(f"costs file {path.name}: cannot be read ({exc})") from None
    sku = as_text(raw[_column(raw, SKUS, "SKU", path)]).reset_index(drop=True)
    text = as_text(raw[_column(raw, COSTS, "unit cost", path)]).reset_index(drop=True)
    cost, _ = parse_numbers(text)
    line = pd.Series(range(2, len(raw) + 2))  # the header is line 1

    def refuse(mask: pd.Series, message) -> None:
        if mask.any():
            i = int(mask.to_numpy().nonzero()[0][0])
            raise ImportRefused(f"costs file {path.name}: {message(i)}")

    refuse(sku.isna(), lambda i: f"line {line[i]}: the SKU is empty")
    refuse(
        cost.isna(),
        lambda i: f"unit_cost of product {sku[i]!r} (line {line[i]}) is not a number: {text[i]!r}",
    )
    refuse(
        cost < 0,
        lambda i: f"unit_cost of product {sku[i]!r} (line {line[i]}) is below zero: {cost[i]:g}",
    )
    frame = pd.DataFrame({"product_id": sku, "unit_cost": cost.round(4), "line": line})
    differing = frame.groupby("product_id")["unit_cost"].transform("nunique") > 1
    if differing.any():
        pid = frame.loc[differing, "product_id"].iloc[0]
        rows = frame[frame["product_id"] == pid]
        pairs = ", ".join(
            f"{c:g} on line {n}" for c, n in zip(rows["unit_cost"], rows["line"], strict=True)
        )
        raise ImportRefused(f"costs file {path.name}: product {pid!r} has two unit costs ({pairs})")
    return frame.drop_duplicates("product_id")[["product_id", "unit_cost"]].reset_index(drop=True)


def from_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """product_id, unit_cost: each product's cost on its latest sale line with one (a cost
    changes over time; the advice is for today's)."""
    costed = lines[(lines["kind"] == "sale") & lines["unit_cost"].notna()]
    latest = costed.sort_values(["ordered_at", "line"]).groupby("product_id").tail(1)
    return (
        latest[["product_id", "unit_cost"]]
        .assign(unit_cost=lambda f: f["unit_cost"].astype(float).round(4))
        .sort_values("product_id")
        .reset_index(drop=True)
    )


def write(conn: PgConnection, schema: str, costs: pd.DataFrame) -> tuple[int, list[str]]:
    """Replace `<schema>.unit_costs` with the costs of the import's own products, in the
    caller's transaction. Returns (rows stored, SKUs the import does not have)."""
    ident = sql.Identifier(schema, TABLE)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT product_id FROM {}").format(sql.Identifier(schema, "products")))
        known = {row[0] for row in cur.fetchall()}
        keep = costs["product_id"].isin(known)
        cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + DDL + ")").format(ident))
        cur.execute(sql.SQL("DELETE FROM {}").format(ident))
        rows = list(costs.loc[keep, ["product_id", "unit_cost"]].itertuples(index=False))
        if rows:
            cur.executemany(
                sql.SQL("INSERT INTO {} (product_id, unit_cost) VALUES (%s, %s)").format(ident),
                [(pid, float(cost)) for pid, cost in rows],
            )
    return len(rows), sorted(costs.loc[~keep, "product_id"])


def stored(conn: PgConnection, schema: str) -> pd.Series | None:
    """product_id -> unit cost, or None when the import has no costs."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f'"{schema}".{TABLE}',))
        if cur.fetchone()[0] is None:
            return None
        cur.execute(
            sql.SQL("SELECT product_id, unit_cost FROM {}").format(sql.Identifier(schema, TABLE))
        )
        rows = cur.fetchall()
    return pd.Series({pid: float(cost) for pid, cost in rows}, dtype=float)
