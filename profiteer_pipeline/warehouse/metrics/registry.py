"""The declared metric tables by name and role, and `select_sql`, the reads derived from them."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2 import sql

from profiteer_pipeline.warehouse.metrics.declaration import SALES, SCHEMA, MetricTable
from profiteer_pipeline.warehouse.metrics.tables import DECLARED

#: Upstream names that are not metric tables: the pipeline's assets of that name.
EXTERNAL_UPSTREAM = frozenset({"sales"})


def registry(declared: Sequence[MetricTable]) -> dict[str, MetricTable]:
    """name -> declaration, checked: unique names, upstream declared before (or external)."""
    out: dict[str, MetricTable] = {}
    for t in declared:
        if t.name in out:
            raise ValueError(f"{t.qualified_name} is declared twice")
        for up in t.upstream:
            if up not in out and up not in EXTERNAL_UPSTREAM:
                raise ValueError(f"{t.qualified_name}: upstream {up!r} is not declared before it")
        if t.running and t.running.source not in out:
            raise ValueError(f"{t.qualified_name}: running totals of undeclared {t.running.source}")
        out[t.name] = t
    return out


#: name -> declaration, in refresh order.
TABLES: dict[str, MetricTable] = registry(DECLARED)
BASE_TABLES = [t.name for t in DECLARED if t.role == "base"]
APP_TABLES = [t.name for t in DECLARED if t.role == "app"]  # in refresh (dependency) order
METRIC_TABLES = BASE_TABLES + APP_TABLES  # the Dagster assets (the log is not one)


def placed(schema: str = SCHEMA, sales: tuple[str, str] = SALES) -> dict[str, MetricTable]:
    """Every table in `schema`, computed from the sales in `sales` (schema, relation): the
    simulated shop's by default, an import's in its own schema."""
    return {name: t.in_schema(schema, sales) for name, t in TABLES.items()}


def columns(table: str) -> list[str]:
    return TABLES[table].column_names


def select_sql(
    table: str,
    columns: Sequence[str] | None = None,
    *,
    where: sql.Composable | None = None,
    order: Sequence[str] | None = None,
    limit: int | None = None,
) -> sql.Composed:
    """A SELECT of `columns` (default: all, as declared) of metric table `table`; see
    `MetricTable.select`. Unknown tables, columns and order terms are a ValueError."""
    if table not in TABLES:
        raise ValueError(f"unknown metric table {table!r}")
    return TABLES[table].select(columns, where=where, order=order, limit=limit)
