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


def _job_info(client, job_id: int) -> dict[str, Any]:
    """The configuration API's `POST /jobs/get` (documented; it carries the attempts' failure
    summaries, which the public API's job omits), with the client's public auth headers."""
    import requests

    response = requests.post(
        f"{client.configuration_api_base_url}/jobs/get",
        json={"id": job_id},
        headers={"accept": "application/json", **client.all_additional_request_headers},
        auth=(client.username, client.password) if client.username else None,
        timeout=client.request_timeout,
    )
    response.raise_for_status()
    return response.json()


_ACTIVE = ("running", "pending", "incomplete")


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
        poll_timeout = self.workspace.poll_timeout
        while True:
            time.sleep(self.workspace.poll_interval)
            details = client.get_job_details(job_id)
            status = str(details.get("status", "")).lower()
            context.log.info(
                f"Airbyte job {job_id}: {status}, {details.get('rowsSynced') or 0:,} rows,"
                f" {details.get('bytesSynced') or 0:,} bytes after {time.monotonic() - started:.0f}s"
            )
            if status not in _ACTIVE:
                return dict(details)
            if poll_timeout and time.monotonic() - started > poll_timeout:
                raise dg.Failure(f"Airbyte job {job_id} still {status} after {poll_timeout}s")

    def _failure_message(self, client, job_id: int) -> str:
        """Airbyte's own reason, from the configuration API's job attempts (best effort)."""
        import requests

        try:
            info = _job_info(client, job_id)
        except (requests.RequestException, ValueError):
            return ""
        for attempt in reversed(info.get("attempts") or []):
            failures = ((attempt.get("attempt") or {}).get("failureSummary") or {}).get(
                "failures"
            ) or []
            for failure in failures:
                message = failure.get("externalMessage") or failure.get("internalMessage")
                if message:
                    return str(message)
        return ""

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
            if str(job.status).lower() in _ACTIVE
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
            if str(details.get("status", "")).lower() in _ACTIVE:
                client.cancel_job(job_id)  # interrupted: do not leave the sync running
        status = str(details.get("status", "")).lower()
        if status != "succeeded":
            reason = self._failure_message(client, job_id) or f"job ended {status}"
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
