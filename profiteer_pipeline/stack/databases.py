"""The stack's databases on whichever PostgreSQL it uses: the warehouse, shop and Dagster
databases and the app's read-only role, created when missing (idempotent)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg2

from profiteer_pipeline.settings import PgUrl, Settings
from profiteer_pipeline.stack.errors import StackError
from profiteer_pipeline.stack.postgres import ensure_databases, ensure_reader_role, wait_ready


def prepare(
    settings: Settings,
    admin: PgUrl,
    *,
    timeout: float,
    fix: str,
    role_required: bool,
    warn: Callable[[str], None],
) -> None:
    """Wait for the server, then create what is missing, as `admin`.

    `fix` ends the message when the server does not answer. The embedded server must also get the
    read-only role (`role_required`); on someone else's server a missing privilege for it is only
    a warning, since the pipeline itself does not need the role.
    """
    s, w = settings, settings.warehouse
    try:
        wait_ready(admin.dsn(), timeout=timeout)
    except psycopg2.OperationalError as exc:
        raise StackError(
            f"PostgreSQL at {w.redacted()} does not answer: {str(exc).strip().splitlines()[0]}. {fix}"
        ) from None
    try:
        ensure_databases(admin.dsn(), [w.database, s.shop_db, s.dagster_db])
    except psycopg2.Error as exc:
        raise StackError(
            f"cannot create the databases {w.database}, {s.shop_db}, {s.dagster_db} on "
            f"{w.redacted()}: {str(exc).strip()}. Fix: create them, or grant CREATEDB."
        ) from None
    try:
        ensure_reader_role(admin.dsn(), s.reader_user, s.reader_password, w.database)
    except psycopg2.Error as exc:
        if role_required:
            raise StackError(f"cannot create the read-only role: {exc}") from None
        warn(
            f"  warning: cannot create the read-only role {s.reader_user} on {w.redacted()}: "
            f"{str(exc).strip()}. The app logs in as it: create it, or set PROFITEER_READER_USER/PASSWORD."
        )
