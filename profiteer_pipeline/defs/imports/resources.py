"""The `file_airbyte` resource: who runs Airbyte's File source on an imported file.

- `EmbeddedFileImport` (default): PyAirbyte runs source-file from its own venv, in this process's
  run (`profiteer_pipeline.imports.source_file`).
- `ServerFileImport` (`airbyte_server_files.py`): an Airbyte server runs the same connector
  config as a source and connection into the warehouse, when AIRBYTE_* names a server and
  AIRBYTE_IMPORT_URL_BASE and AIRBYTE_IMPORT_DESTINATION_ID say where it reads and writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from profiteer_pipeline.imports import source_file
from profiteer_pipeline.imports.sniff import FileShape
from profiteer_pipeline.imports.tables import ImportAccess

SERVER_IMPORT_VARIABLES = ("AIRBYTE_IMPORT_URL_BASE", "AIRBYTE_IMPORT_DESTINATION_ID")


class FileImportAirbyte(dg.ConfigurableResource):
    """One interface: the File source's records for one inbox file, in file order."""

    def read(self, log, name: str, path: Path, shape: FileShape, sink) -> source_file.RawRead:
        """The records in file order; each batch's JSON also goes to `sink` (the raw COPY)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class EmbeddedFileImport(FileImportAirbyte):
    work_dir: str | None = None  # PyAirbyte's logs; default: <state folder>/airbyte

    def describe(self) -> str:
        return f"PyAirbyte (embedded) running source-file {source_file.SOURCE_FILE_VERSION}"

    def read(self, log, name: str, path: Path, shape: FileShape, sink) -> source_file.RawRead:
        return source_file.read_file(
            path, shape, log=log, work_dir=Path(self.work_dir) if self.work_dir else None, sink=sink
        )


def build_file_airbyte(environ: dict[str, str] | None = None) -> FileImportAirbyte:
    """The server's connection when the import variables and the server are set, else PyAirbyte."""
    env = os.environ if environ is None else environ
    if not all(env.get(name) for name in SERVER_IMPORT_VARIABLES):
        return EmbeddedFileImport()
    from profiteer_pipeline.defs.imports.airbyte_server_files import ServerFileImport
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
