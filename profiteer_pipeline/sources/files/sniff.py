"""What a file is, from its name and first bytes: the format, a CSV's delimiter and encoding, the
header. This becomes the File source's `format` and `reader_options`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from profiteer_pipeline.sources.files.errors import ImportRefused

SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}
SUPPORTED_SUFFIXES = tuple(SUFFIX_FORMATS)
DELIMITERS = ",;\t|"
SAMPLE_BYTES = 256 * 1024


@dataclass(frozen=True)
class FileShape:
    format: str  # csv, jsonl, parquet, excel
    headers: tuple[str, ...]
    delimiter: str | None = None
    encoding: str | None = None
    reader_options: dict = field(default_factory=dict)  # the File source's reader_options


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes: the same content is the same import."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise ImportRefused(
            f"{Path(path).name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return SUFFIX_FORMATS[suffix]


def _decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportRefused(f"cannot decode the file as {encoding}: {exc}") from None
    for candidate in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise ImportRefused("cannot decode the file (tried utf-8, cp1252, latin-1)")  # pragma: no cover


def _delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields."""
    best, best_score = ",", -1.0
    for d in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=d)]
        if not counts or counts[0] < 2:
            continue
        same = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = same * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    return best


def sniff(
    path: str | Path, *, delimiter: str | None = None, encoding: str | None = None
) -> FileShape:
    """The file's format and header, and the reader options the File source needs."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "csv":
        with open(path, "rb") as fh:
            raw = fh.read(SAMPLE_BYTES)
        if len(raw) == SAMPLE_BYTES:  # do not cut a multi-byte character
            raw = raw[: raw.rfind(b"\n") + 1] or raw
        text, enc = _decode(raw, encoding)
        lines = [line for line in text.splitlines()[:50] if line.strip()]
        if not lines:
            raise ImportRefused(f"{path.name}: the file is empty")
        sep = delimiter or _delimiter(lines)
        headers = next(csv.reader(io.StringIO(lines[0]), delimiter=sep))
        encoding_name = "utf-8-sig" if enc == "utf-8-sig" else enc
        options = {
            "sep": sep,
            "dtype": "str",  # every cell as text: ids keep leading zeros, we parse numbers
            "keep_default_na": False,
            "skip_blank_lines": False,  # keeps line numbers true to the file
            "encoding": encoding_name,
        }
        return FileShape("csv", tuple(headers), sep, encoding_name, options)
    if fmt == "jsonl":
        with open(path, "rb") as fh:
            first = b""
            for line in fh:
                if line.strip():
                    first = line
                    break
        if not first:
            raise ImportRefused(f"{path.name}: the file is empty")
        try:
            record = json.loads(first)
        except json.JSONDecodeError as exc:
            raise ImportRefused(
                f"{path.name}: line 1 is not JSON ({exc.msg}); a .jsonl file holds one JSON "
                "object per line"
            ) from None
        if not isinstance(record, dict):
            raise ImportRefused(f"{path.name}: line 1 is not a JSON object")
        return FileShape("jsonl", tuple(record), reader_options={})
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ImportRefused(f"{path.name}: not a readable Parquet file ({exc})") from None
        return FileShape(
            "parquet", tuple(n for n in names if not n.startswith("__index")), reader_options={}
        )
    # Excel: the File source reads it (openpyxl lives in its venv, not ours); the header is
    # known from its records, and the columns are resolved then
    if path.stat().st_size == 0:
        raise ImportRefused(f"{path.name}: the file is empty")
    return FileShape("excel", (), reader_options={})
