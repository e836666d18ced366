"""The server sync: an Airbyte server's connection, triggered and polled over its REST API.

dagster-airbyte's `AirbyteWorkspace` client starts the job (`POST /jobs`) and polls it
(`GET /jobs/{id}`); the server's Postgres destination lands the stream in `airbyte_raw.sales`.

dagster-airbyte and requests are imported only where a server sync runs: the code location loads
this module in every process (CLI, code server, run worker) and the embedded path needs neither.
"""

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from profiteer_pipeline.defs.ingest import airbyte_jobs as jobs
from profiteer_pipeline.defs.ingest.sync import AirbyteSync, SyncResult, iso_hour
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import raw_sales as raw_sql

if TYPE_CHECKING:
    from dagster_airbyte import AirbyteWorkspace
else:
    # the field's type at runtime, without importing dagster-airbyte at load: Dagster treats a
    # ResourceDependency field as a nested resource (its EnvVars are resolved at run time) whatever
    # the type argument; the value is always an AirbyteWorkspace (`build_airbyte`). No `from
    # __future__ import annotations` here: Dagster reads ResourceDependency from the evaluated
    # annotation, not from a string
    AirbyteWorkspace = Any


class AirbyteServer(AirbyteSync):
    """An Airbyte server's connection (shop API source -> warehouse, namespace airbyte_raw).

    The connection syncs incrementally on `timestamp` with the server's own state, so one sync
    brings every generated hour up to date; the window's rows are then counted in the warehouse.
    A sync already running for the connection is awaited first, so this window's shop rows
    (written before this step) are always covered by the sync this step starts.
    """

    workspace: dg.ResourceDependency[AirbyteWorkspace]
    connection_id: str = dg.EnvVar("AIRBYTE_CONNECTION_ID")
    warehouse: PostgresResource

    def describe(self) -> str:
        return f"Airbyte server {self.workspace.rest_api_base_url}, connection {self.connection_id}"

    def _wait(self, context, client, job_id: int, started: float) -> dict[str, Any]:
        try:
            return jobs.wait(
                client, job_id, poll_interval=self.workspace.poll_interval,
                poll_timeout=self.workspace.poll_timeout, log=context.log.info, started=started,
            )  # fmt: skip
        except jobs.JobTimedOut as exc:
            raise dg.Failure(str(exc)) from None

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        client = self.workspace.get_client()
        t0 = time.monotonic()
        running = [
            job
            for job in client.get_jobs_for_connection(
                self.connection_id, created_after=datetime.now(UTC) - timedelta(days=2)
            )
            if str(job.status).lower() in jobs.ACTIVE
        ]
        for job in running:
            context.log.info(f"Airbyte job {job.id} already running; waiting for it to end")
            self._wait(context, client, job.id, t0)

        started = client.start_sync_job(self.connection_id)
        job_id = started["jobId"]
        context.log.info(
            f"Airbyte job {job_id} started for connection {self.connection_id} "
            f"(window {iso_hour(start)} .. {iso_hour(end)})"
        )
        details: dict[str, Any] = dict(started)
        try:
            details = self._wait(context, client, job_id, time.monotonic())
        finally:
            if jobs.status_of(details) in jobs.ACTIVE:
                client.cancel_job(job_id)  # interrupted: do not leave the sync running
        status = jobs.status_of(details)
        if status != "succeeded":
            reason = jobs.failure_reason(client, job_id) or f"job ended {status}"
            raise dg.Failure(
                description=f"Airbyte job {job_id} for connection {self.connection_id} "
                f"{status}: {reason}",
                metadata={"airbyte_job_id": job_id, "status": status},
                allow_retries=False,  # Airbyte already retried the job's attempts itself
            )
        with self.warehouse.connect() as conn:
            raw_sql.ensure_raw_table(conn)
            rows = raw_sql.count_window(conn, start, end)
        return SyncResult(
            rows=rows,
            seconds=time.monotonic() - t0,
            mode="server",
            source=self.describe(),
            detail={
                "airbyte_job_id": job_id,
                "rows_synced_by_job": int(details.get("rowsSynced") or 0),
                "bytes_synced_by_job": int(details.get("bytesSynced") or 0),
            },
        )
