"""The `file_airbyte` interface, and its embedded implementation.

- `EmbeddedFileImport` (default): PyAirbyte runs source-file from its own venv, in this process's
  run (`profiteer_pipeline.sources.files.source_file`).
- `ServerFileImport` (`airbyte_server_files.py`): an Airbyte server runs the same connector.

`resources.py` picks one; both implementations import the interface from here.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from profiteer_pipeline.sources.files import source_file
from profiteer_pipeline.sources.files.sniff import FileShape


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
