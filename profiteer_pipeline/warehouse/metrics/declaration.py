"""One metric table as one declaration (`MetricTable`), and the SQL that follows from it.

Pure (psycopg2.sql only, no Dagster). A declaration holds every fact about a table: its name,
its columns (type, the SQL expression that fills the column in the table's refresh, and what it
means), its key, what it is for, what it is computed from, the rows a person looks at first, its
refresh statement and its role (a base aggregate, a table the app reads, the refresh log, or a
table the model's assets rebuild after each training).
From it follow the DDL, the refresh INSERT (its column list and SELECT list), the SELECTs that
read it (`MetricTable.select`), and, in `profiteer_pipeline.defs.metrics`, the Dagster asset spec.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from psycopg2 import sql

if TYPE_CHECKING:
    from psycopg2.extensions import cursor as Cursor

SCHEMA = "analytics"
#: The relation a refresh reads the sales from: the simulated shop's (an import has its own).
SALES = ("public", "sales")

Role = Literal["base", "app", "log", "model"]
ROLES = ("base", "app", "log", "model")

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Column:
    """A column: `type` is its PostgreSQL type with constraints; `expr` the SQL expression that
    fills it in the table's refresh SELECT (None: the column's default fills it); `doc` what it
    means, for people (the Dagster column schema shows it)."""

    name: str
    type: str
    expr: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class RunningTotals:
    """The table is kept by deltas: each non-key column is the running sum of the same-named
    column of `source` (grouped by the table's key). A refresh subtracts the `window` rows of
    `source` before they are re-aggregated, adds them after, then deletes the rows that match
    `drop_when` (nothing left of them)."""

    source: str
    window: str
    drop_when: str


@dataclass(frozen=True)
class MetricTable:
    """One table of schema `analytics` (or of `schema`: `in_schema`).

    `refresh` is the statement that brings the table up to date, a template with `{table}` (the
    qualified name), `{columns}` (the columns that have an `expr`) and `{select}` (their exprs,
    in order), `{schema}` (the schema of the tables it reads) and `{sales}` (the relation of the
    sales: `public.sales` for the simulated shop); `%(name)s` are the refresh's parameters (`refresh.refresh_metrics`). A table
    with `running` has no template: its statements follow from `RunningTotals`.
    `upstream` names the tables (or, for names not declared here, the pipeline's assets, e.g.
    `sales`) it is computed from; `windowed` tables keep their rows across refreshes and are
    re-aggregated per window of days (a full rebuild empties them first). A `model` table is
    rebuilt whole by an asset of the model group after each training (not by the hourly refresh):
    its rows come from the asset (no template), or from its own `refresh` template.
    """

    name: str
    role: Role
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    preview_order: tuple[str, ...] = ()
    refresh: str = ""
    running: RunningTotals | None = None
    windowed: bool = False
    schema: str = SCHEMA
    sales: tuple[str, str] = SALES

    def in_schema(self, schema: str, sales: tuple[str, str] | None = None) -> MetricTable:
        """The same table in another source's schema (an import's `import_<name>`), computed
        from that source's `sales` (schema, relation) where given."""
        return replace(self, schema=schema, sales=sales or self.sales)

    def __post_init__(self) -> None:
        names = self.column_names
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: role {self.role!r} is not base, app, log or model")
        for name in (self.name, *names):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{self.name}: {name!r} is not a plain lower-case SQL name")
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate columns")
        if not self.key or set(self.key) - set(names):
            raise ValueError(f"{self.name}: the key {self.key} must name its columns")
        for term in self.preview_order:
            self._order_term(term)
        if self.role == "model" and self.running is not None:
            raise ValueError(f"{self.name}: a model table is rebuilt whole, not kept by totals")
        if self.role != "model" and (self.running is None) == (not self.refresh):
            raise ValueError(f"{self.name}: give a refresh template or running totals, not both")
        if self.running is not None and any(c.expr for c in self.columns):
            raise ValueError(f"{self.name}: running totals are sums of `{self.running.source}`")
        if self.refresh and not any(c.expr for c in self.columns):
            raise ValueError(f"{self.name}: no column has an expression to refresh it with")

    # --- names ----------------------------------------------------------------------------

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise ValueError(f"{self.qualified_name} has no column {name!r}")

    def check_columns(self, names: Sequence[str]) -> list[str]:
        """`names`, each checked to be a column of this table (a ValueError names the first
        that is not)."""
        return [self.column(n).name for n in names]

    # --- DDL ------------------------------------------------------------------------------

    @property
    def ddl(self) -> sql.Composed:
        return self.create_sql()

    def create_sql(self, keyed: bool = True) -> sql.Composed:
        """CREATE TABLE IF NOT EXISTS; `keyed` False leaves the key to `primary_key_sql`, run
        after a bulk load (one index build is faster than keeping it up to date)."""
        body = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in self.columns
        ]
        if keyed:
            body.append(sql.SQL("PRIMARY KEY ({})").format(_idents(self.key)))
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n    {}\n);\n").format(
            self.identifier, sql.SQL(",\n    ").join(body)
        )

    @property
    def primary_key_sql(self) -> sql.Composed:
        return sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
            self.identifier, _idents(self.key)
        )

    # --- the refresh ----------------------------------------------------------------------

    @property
    def refresh_sql(self) -> sql.Composed:
        """The table's refresh statement(s): its template with the declared columns filled in."""
        if not self.refresh:
            raise ValueError(f"{self.qualified_name} is kept by running totals: see `running_sql`")
        filled = [c for c in self.columns if c.expr]
        where = self._places()
        return sql.SQL(self.refresh).format(
            table=self.identifier,
            columns=_idents(c.name for c in filled),
            select=sql.SQL(",\n       ").join(sql.SQL(c.expr).format(**where) for c in filled),  # type: ignore[arg-type]
            **where,
        )

    def _places(self) -> dict[str, sql.Identifier]:
        """What `{schema}` and `{sales}` stand for in the templates and the expressions."""
        return {"schema": sql.Identifier(self.schema), "sales": sql.Identifier(*self.sales)}

    def running_sql(self, delta: str) -> dict[str, sql.Composed]:
        """The running totals' statements, with `delta` the name of the transaction's temporary
        table of changes: `capture_old` (minus the window's source rows, before they are
        re-aggregated), `capture_new` (plus them, after), `apply` (add the changes, delete the
        rows left empty) and `rebuild` (the totals from all of the source, into empty tables)."""
        if self.running is None:
            raise ValueError(f"{self.qualified_name} is not kept by running totals")
        run, table, tmp = self.running, self.identifier, sql.Identifier(delta)
        source = sql.Identifier(self.schema, run.source)
        keys = [sql.Identifier(k) for k in self.key]
        sums = [sql.Identifier(c) for c in self.column_names if c not in self.key]
        cols = _idents(self.column_names)
        key_list = sql.SQL(", ").join(keys)
        totals = sql.SQL(", ").join([*keys, *(sql.SQL("sum({})").format(s) for s in sums)])

        def capture(sign: str) -> sql.Composed:
            values = sql.SQL(", ").join([*keys, *(sql.SQL(sign) + s for s in sums)])
            return sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table}) ON COMMIT DROP;\n"
                "INSERT INTO {tmp} ({cols})\nSELECT {values}\nFROM {source}\nWHERE {window};"
            ).format(tmp=tmp, table=table, cols=cols, values=values, source=source,
                     window=sql.SQL(run.window))  # fmt: skip

        updates = sql.SQL(",\n    ").join(
            sql.SQL("{c} = t.{c} + excluded.{c}").format(c=s) for s in sums
        )
        apply = sql.SQL(
            "INSERT INTO {table} AS t ({cols})\nSELECT {totals}\nFROM {tmp}\nGROUP BY {keys}\n"
            "ON CONFLICT ({keys}) DO UPDATE SET\n    {updates};\n"
            "DELETE FROM {table} WHERE {drop_when};"
        ).format(table=table, cols=cols, totals=totals, tmp=tmp, keys=key_list, updates=updates,
                 drop_when=sql.SQL(run.drop_when))  # fmt: skip
        rebuild = sql.SQL(
            "INSERT INTO {table} ({cols})\nSELECT {totals}\nFROM {source}\nGROUP BY {keys};"
        ).format(table=table, cols=cols, totals=totals, source=source, keys=key_list)
        return {
            "capture_old": capture("-"),
            "capture_new": capture(""),
            "apply": apply,
            "rebuild": rebuild,
        }

    # --- reads ----------------------------------------------------------------------------

    def select(
        self,
        columns: Sequence[str] | None = None,
        *,
        where: sql.Composable | None = None,
        order: Sequence[str] | None = None,
        limit: int | None = None,
        alias: str | None = None,
    ) -> sql.Composed:
        """`SELECT <columns> FROM <schema>.<table> [WHERE where] [ORDER BY order] [LIMIT n]`.

        `columns` default to all the declared ones, in order; `order` terms are column names,
        each optionally followed by ` DESC` (default: the preview order). Every name is checked
        against the declaration, so a read can only name what the table has.
        """
        names = self.column_names if columns is None else self.check_columns(columns)
        parts = [
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(_ident(n, alias) for n in names), self.identifier
            )
        ]
        if alias:
            parts.append(sql.SQL(" {}").format(sql.Identifier(alias)))
        if where is not None:
            parts += [sql.SQL(" WHERE "), where]
        terms = self.preview_order if order is None else order
        if terms:
            parts += [sql.SQL(" ORDER BY "), self.order_by(terms, alias)]
        if limit is not None:
            parts.append(sql.SQL(" LIMIT {}").format(sql.Literal(int(limit))))
        return sql.Composed(parts)

    def order_by(self, terms: Sequence[str], alias: str | None = None) -> sql.Composed:
        """`terms` ("column" or "column DESC") as an ORDER BY list, each column checked."""
        out = []
        for term in terms:
            name, descending = self._order_term(term)
            out.append(_ident(name, alias) + sql.SQL(" DESC" if descending else ""))
        return sql.SQL(", ").join(out)

    def _order_term(self, term: str) -> tuple[str, bool]:
        name, _, direction = term.strip().partition(" ")
        if direction.strip().upper() not in ("", "ASC", "DESC"):
            raise ValueError(f"{self.qualified_name}: bad order term {term!r}")
        return self.column(name).name, direction.strip().upper() == "DESC"


