"""MindsDB as a Dagster resource: the server from MINDSDB_URL, the warehouse as its datasource.

Embedded (`profiteer up` starts MindsDB locally) or a server elsewhere (a Kubernetes Service,
MindsDB Cloud) is only a different MINDSDB_URL. The datasource parameters are the warehouse's
coordinates from the environment, with the read-only role: the model only ever reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg
import pandas as pd

from profiteer_pipeline.model.client import MindsDBClient, MindsDBError, ModelVersion
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.settings import port


def default_url() -> str:
    """The embedded server's URL (settings' port), for when MINDSDB_URL is not set."""
    return f"http://127.0.0.1:{port('mindsdb')}"


class MindsDBResource(dg.ConfigurableResource):
    """One MindsDB server. Connection failures fail fast (`connect_timeout`) naming the URL."""

    url: str = ""  # empty: MINDSDB_URL as the run finds it, else the embedded default
    login: str | None = None
    password: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    training_timeout: float = 1800.0
    # the warehouse, as MindsDB reaches it (same server coordinates as the pipeline's)
    warehouse_host: str = dg.EnvVar("PROFITEER_PG_HOST")
    warehouse_port: int = dg.EnvVar.int("PROFITEER_PG_PORT")
    warehouse_database: str = dg.EnvVar("PROFITEER_WAREHOUSE_DB")
    warehouse_user: str = dg.EnvVar("PROFITEER_READER_USER")
    warehouse_password: str = dg.EnvVar("PROFITEER_READER_PASSWORD")

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

    def query(self, statement: str) -> pd.DataFrame:
        return self._call(lambda c: c.query(statement))

    def model_status(self, spec: ModelSpec) -> ModelVersion | None:
        """The newest version of the model (None when it does not exist)."""
        return self._call(lambda c: c.latest(spec.name, spec.project))

    def wait_for_training(
        self, spec: ModelSpec, version: int, log: Callable[[str], None]
    ) -> ModelVersion:
        """Poll until trained, logging each status change into the run; fail with MindsDB's text."""

        def report(v: ModelVersion, elapsed: float) -> None:
            log(f"{spec.qualified_name} v{v.version}: {v.status} ({v.phase}) after {elapsed:.0f}s")

        return self._call(
            lambda c: c.wait_for_training(
                spec.name,
                version,
                project=spec.project,
                timeout=self.training_timeout,
                on_status=report,
            )  # fmt: skip
        )

    def predict_batch(self, spec: ModelSpec, inputs: pd.DataFrame) -> pd.Series:
        """Predicted target per row of `inputs`, in one call."""
        from profiteer_pipeline.model.training import predict_frame

        return self._call(lambda c: predict_frame(c, spec, inputs))

    def datasource_params(self) -> dict[str, object]:
        return {
            "host": self.warehouse_host,
            "port": int(self.warehouse_port),
            "database": self.warehouse_database,
            "user": self.warehouse_user,
            "password": self.warehouse_password,
        }

    def ensure_warehouse_datasource(self, name: str) -> str:
        """Create the warehouse datasource, or recreate it if its parameters changed.

        Returns 'created', 'unchanged' or 'recreated'.
        """
        return self._call(lambda c: c.ensure_datasource(name, "postgres", self.datasource_params()))

    def describe(self) -> str:
        """For logs and metadata: the server URL without credentials."""
        from profiteer_pipeline.model.client import redact_url

        return redact_url(self.server_url)

    def _call(self, fn):
        client = self.client()
        try:
            return fn(client)
        except MindsDBError as exc:
            raise dg.Failure(description=f"MindsDB at {client.display_url}: {exc}") from None
