"""Airbyte's File source (`source-file`) on one file, run by PyAirbyte.

The connector (airbyte-source-file 0.5.39, the last release whose dependencies resolve) pins
airbyte-cdk 0.x, pydantic 1 and pyarrow 14, which cannot live beside this project's airbyte-cdk 7
and pyarrow 15+. It therefore lives in its own virtual environment outside the clone, made once
by `make source-file` (like MindsDB's), and PyAirbyte runs it from there (`local_executable`).

PyAirbyte starts the connector and streams its stdout (`Source.executor`); the Airbyte protocol
lines are parsed here with orjson instead of PyAirbyte's per-message pydantic models, which
halved the throughput (541,909 records: 62 s through `get_records`, 33 s this way; the
connector's own pandas-to-JSON work is the floor at ~17k records/s).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.sniff import FileShape

if TYPE_CHECKING:
    import pandas as pd  # imported where a file is read: the code location loads without it

SOURCE_FILE_VERSION = "0.5.39"
CONNECTOR = "source-file"
STREAM = "order_lines"
PROGRESS_EVERY = 100_000
SINK_BATCH = 20_000


def connector_venv() -> Path:
    """Where `make source-file` installs the connector (PROFITEER_SOURCE_FILE_VENV overrides)."""
    default = settings_mod.cache_dir() / f"source-file-{SOURCE_FILE_VERSION}"
    return Path(os.environ.get("PROFITEER_SOURCE_FILE_VENV", default)).resolve()


def connector_executable() -> Path:
    exe = connector_venv() / "bin" / CONNECTOR
    if not exe.exists():
        raise ImportRefused(
            f"Airbyte's File source is not installed at {connector_venv()}: run `make source-file` "
            "(or set PROFITEER_SOURCE_FILE_VENV to a venv holding airbyte-source-file "
            f"{SOURCE_FILE_VERSION})"
        )
    return exe


def connector_config(path: str | Path, shape: FileShape, url: str | None = None) -> dict[str, Any]:
    """The File source's configuration for this file (local storage unless `url` is given)."""
    return {
        "dataset_name": STREAM,
        "format": shape.format,
        "url": url or str(Path(path).resolve()),
        "provider": {"storage": "local"} if url is None else {"storage": "HTTPS"},
        "reader_options": json.dumps(shape.reader_options),
    }


