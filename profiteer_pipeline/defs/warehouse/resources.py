"""PostgreSQL as a Dagster resource, and the `warehouse` database bound as one.

The shop's store is another instance of it (`defs/shop/resources.py`).

Embedded or external server is not the pipeline's concern: `profiteer up` (or the operator)
puts the server's coordinates in the environment, and the resource reads them through EnvVar.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
import psycopg2
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.settings import PgUrl

if TYPE_CHECKING:
    import pandas as pd  # imported where a frame is read: the code location loads without it


class PostgresResource(dg.ConfigurableResource):
    """One database on a PostgreSQL server; the password is only ever read from the environment."""

    host: str = dg.EnvVar("PROFITEER_PG_HOST")
    port: int = dg.EnvVar.int("PROFITEER_PG_PORT")
    user: str = dg.EnvVar("PROFITEER_PG_USER")
    password: str = dg.EnvVar("PROFITEER_PG_PASSWORD")
    database: str

    @property
    def url(self) -> PgUrl:
        return PgUrl(self.user, self.password, self.host, self.port, self.database)

    def describe(self) -> str:
        """For logs and metadata: the URL with the password masked."""
        return self.url.redacted()

    @contextmanager
    def connect(self) -> Iterator[PgConnection]:
        try:
            conn = psycopg2.connect(
                self.url.dsn(), connect_timeout=10, application_name="profiteer"
            )
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise dg.Failure(
                f"cannot connect to PostgreSQL at {self.describe()}: {reason}", allow_retries=True
            ) from None
        try:
            yield conn
        finally:
            conn.close()

    def execute(self, statement: str, params: Sequence[object] | None = None) -> None:
        """Run one statement (or a script without params) in its own transaction."""
        with self.connect() as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)

    def read_sql(self, query: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        import pandas as pd

        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            columns = [c.name for c in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=columns)


def warehouse_resource() -> PostgresResource:
    """The warehouse database, from the environment (PROFITEER_WAREHOUSE_DB and the server)."""
    return PostgresResource(database=dg.EnvVar("PROFITEER_WAREHOUSE_DB"))


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": warehouse_resource()})
