"""MindsDB SQL, built from validated identifiers and escaped values (never pasted in raw).

Pure module (no Dagster): the model asset, the app and the tests build their statements here.

Quoting follows MindsDB's own parser (mindsdb_sql_parser 0.13), measured against the 25.14.1
server: a single-quoted string doubles its quotes (`'it''s'`), and the parser also turns `\\'`
and `\\"` into quotes and strips quote characters from both ends. JSON escapes (`\\\\`, `\\u00fc`)
are *not* decoded, so JSON-quoting a value silently changes it. Values that the parser cannot
carry unchanged are refused with an error naming the field, never sent altered.

Native queries (`FROM datasource (SELECT ...)`) are passed to PostgreSQL, so inside them we quote
the PostgreSQL way; they hold only validated identifiers and timestamps we format ourselves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# PostgreSQL words we use as column names: quote them inside native queries.
_PG_RESERVED = {"timestamp", "user", "order", "group", "select", "from", "where", "table"}


class SqlValueError(ValueError):
    """A name or value that cannot be written into a statement safely; the message names it."""


def identifier(name: str, what: str = "identifier") -> str:
    """A plain SQL name (letters, digits, underscore; not starting with a digit), returned as is."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise SqlValueError(
            f"{what} {name!r} is not a valid name (letters, digits and _, not starting with a digit)"
        )
    return name


def qualified(*parts: str) -> str:
    """`project.model` or `project.model.version`, each part validated."""
    return ".".join(identifier(p) if not isinstance(p, int) else str(int(p)) for p in parts)


def pg_column(name: str) -> str:
    """A column inside a native PostgreSQL query: validated, double-quoted when reserved."""
    identifier(name, "column")
    return f'"{name}"' if name.lower() in _PG_RESERVED else name


def string(value: str, field: str = "value") -> str:
    """A MindsDB string literal that the server reads back unchanged, or SqlValueError."""
    if not isinstance(value, str):
        raise SqlValueError(f"{field} must be a string")
    if "\x00" in value:
        raise SqlValueError(f"{field} contains a NUL character")
    if value[:1] == "'" or value[-1:] in ("'", "\\") or "\\'" in value or '\\"' in value:
        raise SqlValueError(
            f"{field} cannot be passed to MindsDB unchanged (it starts or ends with a quote or "
            "backslash, or has a backslash before a quote); choose another value"
        )
    return "'" + value.replace("'", "''") + "'"