def configured_catalog() -> dict[str, Any]:
    """One stream, every column of the file (an open schema keeps the file's column order)."""
    return {
        "streams": [
            {
                "stream": {
                    "name": STREAM,
                    "json_schema": {"type": "object", "properties": {}},
                    "supported_sync_modes": ["full_refresh"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
        ]
    }


@dataclass
class RawRead:
    """What the connector emitted: the records in file order and their raw JSON."""

    frame: pd.DataFrame  # one row per record, the file's columns
    data_json: list[str]  # each record's `data` object as JSON text (for the raw table)
    seconds: float
    connector: str
    extracted_at: pd.Timestamp
    logs: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.frame)


def pyairbyte_environment(root: Path) -> None:
    """PyAirbyte's switches, set before it is imported (explicit settings win)."""
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_NO_UV", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(root / "logs"))
    Path(os.environ["AIRBYTE_LOGGING_ROOT"]).mkdir(parents=True, exist_ok=True)


def _root_cause(text: str) -> str | None:
    """The first `SomeError: reason` line of a traceback (pandas' own reason, e.g. "Expected 4
    fields in line 32, saw 6"): the root cause comes first in a chained traceback."""
    for line in text.splitlines():
        if re.match(r"^[\w.]+(Error|Exception): ", line.strip()):
            return line.strip()
    return None


def _error_text(message: dict[str, Any]) -> tuple[int, str] | None:
    """(priority, text) of a connector error: a TRACE error (0) before an ERROR log line (1)."""
    kind = message.get("type")
    if kind == "TRACE" and (message.get("trace") or {}).get("type") == "ERROR":
        error = message["trace"].get("error") or {}
        text = str(error.get("message") or error.get("internal_message") or "connector error")
        cause = _root_cause(str(error.get("stack_trace") or ""))
    elif kind == "LOG" and (message.get("log") or {}).get("level") in ("ERROR", "FATAL"):
        full = str(message["log"].get("message", ""))
        text, cause = (full.splitlines() or [""])[0], _root_cause(full)
    else:
        return None
    text = re.sub(r"File <[^>]*>", "The file", text)
    return (0 if kind == "TRACE" else 1), text + (f" [{cause}]" if cause else "")


def read_file(
    path: str | Path,
    shape: FileShape,
    *,
    log: Callable[[str], None] | None = None,
    work_dir: Path | None = None,
    sink: Callable[[list[str]], None] | None = None,
) -> RawRead:
    """Run the File source on `path` through PyAirbyte and collect its records in file order.

    With a `sink`, each batch of records' JSON goes there as it arrives (the raw table's COPY
    runs while the connector reads) instead of being kept in `RawRead.data_json`.
    """
    import pandas as pd

    exe = connector_executable()
    root = work_dir or settings_mod.state_dir() / "airbyte"
    pyairbyte_environment(root)
    t0 = time.monotonic()
    # PyAirbyte's import warns about Google libraries and get_source prints where it logs: keep
    # both off the terminal (a CLI user sees one line per import step), in our log instead
    chatter = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(chatter):
        warnings.simplefilter("ignore", FutureWarning)
        import airbyte as ab  # lazy: importing PyAirbyte costs seconds
        from airbyte import exceptions as ab_exc

        config = connector_config(path, shape)
        extracted_at = pd.Timestamp.now(tz="UTC").floor("ms")
        # no `streams=`: selecting one makes PyAirbyte run the connector's discover first (a
        # second process, seconds); the configured catalog below names the one stream instead
        source = ab.get_source(CONNECTOR, config=config, local_executable=exe)
    if log:
        for line in chatter.getvalue().splitlines():
            if line.strip():
                log(f"PyAirbyte: {line.strip()}")
    records = Columns()
    data_json: list[str] = []
    errors: list[tuple[int, str]] = []
    logs: list[str] = []
    prefix = '{"type": "RECORD"'
    with tempfile.TemporaryDirectory(prefix="profiteer-source-file-") as tmp:
        config_file = Path(tmp) / "config.json"
        catalog_file = Path(tmp) / "catalog.json"
        fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(config, fh)
        catalog_file.write_text(json.dumps(configured_catalog()))
        args = ["read", "--config", str(config_file), "--catalog", str(catalog_file)]
        try:
            for line in source.executor.execute(args, suppress_stderr=True):
                if line.startswith(prefix):
                    # the record's data object as emitted, without re-serializing it
                    data = line[line.index('"data": ') + 8 : line.rindex(', "emitted_at"')]
                    records.append(orjson.loads(data))
                    data_json.append(data)
                    if sink is not None and len(data_json) >= SINK_BATCH:
                        sink(data_json)
                        data_json = []
                    if log and len(records) % PROGRESS_EVERY == 0:
                        log(
                            f"source-file: {len(records):,} records after {time.monotonic() - t0:.0f}s"
                        )
                    continue
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    logs.append(line.rstrip()[:300])
                    continue
                if (found := _error_text(message)) is not None:
                    errors.append(found)
        except ab_exc.PyAirbyteError as exc:
            code = getattr(exc, "exit_code", None)
            reason = min(errors)[1] if errors else f"the connector failed (exit code {code})"
            raise ImportRefused(
                f"Airbyte's File source could not read the file: {reason}"
            ) from None
    if errors and not len(records):
        raise ImportRefused(f"Airbyte's File source could not read the file: {min(errors)[1]}")
    if sink is not None and data_json:
        sink(data_json)
        data_json = []
    frame = records.frame() if len(records) else pd.DataFrame(columns=shape.headers)
    return RawRead(
        frame=frame,
        data_json=data_json,
        seconds=time.monotonic() - t0,
        connector=f"airbyte/{CONNECTOR} {SOURCE_FILE_VERSION} via PyAirbyte {version('airbyte')}",
        extracted_at=extracted_at,
        logs=logs,
    )


class Columns:
    """Records gathered column by column (a frame without a dict per record kept around).

    A record with other keys than the ones before adds its new columns (earlier rows empty) and
    leaves the ones it lacks empty, as a JSON lines file may.
    """

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.values: list[list[Any]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, record: dict[str, Any]) -> None:
        if tuple(record) == self.names:
            for column, value in zip(self.values, record.values(), strict=True):
                column.append(value)
        else:
            for key in record:
                if key not in self.names:
                    self.names += (key,)
                    self.values.append([None] * self.count)
            for name, column in zip(self.names, self.values, strict=True):
                column.append(record.get(name))
        self.count += 1

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(dict(zip(self.names, self.values, strict=True)), columns=self.names)


def line_numbers(shape: FileShape, records: int) -> list[int] | range:
    """Each record's line in the file: the header is line 1 of a CSV or Excel sheet; a JSON
    lines file has no header."""
    start = 1 if shape.format == "jsonl" else 2
    return range(start, start + records)
