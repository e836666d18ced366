"""`profiteer generate`: the original API's POST /sales as a command (request file in, rows out)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

FORMATS = (".csv", ".parquet", ".jsonl")


class _Refused(Exception):
    """Input problems, one line each, already worded for the user."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _read_request(path: str) -> Any:
    if path == "-":
        text = sys.stdin.read()
        name = "standard input"
    else:
        file = Path(path)
        if not file.is_file():
            raise _Refused(
                [
                    f"request file {path}: not found"
                    if not file.exists()
                    else f"request file {path}: not a file"
                ]
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _Refused(
                [f"request file {path}: cannot read ({exc.__class__.__name__}: {exc})"]
            ) from None
        name = f"request file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Refused(
            [f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"]
        ) from None


def _write(frame: Any, out: Path) -> None:
    """Write to a temporary file beside ``out`` and rename it into place only once complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        suffix = out.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        elif suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, date_format="iso", date_unit="s")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("generate")
@click.option(
    "--request",
    "request_path",
    required=True,
    metavar="FILE.json",
    help='Request body as JSON: {"hours": 48, "products": [...], "start": "2026-01-01T00:00Z", '
    '"seed": 1} ("start" defaults to the current UTC hour minus hours; "seed" to the project seed). '
    '"-" reads standard input.',
)
@click.option(
    "--out",
    "out_path",
    metavar="FILE",
    help="Where to write the rows: .csv, .parquet or .jsonl, chosen by extension; written to a "
    "temporary file and renamed when complete. Default: CSV on standard output.",
)
def generate(request_path: str, out_path: str | None) -> None:
    """Generate simulated shop sales: one row per product per hour (the original POST /sales).

    Invalid input prints one line per problem on standard error, exits with status 1 and writes
    nothing.
    """
    from profiteer_pipeline.synth.generator import generate_sales
    from profiteer_pipeline.synth.models import CatalogError

    try:
        problems = []
        if out_path is not None and Path(out_path).suffix.lower() not in FORMATS:
            problems.append(
                f"--out {out_path}: unknown extension {Path(out_path).suffix or '(none)'!r};"
                f" use one of {', '.join(FORMATS)}"
            )
        if out_path is not None and Path(out_path).is_dir():
            problems.append(f"--out {out_path}: is a folder")
        try:
            body = _read_request(request_path)
        except _Refused as exc:
            raise _Refused(exc.problems + problems) from None
        try:
            frame = generate_sales(body)
        except CatalogError as exc:
            raise _Refused(problems + exc.problems) from None
        if problems:
            raise _Refused(problems)
        if out_path is None:
            frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            try:
                _write(frame, Path(out_path))
            except OSError as exc:
                raise _Refused(
                    [f"--out {out_path}: cannot write ({exc.strerror or exc})"]
                ) from None
            click.echo(f"wrote {len(frame):,} rows to {out_path}", err=True)
    except _Refused as exc:
        for line in exc.problems:
            click.echo(f"error: {line}", err=True)
        raise SystemExit(1) from None


def register(main: click.Group) -> None:
    main.add_command(generate)
