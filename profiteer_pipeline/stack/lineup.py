"""The stack's services: what each program is, and which kind each service is in the chosen mode.

Stages start in order (PostgreSQL first: the others need it) and stop in reverse. Within a stage,
external endpoints are checked first, then every process is spawned at once and each is reported
as it answers, in the stage's order: MindsDB last, being the slowest (15-30 s).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.stack import databases, mindsdb
from profiteer_pipeline.stack.context import REPO_ROOT, Context
from profiteer_pipeline.stack.embedded_pg import EmbeddedPostgresService
from profiteer_pipeline.stack.errors import StackError
from profiteer_pipeline.stack.external import ExternalEndpoint
from profiteer_pipeline.stack.ports import port_in_use
from profiteer_pipeline.stack.processes import http_ok
from profiteer_pipeline.stack.service import Service
from profiteer_pipeline.stack.spawned import ProcessSpec, SpawnedProcess

# --- the programs ------------------------------------------------------------------------------


def _shop_api(ctx: Context, port: int) -> tuple[list[str], dict[str, str]]:
    app = "profiteer_pipeline.shop.api:app"
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
    ], ctx.service_environment("shop_api")  # fmt: skip


def _dagster(ctx: Context, port: int) -> tuple[list[str], dict[str, str]]:
    """`dagster dev` runs in DAGSTER_HOME, not in the clone: the `dagster` CLI loads a `.env`
    from its working folder, and the clone's `.env` (stack/dotenv.py, for your shell) holds every
    service's secrets; Dagster gets only its own."""
    ctx.prepare_dagster_home()
    dagster = str(Path(sys.executable).parent / "dagster")
    workspace = str(REPO_ROOT / "workspace.yaml")
    return [
        dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port),
    ], ctx.service_environment("dagster")  # fmt: skip


def _app(ctx: Context, port: int) -> tuple[list[str], dict[str, str]]:
    return [
        sys.executable, "-m", "streamlit", "run", "profiteer_app/Home.py",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.address", "127.0.0.1", "--server.port", str(port),
    ], ctx.service_environment("app")  # fmt: skip


def _mindsdb(ctx: Context, port: int) -> tuple[list[str], dict[str, str]]:
    """Its own venv's interpreter; without our venv on PATH, and none of our secrets (the
    datasource's password reaches it through SQL)."""
    storage = ctx.state / "mindsdb"
    env = ctx.service_environment("mindsdb") | mindsdb.environment(storage)
    return mindsdb.command(settings_mod.mindsdb_venv(), storage, port), env


SPECS = {
    spec.name: spec
    for spec in (
        ProcessSpec(
            "shop_api", "shop API", "shop API", "/health", 120, _shop_api,
            url_variable="PROFITEER_SHOP_API_URL",
        ),
        ProcessSpec(
            "dagster", "Dagster", "Dagster UI", "/server_info", 240, _dagster,
            needs=("workspace.yaml", "dagster.yaml"), cwd=lambda ctx: ctx.prepare_dagster_home(),
        ),
        ProcessSpec(
            "app", "Streamlit app", "app", "/_stcore/health", 120, _app,
            needs=("profiteer_app/Home.py",),
        ),
        ProcessSpec(
            "mindsdb", "MindsDB", "MindsDB", "/api/status", 300, _mindsdb,
            check_install=lambda: mindsdb.python_of(settings_mod.mindsdb_venv()),
        ),
    )
}  # fmt: skip
STAGES = (("postgres",), ("shop_api", "dagster", "app", "mindsdb"))
URL_ORDER = ("dagster", "app", "mindsdb", "shop_api", "postgres")  # as `up` lists them

# --- one kind per service and mode ----------------------------------------------------------


@dataclass
class Lineup:
    active: list[Service]  # this mode's services, in start order
    dormant: list[Service]  # what else may still run from an earlier `up`: `down` stops it too

    def by_name(self) -> dict[str, Service]:
        return {svc.name: svc for svc in self.active}


def lineup(ctx: Context) -> Lineup:
    active: list[Service] = []
    dormant: list[Service] = []
    for stage, names in enumerate(STAGES):
        for name in names:
            embedded = EMBEDDED_KINDS.get(name, _spawned)(ctx, name, stage)
            if ctx.embedded(name):
                active.append(embedded)
            else:
                active.append(EXTERNAL_KINDS.get(name, _external_http)(ctx, name, stage))
                dormant.append(embedded)
    known = {name for names in STAGES for name in names}
    for name in ctx.table.names():
        if name not in known:
            dormant.append(SpawnedProcess(ctx, ProcessSpec.recorded(name), len(STAGES) - 1))
    return Lineup(active, dormant)


def _spawned(ctx: Context, name: str, stage: int) -> Service:
    return SpawnedProcess(ctx, SPECS[name], stage)


def _external_http(ctx: Context, name: str, stage: int) -> Service:
    """The server that the service's URL variable names, checked at its health path."""
    spec = SPECS[name]
    mode_var, url_var = settings_mod.MODE_VARIABLES[name]
    url = os.environ[url_var]
    health = url.rstrip("/") + spec.health_path

    def check() -> None:
        if not http_ok(health, 10):
            raise StackError(
                f"{url_var}={url} does not answer {spec.health_path}. Fix: start that server, "
                f"or unset {url_var} (or set {mode_var}=embedded) to run the embedded one."
            )

    return ExternalEndpoint(
        name=name, label=spec.label, url_label=spec.url_label, url_key=f"{name}_url",
        stage=stage, url=url, where=url, port=None, check=check, probe=lambda: http_ok(health),
    )  # fmt: skip


def _external_postgres(ctx: Context, name: str, stage: int) -> Service:
    """The server PROFITEER_DATABASE_URL names; `up` creates the databases there too."""
    w = ctx.settings.warehouse

    def check() -> None:
        databases.prepare(
            ctx.settings, w, timeout=10, role_required=False, warn=ctx.err,
            fix="Fix: check PROFITEER_DATABASE_URL, or unset it (or set PROFITEER_PG_MODE=embedded) "
            "to use the embedded server.",
        )  # fmt: skip

    return ExternalEndpoint(
        name="postgres", label="PostgreSQL", url_label="database", url_key="database_url",
        stage=stage, url=w.redacted(), where=f"{w.host}:{w.port}", port=w.port, check=check,
        probe=lambda: port_in_use(w.port, w.host),
    )  # fmt: skip


# services whose kinds are not the defaults (a spawned process; an HTTP server when external)
EMBEDDED_KINDS = {"postgres": lambda ctx, name, stage: EmbeddedPostgresService(ctx, stage)}
EXTERNAL_KINDS = {"postgres": _external_postgres}
