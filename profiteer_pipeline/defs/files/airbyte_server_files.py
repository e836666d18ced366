"""The server path of an import: an Airbyte server runs the File source with the same config.

Per import name, the workspace holds one `file` source (`profiteer-import-<name>`) and one
connection from it to the warehouse's destination (namespace `imports_raw`, stream prefix
`<name>__`, full refresh overwrite, manual schedule). Each import updates the source's config
(the file's URL: AIRBYTE_IMPORT_URL_BASE + the inbox file's name, which the server must be able
to read: an HTTPS or S3/GCS location the inbox is published to, or Airbyte's `/local` mount),
starts a sync and polls it, then reads the landed table `imports_raw.<name>__order_lines` back
from the warehouse. The server does not keep the file's order: records are numbered in the order
they landed, which the quarantine's line numbers then follow.
"""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from psycopg2 import sql

from profiteer_pipeline.defs.files.file_airbyte import FileImportAirbyte
from profiteer_pipeline.defs.ingest import airbyte_jobs as jobs
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.sources.files import source_file
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.layouts import normalize_header
from profiteer_pipeline.sources.files.sniff import FileShape
from profiteer_pipeline.sources.files.tables import RAW_SCHEMA

if TYPE_CHECKING:
    import pandas as pd
    from dagster_airbyte import AirbyteWorkspace
else:
    # not imported at load (every process loads the code location; only the server path needs
    # it): a ResourceDependency field is a nested resource whatever its type argument (the
    # annotation must be evaluated for Dagster to see it: no `from __future__ import annotations`)
    AirbyteWorkspace = Any

AIRBYTE_COLUMNS = (
    "_airbyte_raw_id",
    "_airbyte_extracted_at",
    "_airbyte_meta",
    "_airbyte_generation_id",
)


def provider_for(url: str) -> dict[str, Any]:
    """The File source's `provider` for a URL the server reads."""
    if url.startswith(("https://", "http://")):
        return {"storage": "HTTPS", "user_agent": False}
    if url.startswith("s3://"):
        return {"storage": "S3"}
    if url.startswith("gs://"):
        return {"storage": "GCS"}
    if url.startswith("/local/"):
        return {"storage": "local"}
    raise ValueError(
        f"AIRBYTE_IMPORT_URL_BASE {url!r}: use an https://, s3://, gs:// or /local/ location"
    )


def server_config(url: str, shape: FileShape) -> dict[str, Any]:
    """The same connector config as the embedded path, with the server's view of the file."""
    config = source_file.connector_config(url, shape, url=url)
    config["provider"] = provider_for(url)
    return {"sourceType": "file", **config}


class ServerFileImport(FileImportAirbyte):
    workspace: dg.ResourceDependency[AirbyteWorkspace]
    warehouse: PostgresResource
    url_base: str
    destination_id: str

    def describe(self) -> str:
        return f"Airbyte server {self.workspace.rest_api_base_url} (File source)"

    def _find(self, client, kind: str, name: str) -> dict[str, Any] | None:
        items = client._paginated_request(  # noqa: SLF001 - the client's authenticated pager
            method="GET",
            url=f"{client.rest_api_base_url}/{kind}",
            params={"workspaceIds": self.workspace.workspace_id},
        )
        return next((item for item in items if item.get("name") == name), None)

    def _source(self, client, name: str, config: dict[str, Any]) -> str:
        title = f"profiteer-import-{name}"
        found = self._find(client, "sources", title)
        if found:
            client._single_request(  # noqa: SLF001
                method="PATCH",
                url=f"{client.rest_api_base_url}/sources/{found['sourceId']}",
                data={"name": title, "configuration": config},
            )
            return found["sourceId"]
        created = client._single_request(  # noqa: SLF001
            method="POST",
            url=f"{client.rest_api_base_url}/sources",
            data={
                "name": title,
                "workspaceId": self.workspace.workspace_id,
                "configuration": config,
            },
        )
        return created["sourceId"]

    def _connection(self, client, name: str, source_id: str) -> str:
        title = f"profiteer-import-{name}"
        found = self._find(client, "connections", title)
        if found:
            return found["connectionId"]
        created = client._single_request(  # noqa: SLF001
            method="POST",
            url=f"{client.rest_api_base_url}/connections",
            data={
                "name": title,
                "sourceId": source_id,
                "destinationId": self.destination_id,
                "namespaceDefinition": "custom_format",
                "namespaceFormat": RAW_SCHEMA,
                "prefix": f"{name}__",
                "schedule": {"scheduleType": "manual"},
                "configurations": {
                    "streams": [{"name": source_file.STREAM, "syncMode": "full_refresh_overwrite"}]
                },
            },
        )
        return created["connectionId"]

    def _landed(self, name: str, shape: FileShape) -> "tuple[pd.DataFrame, list[str]]":
        import orjson
        import pandas as pd

        table = f"{name}__{source_file.STREAM}"
        query = sql.SQL(
            "SELECT (to_jsonb(t) - %s::text[])::text FROM {}.{} t "
            "ORDER BY _airbyte_extracted_at, _airbyte_raw_id"
        ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(table))
        with self.warehouse.connect() as conn, conn.cursor() as cur:
            cur.execute(query, (list(AIRBYTE_COLUMNS),))
            data_json = [row[0] for row in cur.fetchall()]
        frame = pd.DataFrame.from_records([orjson.loads(d) for d in data_json])
        # the destination may fold the headers' case: give them back the file's spelling
        by_norm = {normalize_header(h): h for h in shape.headers}
        frame = frame.rename(columns=lambda c: by_norm.get(normalize_header(c), c))
        order = [h for h in shape.headers if h in frame.columns]
        return frame[order + [c for c in frame.columns if c not in order]], data_json

    def read(self, log, name: str, path: Path, shape: FileShape, sink) -> source_file.RawRead:
        client = self.workspace.get_client()
        url = self.url_base.rstrip("/") + "/" + path.name
        import pandas as pd

        t0 = time.monotonic()
        extracted_at = pd.Timestamp.now(tz="UTC")
        try:
            source_id = self._source(client, name, server_config(url, shape))
            connection_id = self._connection(client, name, source_id)
            job_id = client.start_sync_job(connection_id)["jobId"]
        except dg.Failure as exc:
            raise ImportRefused(f"the Airbyte server refused the import: {exc}") from None
        log(f"Airbyte job {job_id} started (connection {connection_id}, file {url})")
        try:
            details = jobs.wait(
                client, job_id, poll_interval=self.workspace.poll_interval,
                poll_timeout=self.workspace.poll_timeout, log=log,
            )  # fmt: skip
        except jobs.JobTimedOut as exc:
            raise ImportRefused(str(exc)) from None
        status = jobs.status_of(details)
        if status != "succeeded":
            reason = jobs.failure_reason(client, job_id) or f"ended {status}"
            raise ImportRefused(f"Airbyte job {job_id} for {url}: {reason}")
        frame, data_json = self._landed(name, shape)
        sink(data_json)
        return source_file.RawRead(
            frame=frame,
            data_json=[],
            seconds=time.monotonic() - t0,
            connector=f"airbyte/{source_file.CONNECTOR} on {self.workspace.rest_api_base_url} "
            f"(job {job_id})",
            extracted_at=extracted_at,
            logs=[json.dumps({"job": details})],
        )