def ensure(cur: Cursor, tables: Sequence[MetricTable]) -> list[MetricTable]:
    """In the caller's transaction: the schemas of `tables` and the tables, created where
    missing. A table of an older version of this package that only has columns its declaration
    no longer has loses them and keeps its rows (a log keeps its history); one whose columns
    differ otherwise is dropped and created anew. Returns those recreated: their rows are gone."""
    schemas = sorted({t.schema for t in tables})
    for schema in schemas:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cur.execute(
        "SELECT table_schema, table_name, array_agg(column_name::text ORDER BY ordinal_position)"
        " FROM information_schema.columns WHERE table_schema = ANY(%s)"
        " GROUP BY table_schema, table_name",
        (schemas,),
    )
    existing = {(schema, name): columns for schema, name, columns in cur.fetchall()}
    stale = []
    for t in tables:
        had = existing.get((t.schema, t.name), t.column_names)
        kept = [c for c in had if c in t.column_names]
        if kept != t.column_names:
            stale.append(t)
        elif had != kept:
            drops = (
                sql.SQL("DROP COLUMN {}").format(sql.Identifier(c)) for c in had if c not in kept
            )
            cur.execute(
                sql.SQL("ALTER TABLE {} {}").format(t.identifier, sql.SQL(", ").join(drops))
            )
    for t in stale:
        cur.execute(sql.SQL("DROP TABLE {}").format(t.identifier))
    for t in tables:
        cur.execute(t.ddl)
    return stale


def _ident(name: str, alias: str | None = None) -> sql.Identifier:
    return sql.Identifier(alias, name) if alias else sql.Identifier(name)


def _idents(names: Sequence[str] | object) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)  # type: ignore[union-attr]
