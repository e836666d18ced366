"""Who reads a source's tables besides the pipeline: the one rule for every schema.

The app's reader reads every table of a schema it is given, the present ones and, through default
privileges, those the granting login (and any of `owners`) creates later. MindsDB's login uses the
schema and reads only the tables named for it (the model's training rows), nothing else. The stack
runs this at start for the simulated shop's schemas (`stack.roles`); an import runs it in its own
transaction for `import_<name>` (`sources.files.tables`). Roles the server does not have (an
external server without the stack's logins) are skipped.

Pure psycopg2 (no Dagster); statements run on the caller's cursor, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor


def existing(cur: Cursor, roles: Sequence[str | None]) -> list[sql.Identifier]:
    """The roles of `roles` the server has, in order, each once."""
    wanted = [r for r in dict.fromkeys(roles) if r]
    if not wanted:
        return []
    cur.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (wanted,))
    found = {row[0] for row in cur.fetchall()}
    return [sql.Identifier(r) for r in wanted if r in found]


def grant_schema(
    cur: Cursor,
    schema: str,
    *,
    readers: Sequence[str] = (),
    model: str | None = None,
    model_tables: Sequence[str] = (),
    owners: Sequence[str] = (),
) -> None:
    """`schema` to `readers` (every table, now and later) and to `model` (only `model_tables`,
    those that exist). `owners`: other logins whose future tables the readers read too."""
    s = sql.Identifier(schema)
    reader_roles = existing(cur, readers)
    model_roles = existing(cur, [model])
    for role in existing(cur, [*readers, model]):
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, role))
    for role in reader_roles:
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, role))
        for owner in (sql.SQL("CURRENT_USER"), *map(sql.Identifier, owners)):
            cur.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
                ).format(owner, s, role)
            )
    for table in model_tables:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',))
        if not cur.fetchone()[0]:
            continue
        for role in model_roles:
            cur.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(schema, table), role)
            )


def grant_tables(
    cur: Cursor, tables: Sequence[str], roles: Sequence[str], *, schema_usage: bool = True
) -> None:
    """SELECT on single `schema.table`s outside a source's schema (a shared list, the shop's
    products) to `roles`; with `schema_usage`, USAGE on their schemas too (`public` has it for
    everyone already)."""
    for role in existing(cur, roles):
        for qualified in tables:
            schema, _, table = qualified.partition(".")
            if schema_usage:
                cur.execute(
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role)
                )
            cur.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(schema, table), role)
            )
