"""The `file_airbyte` resource: who runs Airbyte's File source on an imported file.

- `EmbeddedFileImport` (default): PyAirbyte runs source-file from its own venv, in this process's
  run (`profiteer_pipeline.sources.files.source_file`).
- `ServerFileImport` (`airbyte_server_files.py`): an Airbyte server runs the same connector
  config as a source and connection into the warehouse, when AIRBYTE_* names a server and
  AIRBYTE_IMPORT_URL_BASE and AIRBYTE_IMPORT_DESTINATION_ID say where it reads and writes.
"""

from __future__ import annotations

import os

import dagster as dg

from profiteer_pipeline.defs.files.file_airbyte import EmbeddedFileImport, FileImportAirbyte
from profiteer_pipeline.sources.files.tables import ImportAccess

SERVER_IMPORT_VARIABLES = ("AIRBYTE_IMPORT_URL_BASE", "AIRBYTE_IMPORT_DESTINATION_ID")


def build_file_airbyte(environ: dict[str, str] | None = None) -> FileImportAirbyte:
    """The server's connection when the import variables and the server are set, else PyAirbyte."""
    env = os.environ if environ is None else environ
    if not all(env.get(name) for name in SERVER_IMPORT_VARIABLES):
        return EmbeddedFileImport()
    from profiteer_pipeline.defs.files.airbyte_server_files import ServerFileImport
    from profiteer_pipeline.defs.ingest.resources import build_airbyte
    from profiteer_pipeline.defs.warehouse.resources import warehouse_resource

    server = build_airbyte(warehouse_resource(), env)
    workspace = getattr(server, "workspace", None)
    if workspace is None:
        raise ValueError(
            "AIRBYTE_IMPORT_URL_BASE and AIRBYTE_IMPORT_DESTINATION_ID need the Airbyte server "
            "variables too (AIRBYTE_REST_API_BASE_URL, ...)"
        )
    return ServerFileImport(
        workspace=workspace,
        warehouse=warehouse_resource(),
        url_base=dg.EnvVar("AIRBYTE_IMPORT_URL_BASE"),
        destination_id=dg.EnvVar("AIRBYTE_IMPORT_DESTINATION_ID"),
    )


class ImportReaders(dg.ConfigurableResource):
    """Who reads an import besides the pipeline (user names, no passwords): the app's reader gets
    its tables, MindsDB's login the model's training rows."""

    reader_user: str = dg.EnvVar("PROFITEER_READER_USER")
    model_user: str = dg.EnvVar("PROFITEER_MODEL_USER")

    @property
    def access(self) -> ImportAccess:
        return ImportAccess(readers=(self.reader_user,), model=self.model_user)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"file_airbyte": build_file_airbyte(), "import_readers": ImportReaders()}
    )
