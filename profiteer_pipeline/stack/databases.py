"""The stack's databases on whichever PostgreSQL it uses: the warehouse, shop and Dagster
databases, closed to PUBLIC, and the app's and MindsDB's read-only roles (stack/roles.py), created
when missing and brought to their grants (idempotent)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg2

from profiteer_pipeline.settings import PgUrl, Settings
from profiteer_pipeline.stack.errors import StackError
from profiteer_pipeline.stack.postgres import ensure_databases, wait_ready
from profiteer_pipeline.stack.roles import (
    ensure_login,
    ensure_model_role,
    ensure_reader_role,
    ensure_shop_api_role,
    hand_over,
    restrict_connect,
)


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
    read-only roles and the closed databases (`role_required`), and the pipeline's writer, which
    ends up owning the databases; on someone else's server the pipeline runs as the URL's user,
    and a missing privilege for the rest is only a warning, since the pipeline does not need it.
    """
    s, w = settings, settings.warehouse
    names = [w.database, s.shop_db, s.dagster_db]
    try:
        wait_ready(admin.dsn(), timeout=timeout)
    except psycopg2.OperationalError as exc:
        raise StackError(
            f"PostgreSQL at {w.redacted()} does not answer: {str(exc).strip().splitlines()[0]}. {fix}"
        ) from None
    try:
        ensure_databases(admin.dsn(), names)
    except psycopg2.Error as exc:
        raise StackError(
            f"cannot create the databases {w.database}, {s.shop_db}, {s.dagster_db} on "
            f"{w.redacted()}: {str(exc).strip()}. Fix: create them, or grant CREATEDB."
        ) from None
    # the pipeline's own writer on a server the stack runs (else the URL's user is the pipeline's)
    writer = s.pipeline.user if s.pipeline != w else None
    owners = [writer] if writer else []
    steps = [("close the databases to PUBLIC", "", lambda: restrict_connect(admin.dsn(), names))]
    if writer:
        steps.append(
            (
                f"create the pipeline's role {writer}",
                "",
                lambda: ensure_login(admin.dsn(), writer, s.pipeline.password),
            )
        )
    steps += [
        (
            f"create the read-only role {s.reader_user}",
            "The app logs in as it: create it, or set PROFITEER_READER_USER/PASSWORD.",
            lambda: ensure_reader_role(
                admin.dsn(), s.reader_user, s.reader_password, w.database, owners
            ),
        ),
        (
            f"create the model's role {s.model_user}",
            "MindsDB's datasource logs in as it: create it, or set PROFITEER_MODEL_USER/PASSWORD.",
            lambda: ensure_model_role(admin.dsn(), s.model_user, s.model_password, w.database),
        ),
    ]
    if writer:  # the embedded server's shop API reads its store only
        shop_api = s.shop_api_login
        steps.append(
            (
                f"create the shop API's role {shop_api.user}",
                "",
                lambda: ensure_shop_api_role(
                    admin.dsn(), shop_api.user, shop_api.password, s.shop_db
                ),
            )
        )
    if writer:  # last: it takes over what the steps above made as the admin
        steps.append(
            (f"hand the databases to {writer}", "", lambda: hand_over(admin.dsn(), writer, names))
        )
    for what, fix_role, step in steps:
        try:
            step()
        except psycopg2.Error as exc:
            if role_required:
                raise StackError(f"cannot {what}: {str(exc).strip()}") from None
            warn(
                f"  warning: cannot {what} on {w.redacted()}: {str(exc).strip()}. {fix_role}".rstrip()
            )
