"""Order lines from raw records: accepted as sales, kept as returns, or quarantined with a reason.

No line disappears silently: every record read is exactly one of a sale, a return, or a
quarantined line (with its line number, reason, column and value). Amounts are exact: quantities
in thousandths and prices and revenue in ten-thousandths, as integers, so the hourly totals
reconcile to the cent with the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profiteer_pipeline.sources.files import fields as F
from profiteer_pipeline.sources.files.dates import parse_timestamps
from profiteer_pipeline.sources.files.errors import ImportRefused, example_lines
from profiteer_pipeline.sources.files.layouts import Resolved
from profiteer_pipeline.sources.files.values import as_text, parse_numbers

QTY_SCALE = 1000  # quantities kept to 0.001
#: A column whose values are mostly unreadable is a wrong column: the file is refused.
UNREADABLE_SHARE = 0.5
MONEY_SCALE = 10_000  # prices and revenue kept to 0.0001

#: Rejection reasons, in the order they are checked (a line gets the first that applies).
REASONS = (
    "empty line",
    "missing product id",
    "missing timestamp",
    "unreadable timestamp",
    "missing quantity",
    "unreadable quantity",
    "zero quantity",
    "missing price",
    "unreadable price",
    "zero price",
    "negative price",
    "unreadable unit cost",
    "negative unit cost",
    "duplicate line",
)
# reason -> the canonical field whose value it concerns
REASON_FIELD = {
    "missing product id": "product_id",
    "missing timestamp": "ordered_at",
    "unreadable timestamp": "ordered_at",
    "missing quantity": "quantity",
    "unreadable quantity": "quantity",
    "zero quantity": "quantity",
    "missing price": "unit_price",
    "unreadable price": "unit_price",
    "zero price": "unit_price",
    "negative price": "unit_price",
    "unreadable unit cost": "unit_cost",
    "negative unit cost": "unit_cost",
}
LINE_COLUMNS = (
    "line",
    "ordered_at",
    "hour",
    "product_id",
    "kind",
    "quantity",
    "unit_price",
    "revenue",
    "product_name",
    "category",
    "order_id",
    "customer_id",
    "country",
    "views",
    "cart_adds",
    "unit_cost",
)
QUARANTINE_COLUMNS = ("line", "reason", "column", "value")


@dataclass
class Cleaned:
    lines: pd.DataFrame  # LINE_COLUMNS; kind is 'sale' or 'return'
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS
    read: int
    rejected: dict[str, int]
    ignored_columns: tuple[str, ...] = ()
    row_number_columns: tuple[str, ...] = ()
    decimal: dict[str, str] = field(default_factory=dict)
    timestamps_from_order: int = 0
    # exact integer amounts for the hourly grain (aligned with `lines`)
    quantity_milli: np.ndarray = field(default_factory=lambda: np.zeros(0, "int64"))
    revenue_e4: np.ndarray = field(default_factory=lambda: np.zeros(0, "int64"))

    @property
    def sales(self) -> int:
        return int((self.lines["kind"] == "sale").sum())

    @property
    def returns(self) -> int:
        return int((self.lines["kind"] == "return").sum())

    def summary(self) -> dict:
        return {
            "lines_read": self.read,
            "lines_accepted": self.sales,
            "lines_returned": self.returns,
            "lines_rejected": int(sum(self.rejected.values())),
            "rejected_by_reason": dict(self.rejected),
        }


def _row_numbers(raw: pd.DataFrame, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Columns left behind by another tool that only count rows (1, 2, 3, ... or 0, 1, 2, ...)."""
    found = []
    for column in columns:
        values = pd.to_numeric(raw[column], errors="coerce")
        if len(values) and values.notna().all():
            steps = np.diff(values.to_numpy())
            if (steps == 1).all() and values.iloc[0] in (0, 1):
                found.append(column)
    return tuple(found)


