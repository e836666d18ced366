"""`profiteer import PATH [--name NAME] [--mapping MAPPING.yaml]`: import an order export.

The file (and its mapping) is copied into the inbox. When `profiteer up` runs Dagster, the import
run is submitted through its GraphQL API and awaited, and its page is printed; otherwise the
import runs in this process against the configured warehouse. Either way the summary is read
back from the warehouse. A bad file exits 1 with one message (the column, example lines), a
stack that cannot be reached exits 2; never a traceback.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import click

from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.inbox import CONTENT_TAG, NAME_TAG

JOB = "import_job"
PARTITIONS_DEF = "imported_files"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class _Unreachable(Exception):
    """The stack (Dagster or the warehouse) cannot be reached: exit 2."""


def dagster_url() -> str:
    from profiteer_pipeline import settings as settings_mod

    return os.environ.get("PROFITEER_DAGSTER_URL") or (
        f"http://127.0.0.1:{settings_mod.port('dagster')}"
    )


def dagster_running(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/server_info", timeout=3) as resp:  # noqa: S310
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _exit_codes(refused: str, failed: str):
    """One message and an exit code instead of a traceback: 1 for a refused input, 2 when the
    warehouse or the file system failed (the database driver's errors: a dropped connection, a
    full disk)."""
    try:
        yield
    except ImportRefused as exc:
        click.echo(f"{refused}: {exc}", err=True)
        raise SystemExit(1) from None
    except (_Unreachable, OSError) as exc:
        click.echo(f"{failed}: {exc}", err=True)
        raise SystemExit(2) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "psycopg2":
            raise
        click.echo(f"{failed}: the warehouse failed: {_first_line(exc)}", err=True)
        raise SystemExit(2) from None


@contextmanager
def _warehouse():
    import psycopg2

    from profiteer_pipeline import settings as settings_mod

    try:
        # the pipeline's writer, as a run would: the tables it makes must be the pipeline's
        url = settings_mod.load().pipeline
        conn = psycopg2.connect(url.dsn(), connect_timeout=10, application_name="profiteer import")
    except (psycopg2.OperationalError, KeyError, ValueError) as exc:
        raise _Unreachable(
            f"cannot reach the warehouse ({_first_line(exc)}); start the stack with "
            "`profiteer up`, or set PROFITEER_DATABASE_URL"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def _access():
    from profiteer_pipeline import settings as settings_mod
    from profiteer_pipeline.sources.files.tables import ImportAccess

    s = settings_mod.load()
    return ImportAccess(readers=(s.reader_user,), model=s.model_user)


def _run_in_dagster(url: str, name: str, content: str, echo, timeout: float) -> None:
    from profiteer_pipeline.stack.dagster_api import (
        ADD_PARTITION,
        LAUNCH_RUN,
        RUN,
        GraphQL,
        failure_cause,
        wait_for_location,
    )
    from profiteer_pipeline.stack.errors import MainJobError

    gql = GraphQL(url)
    try:
        location = wait_for_location(gql, lambda: None, timeout=120)
        if JOB not in location.jobs:
            raise _Unreachable(f"Dagster at {url} has no {JOB} (is it this project's code?)")
        added = gql(ADD_PARTITION, selector=location.selector(), defName=PARTITIONS_DEF, key=name)[
            "addDynamicPartition"
        ]
        if added["__typename"] not in (
            "AddDynamicPartitionSuccess",
            "DuplicateDynamicPartitionError",
        ):
            raise _Unreachable(f"Dagster refused the partition {name!r}: {added.get('message')}")
        params = {
            "selector": {**location.selector(), "jobName": JOB},
            "executionMetadata": {
                "tags": [
                    {"key": "dagster/partition", "value": name},
                    {"key": NAME_TAG, "value": name},
                    {"key": CONTENT_TAG, "value": content},
                    {"key": "profiteer/launched_by", "value": "profiteer import"},
                ]
            },
        }
        launched = gql(LAUNCH_RUN, params=params)["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise _Unreachable(f"Dagster did not launch the import: {launched.get('message')}")
        run_id = launched["run"]["runId"]
        echo(f"Dagster run: {url.rstrip('/')}/runs/{run_id}")
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            run = gql(RUN, id=run_id)["runOrError"]
            status = run.get("status", "")
            if status in TERMINAL:
                break
            time.sleep(1)
        else:
            raise _Unreachable(
                f"the import run is still {status or 'queued'} after {timeout:.0f}s; follow it at "
                f"{url.rstrip('/')}/runs/{run_id}"
            )
        if status != "SUCCESS":
            cause = failure_cause(gql, run_id).lstrip(": ").strip()
            for prefix in ("dagster._core.definitions.events.Failure: ", "Failure: "):
                cause = cause.removeprefix(prefix)
            raise ImportRefused(cause or f"the import run ended {status}")
    except MainJobError as exc:
        raise _Unreachable(str(exc)) from None


def _stored_summary(name: str) -> dict:
    from profiteer_pipeline.sources.files import tables

    with _warehouse() as conn:
        stored = tables.previous(conn, name)
    if stored is None:
        raise _Unreachable(f"the import {name!r} ran but its summary is not in the warehouse")
    return stored["summary"]


def _with_currency(mapping: Path | None, currency: str, workdir: Path) -> Path:
    """The mapping (or none) with `currency:` set, as a file in `workdir`: the currency travels
    with the file into the inbox, so a Dagster run and a re-import read the same."""
    import yaml

    from profiteer_pipeline.sources.files.layouts import currency_code

    data = {}
    if mapping is not None:
        if not mapping.is_file():
            raise ImportRefused(f"mapping file {mapping}: no such file")
        data = yaml.safe_load(mapping.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ImportRefused(f"mapping file {mapping}: expected a mapping")
    data["currency"] = currency_code(currency, "--currency")
    merged = workdir / "mapping.yaml"
    merged.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return merged


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="The import's name (default: the file's name), e.g. online_retail.")
@click.option(
    "--mapping",
    type=click.Path(path_type=Path),
    help="A YAML file naming the columns (and date order, zone, decimal mark) of an unknown layout.",
)
@click.option(
    "--currency", help="What the file's prices are in (ISO code, e.g. GBP); kept in its mapping."
)
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds to wait for the run.")
def import_command(
    path: Path, name: str | None, mapping: Path | None, currency: str | None, timeout: float
) -> None:
    """Import an order export (CSV, JSON lines, Parquet, Excel) into the warehouse's hourly sales."""
    import tempfile

    from profiteer_pipeline.sources.files import inbox
    from profiteer_pipeline.sources.files.names import name_from_path, validate_name
    from profiteer_pipeline.sources.files.pipeline import iter_summary_lines, plan, run_import

    echo = click.echo
    with (
        _exit_codes("import refused", "import not run"),
        tempfile.TemporaryDirectory(prefix="profiteer-import-") as scratch,
    ):
        workdir = Path(scratch)
        if not path.is_file():
            raise ImportRefused(f"{path}: no such file")
        if mapping is not None and not mapping.is_file():
            raise ImportRefused(f"mapping file {mapping}: no such file")
        name = validate_name(name) if name else name_from_path(path)
        if currency is not None:
            mapping = _with_currency(mapping, currency, workdir)
        shape, planned = plan(path, mapping)  # a header problem fails here, before any copy
        layout = getattr(planned, "layout", None)
        placed = inbox.place(path, name, mapping)
        echo(
            f"importing {path.name} as {name!r} ({shape.format}"
            + (f", {layout} layout" if layout else "")
            + f"), copied to {placed}"
        )
        url = dagster_url()
        if dagster_running(url):
            echo(f"submitting the import run to Dagster at {url}")
            found = inbox.find(name)
            _run_in_dagster(url, name, inbox.content_key(found), echo, timeout)
            summary = _stored_summary(name)
            model = (
                f"next: Dagster's automation trains its model (import_forecast, partition {name!r}); "
                f"the price advice lands in import_{name}.price_advice and in the app"
            )
        else:
            echo(f"no Dagster at {url}: importing in this process into the configured warehouse")
            mapping_file = placed.parent / f"{name}.mapping.yaml"
            result = run_import(
                placed,
                name,
                _warehouse,
                mapping_file=mapping_file if mapping_file.exists() else None,
                log=lambda line: echo(f"  {line}"),
                access=_access(),
            )
            if result.unchanged:
                echo("  the same content was imported before: nothing changed")
            summary = result.summary
            model = (
                "next: its model trains in Dagster (import_forecast): `dg launch --assets "
                f"import_forecast -m profiteer_pipeline.definitions --partition {name}`"
            )
    echo(f"imported {name!r} into schema import_{name}:")
    for line in iter_summary_lines(summary):
        echo("  " + line)
    echo(model)


@click.command("costs")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="the import the costs belong to")
def costs_command(path: Path, name: str) -> None:
    """Store unit costs (CSV or Excel: a SKU and a unit-cost column) for an import: its next
    advice maximizes profit and keeps the minimum margin."""
    from profiteer_pipeline.sources.files import costs
    from profiteer_pipeline.sources.files.names import schema_name, validate_name

    with _exit_codes("costs refused", "costs not stored"):
        name = validate_name(name)
        found = costs.read(path)
        with _warehouse() as conn, conn:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (f'"{schema_name(name)}".products',))
                if cur.fetchone()[0] is None:
                    raise ImportRefused(f"no import named {name!r} in the warehouse")
            stored, unknown = costs.write(conn, schema_name(name), found)
    click.echo(f"stored {stored:,} unit costs for the import {name!r} (import_{name}.unit_costs)")
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        click.echo(f"  {len(unknown):,} SKUs are not in the import and were left out: {shown}")
    click.echo(
        "next: retrain to turn them into profit advice: `dg launch --assets import_forecast "
        f"-m profiteer_pipeline.definitions --partition {name}`"
    )


def register(group: click.Group) -> None:
    group.add_command(import_command)
    group.add_command(costs_command)