def number(value: float | int, field: str = "value") -> str:
    """A finite number as a literal (bools refused: they are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SqlValueError(f"{field} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SqlValueError(f"{field} must be finite, got {value}")
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


def literal(value: object, field: str = "value") -> str:
    if isinstance(value, str):
        return string(value, field)
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()  # type: ignore[union-attr]
    return number(value, field)  # type: ignore[arg-type]


def parameters(params: Mapping[str, object]) -> str:
    """The `{...}` of `PARAMETERS =` / `USING`: keys validated, values as literals."""
    items = [
        f"{string(identifier(k, 'parameter'), 'parameter')}: {literal(v, k)}"
        for k, v in params.items()
    ]
    return "{" + ", ".join(items) + "}"


def pg_timestamp(moment: datetime) -> str:
    """A timestamptz literal for a native PostgreSQL query, always UTC ISO 8601."""
    if not isinstance(moment, datetime):
        raise SqlValueError("timestamp must be a datetime")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return "'" + moment.isoformat() + "'::timestamptz"


# --- statements ---------------------------------------------------------------------------------


def create_database(name: str, engine: str, params: Mapping[str, object]) -> str:
    return (
        f"CREATE DATABASE {identifier(name, 'datasource')} WITH ENGINE = "
        f"{string(identifier(engine, 'engine'))}, PARAMETERS = {parameters(params)}"
    )


def drop_database(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {identifier(name, 'datasource')}"


#: Engine and connection data (MindsDB masks the password) of every database MindsDB knows.
DATASOURCES = "SELECT NAME, ENGINE, CONNECTION_DATA FROM information_schema.databases"


def select_rows(
    table: str,
    columns: Sequence[str],
    *,
    ts_column: str = "timestamp",
    before: datetime | None = None,
    since: datetime | None = None,
    schema: str = "public",
) -> str:
    """A native PostgreSQL SELECT of `columns` from `schema.table`, optionally [since, before)."""
    cols = ", ".join(pg_column(c) for c in columns)
    where = []
    if since is not None:
        where.append(f"{pg_column(ts_column)} >= {pg_timestamp(since)}")
    if before is not None:
        where.append(f"{pg_column(ts_column)} < {pg_timestamp(before)}")
    stmt = f"SELECT {cols} FROM {identifier(schema, 'schema')}.{identifier(table, 'table')}"  # noqa: S608 (validated names)
    return stmt + (" WHERE " + " AND ".join(where) if where else "")


def _using(engine: str, options: Mapping[str, str]) -> str:
    parts = [f"engine = {string(identifier(engine, 'engine'))}"]
    for key, value in options.items():
        dotted = ".".join(identifier(k, "option") for k in key.split("."))
        parts.append(f"{dotted} = {string(value, key)}")
    return "USING " + ", ".join(parts)


def create_model(
    project: str,
    model: str,
    datasource: str,
    select_sql: str,
    target: str,
    engine: str = "lightwood",
    options: Mapping[str, str] | None = None,
) -> str:
    return (
        f"CREATE MODEL {qualified(project, model)} FROM {identifier(datasource, 'datasource')} "
        f"({select_sql}) PREDICT {identifier(target, 'target')} {_using(engine, options or {})}"
    )


def retrain_model(
    project: str,
    model: str,
    datasource: str,
    select_sql: str,
    engine: str = "lightwood",
    options: Mapping[str, str] | None = None,
) -> str:
    """RETRAIN makes a new version from the given data; the old one serves until it completes."""
    return (
        f"RETRAIN {qualified(project, model)} FROM {identifier(datasource, 'datasource')} "
        f"({select_sql}) {_using(engine, options or {})}"
    )


def drop_model(project: str, model: str, version: int | None = None) -> str:
    if version is None:
        return f"DROP MODEL IF EXISTS {qualified(project, model)}"
    return f"DROP MODEL {qualified(project, model, int(version))}"


def model_versions(project: str, model: str) -> str:
    """One row per version: VERSION, STATUS, ACTIVE, ACCURACY, ERROR, TRAINING_TIME, ..."""
    return (
        "SELECT NAME, VERSION, STATUS, ACTIVE, ACCURACY, ERROR, TRAINING_TIME, "  # noqa: S608
        "TRAINING_PHASE_NAME, SELECT_DATA_QUERY, CREATED_AT "
        f"FROM {identifier(project, 'project')}.models WHERE NAME = {string(identifier(model, 'model'))}"  # noqa: S608
    )


def describe_model(project: str, model: str, part: str | None = None) -> str:
    """`DESCRIBE project.model[.part]`; part is one of info, features, model, jsonai."""
    if part is not None and part not in ("info", "features", "model", "jsonai"):
        raise SqlValueError(f"describe part {part!r} is not info, features, model or jsonai")
    return "DESCRIBE " + qualified(project, model, *([part] if part else []))


def predict_where(project: str, model: str, target: str, row: Mapping[str, object]) -> str:
    """One prediction from literal inputs: `SELECT target FROM model WHERE col = value AND ...`."""
    conds = " AND ".join(f"{identifier(k, 'column')} = {literal(v, k)}" for k, v in row.items())
    return f"SELECT {identifier(target, 'target')} FROM {qualified(project, model)} WHERE {conds}"  # noqa: S608


def predict_join(
    project: str,
    model: str,
    target: str,
    datasource: str,
    select_sql: str,
    passthrough: Sequence[str],
) -> str:
    """Batch predictions for the rows of a native query, in one statement (a JOIN with the model).

    Returns the `passthrough` columns of each input row and `predicted`.
    """
    cols = ", ".join(f"t.`{identifier(c, 'column')}`" for c in passthrough)
    return (
        f"SELECT {cols}, m.{identifier(target, 'target')} AS predicted "  # noqa: S608
        f"FROM {identifier(datasource, 'datasource')} ({select_sql}) AS t "
        f"JOIN {qualified(project, model)} AS m"
    )