def clean(raw: pd.DataFrame, lines: np.ndarray, resolved: Resolved) -> Cleaned:
    """Classify every record of `raw` (one row per record, the file's columns) by its line number.

    Raises ImportRefused for what makes the whole file unusable (an ambiguous date column, or no
    usable line at all), naming the column and example lines.
    """
    n = len(raw)
    lines = np.asarray(lines, dtype="int64")
    opts = resolved.options
    cols = resolved.columns
    text = {name: as_text(raw[header]) for name, header in cols.items()}
    reason = pd.Series(pd.NA, index=raw.index, dtype=object)

    def reject(mask: pd.Series, why: str) -> None:
        reason[mask & reason.isna()] = why

    empty = pd.Series(True, index=raw.index)  # no field the import reads has a value
    for values in text.values():
        empty &= values.isna()
    reject(empty, "empty line")
    reject(text["product_id"].isna(), "missing product id")

    ts_text = text["ordered_at"]
    filled_from_order = 0
    if "order_id" in text and ts_text.isna().any():
        # Shopify writes the order's fields on its first line only: take them from there
        order_first = ts_text.groupby(text["order_id"]).transform("first")
        fill = ts_text.isna() & order_first.notna()
        filled_from_order = int(fill.sum())
        ts_text = ts_text.where(~fill, order_first)
    reject(ts_text.isna(), "missing timestamp")
    ordered_at = parse_timestamps(
        ts_text,
        lines,
        column=cols["ordered_at"],
        day_first=opts.day_first,
        date_format=opts.date_format,
        timezone=opts.timezone,
    )
    reject(ordered_at.isna(), "unreadable timestamp")

    marks: dict[str, str] = {}
    quantity, marks["quantity"] = parse_numbers(text["quantity"], opts.decimal)
    reject(text["quantity"].isna(), "missing quantity")
    reject(quantity.isna(), "unreadable quantity")
    qty_milli = np.round(quantity.fillna(0).to_numpy() * QTY_SCALE).astype("int64")
    reject(pd.Series(qty_milli == 0, index=raw.index), "zero quantity")

    price, marks["unit_price"] = parse_numbers(text["unit_price"], opts.decimal)
    reject(text["unit_price"].isna(), "missing price")
    reject(price.isna(), "unreadable price")
    price_e4 = np.round(price.fillna(0).to_numpy() * MONEY_SCALE).astype("int64")
    reject(pd.Series(price_e4 == 0, index=raw.index), "zero price")
    reject(pd.Series(price_e4 < 0, index=raw.index), "negative price")

    extra: dict[str, pd.Series] = {}
    for name in ("views", "cart_adds", "unit_cost"):
        if name in text:
            extra[name], marks[name] = parse_numbers(text[name], opts.decimal)
    if "unit_cost" in extra:  # optional per line; a line without one simply has none
        reject(text["unit_cost"].notna() & extra["unit_cost"].isna(), "unreadable unit cost")
        reject(extra["unit_cost"] < 0, "negative unit cost")

    is_return = pd.Series(qty_milli < 0, index=raw.index)
    if "order_id" in text:
        is_return |= text["order_id"].str.upper().str.startswith("C", na=False)
    qty_milli = np.where(is_return.to_numpy(), -np.abs(qty_milli), qty_milli)

    ok = reason.isna()
    key = pd.DataFrame(
        {
            "ordered_at": ordered_at,
            "product_id": text["product_id"],
            "quantity": qty_milli,
            "price": price_e4,
            **{name: text[name] for name in text if name not in F.REQUIRED},
        }
    )
    duplicate = ok & key[ok.to_numpy()].duplicated().reindex(raw.index, fill_value=False)
    reject(duplicate, "duplicate line")

    for why in ("unreadable timestamp", "unreadable quantity", "unreadable price"):
        hit = (reason == why).to_numpy()
        if hit.sum() > UNREADABLE_SHARE * n:  # a wrong column, not a few bad cells
            column = cols[REASON_FIELD[why]]
            source = ts_text if why == "unreadable timestamp" else text[REASON_FIELD[why]]
            examples = ", ".join(repr(v) for v in source[hit].head(3))
            raise ImportRefused(
                f"column {column}: {int(hit.sum()):,} of {n:,} values cannot be read as "
                f"{'dates' if 'timestamp' in why else 'numbers'} (line(s) "
                f"{example_lines(lines[hit])}: {examples}). Is it the right column? Name the "
                "right one in a mapping file (--mapping)"
                + (", or give its `date_format`" if "timestamp" in why else ""),
                column=column,
                lines=lines[hit][:5],
            )

    ok = reason.isna().to_numpy()
    if not ok.any():
        counts = reason.value_counts()
        top = counts.index[0]
        column = cols.get(REASON_FIELD.get(top, ""), "")
        bad_lines = lines[(reason == top).to_numpy()]
        raise ImportRefused(
            f"no usable order line: every one of the {n:,} lines is rejected, most for {top}"
            + (f" in column {column}" if column else "")
            + f" (line(s) {example_lines(bad_lines)})",
            column=column or None,
            lines=bad_lines[:5],
        )

    revenue_e4 = np.round(qty_milli.astype("float64") * price_e4 / QTY_SCALE).astype("int64")
    accepted = pd.DataFrame(
        {
            "line": lines[ok],
            "ordered_at": ordered_at[ok].reset_index(drop=True),
            "product_id": text["product_id"][ok].to_numpy(),
            "kind": np.where(is_return.to_numpy()[ok], "return", "sale"),
            "quantity": qty_milli[ok] / QTY_SCALE,
            "unit_price": price_e4[ok] / MONEY_SCALE,
            "revenue": revenue_e4[ok] / MONEY_SCALE,
        }
    )
    accepted["hour"] = accepted["ordered_at"].dt.floor("h")
    for name in ("product_name", "category", "order_id", "customer_id", "country"):
        accepted[name] = text[name][ok].to_numpy() if name in text else None
    for name in ("views", "cart_adds", "unit_cost"):
        accepted[name] = extra[name][ok].to_numpy() if name in extra else np.nan
    accepted = accepted[list(LINE_COLUMNS)]

    bad = ~ok
    reasons = reason[bad]
    value = pd.Series(None, index=reasons.index, dtype=object)
    column = pd.Series(None, index=reasons.index, dtype=object)
    for why, name in REASON_FIELD.items():
        hit = reasons == why
        if hit.any():
            column[hit] = cols[name]
            value[hit] = text[name][bad][hit] if name != "ordered_at" else ts_text[bad][hit]
    quarantine = pd.DataFrame(
        {
            "line": lines[bad],
            "reason": reasons.to_numpy(),
            "column": column.to_numpy(),
            "value": value.to_numpy(),
        }
    )
    counts = reasons.value_counts()
    ignored = resolved.ignored
    return Cleaned(
        lines=accepted.reset_index(drop=True),
        quarantine=quarantine,
        read=n,
        rejected={r: int(counts[r]) for r in REASONS if r in counts.index},
        ignored_columns=ignored,
        row_number_columns=_row_numbers(raw, ignored),
        decimal=marks,
        timestamps_from_order=filled_from_order,
        quantity_milli=qty_milli[ok],
        revenue_e4=revenue_e4[ok],
    )
