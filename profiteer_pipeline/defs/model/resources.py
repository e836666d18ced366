"""MindsDB as a Dagster resource: the server from MINDSDB_URL, the warehouse as its datasource.

Embedded (`profiteer up` starts MindsDB locally) or a server elsewhere (a Kubernetes Service,
MindsDB Cloud) is only a different MINDSDB_URL. The datasource parameters are the warehouse's
coordinates from the environment, with the model's own login (PROFITEER_MODEL_USER/PASSWORD),
which can read the training view `public.sales_features` and nothing else (stack/roles.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from profiteer_pipeline.model.client import Datasource, MindsDBClient, MindsDBError
from profiteer_pipeline.settings import port


def default_url() -> str:
    """The embedded server's URL (settings' port), for when MINDSDB_URL is not set."""
    return f"http://127.0.0.1:{port('mindsdb')}"


class MindsDBResource(dg.ConfigurableResource):
    """One MindsDB server. Every call goes through `session()`, so a connection failure fails fast
    (`connect_timeout`) and any MindsDB error fails the step, naming the URL, never a password."""

    url: str = ""  # empty: MINDSDB_URL as the run finds it, else the embedded default
    login: str | None = None
    password: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    training_timeout: float = 1800.0
    # the warehouse, as MindsDB reaches it (same server coordinates as the pipeline's), as the
    # model's login: SELECT on the training view only
    warehouse_host: str = dg.EnvVar("PROFITEER_PG_HOST")
    warehouse_port: int = dg.EnvVar.int("PROFITEER_PG_PORT")
    warehouse_database: str = dg.EnvVar("PROFITEER_WAREHOUSE_DB")
    warehouse_user: str = dg.EnvVar("PROFITEER_MODEL_USER")
    warehouse_password: str = dg.EnvVar("PROFITEER_MODEL_PASSWORD")

    @classmethod
    def from_env(cls) -> MindsDBResource:
        """MINDSDB_URL (else the embedded default); MINDSDB_USER/MINDSDB_PASSWORD when set."""
        kwargs: dict[str, object] = {
            "url": dg.EnvVar("MINDSDB_URL") if os.environ.get("MINDSDB_URL") else ""
        }
        if os.environ.get("MINDSDB_USER"):
            kwargs["login"] = dg.EnvVar("MINDSDB_USER")
            kwargs["password"] = dg.EnvVar("MINDSDB_PASSWORD")
        return cls(**kwargs)

    @property
    def server_url(self) -> str:
        return self.url or os.environ.get("MINDSDB_URL") or default_url()

    def client(self) -> MindsDBClient:
        """A checked connection; dg.Failure naming the URL (never the password) when unreachable."""
        try:
            return MindsDBClient(
                self.server_url,
                self.login,
                self.password,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
        except MindsDBError as exc:
            raise dg.Failure(description=str(exc), allow_retries=True) from None

    @contextmanager
    def session(self) -> Iterator[MindsDBClient]:
        """A checked client; a MindsDBError inside the block becomes a dg.Failure naming the URL."""
        client = self.client()
        try:
            yield client
        except MindsDBError as exc:
            raise dg.Failure(description=f"MindsDB at {client.display_url}: {exc}") from None

    def datasource_params(self) -> dict[str, object]:
        return {
            "host": self.warehouse_host,
            "port": int(self.warehouse_port),
            "database": self.warehouse_database,
            "user": self.warehouse_user,
            "password": self.warehouse_password,
        }

    def ensure_warehouse_datasource(self, client: MindsDBClient, base: str) -> Datasource:
        """The warehouse as a datasource named after its connection (a new one when it moved)."""
        return client.ensure_datasource(base, "postgres", self.datasource_params())


@dg.definitions
def resources() -> dg.Definitions:
    # MINDSDB_URL (default: the embedded server), the warehouse as its datasource
    return dg.Definitions(resources={"mindsdb": MindsDBResource.from_env()})
