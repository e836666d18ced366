"""What every service of the stack shares: the settings, the state folder, the pid table, the
environment its processes get, and where messages go. Built once per `profiteer` command."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import profiteer_pipeline
from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.settings import Settings
from profiteer_pipeline.stack.processes import ProcessTable, base_environment

REPO_ROOT = Path(profiteer_pipeline.__file__).resolve().parent.parent

# in every service's environment: where the stack is and how its parts are chosen, no secret
# (settings.load() needs MINDSDB_URL whenever PROFITEER_MINDSDB_MODE is external)
SHARED_VARIABLES = {
    "PROFITEER_STATE_DIR", "PROFITEER_PG_MODE", "PROFITEER_MINDSDB_MODE", "PROFITEER_PG_PORT",
    "PROFITEER_MINDSDB_PORT", "PROFITEER_SHOP_API_PORT", "PROFITEER_DAGSTER_PORT",
    "PROFITEER_APP_PORT", "MINDSDB_URL", "DO_NOT_TRACK",
}  # fmt: skip
_PG = {"PROFITEER_PG_HOST", "PROFITEER_WAREHOUSE_DB"}
# each service's own share of environment(): its settings and the secrets it needs
SERVICE_VARIABLES = {
    # the app: the reader's login (its PROFITEER_DATABASE_URL has no password)
    "app": _PG | {"PROFITEER_READER_USER", "PROFITEER_READER_PASSWORD"},
    # the shop API: its key and the shop store's login (read-only when embedded)
    "shop_api": _PG
    | {"PROFITEER_SHOP_API_KEY", "PROFITEER_SHOP_DB", "PROFITEER_DATABASE_URL",
       "PROFITEER_PG_USER", "PROFITEER_PG_PASSWORD"},
    # Dagster: the pipeline's login (the writer when embedded, never the admin then), the shop
    # API's key and URL, and the model's login it gives MindsDB's datasource; of the reader only
    # its user name (an import grants it the import's tables), never its password
    "dagster": _PG
    | {"PROFITEER_DATABASE_URL", "PROFITEER_PG_USER", "PROFITEER_PG_PASSWORD",
       "PROFITEER_DAGSTER_DB", "PROFITEER_SHOP_DB", "PROFITEER_SHOP_API_URL",
       "PROFITEER_SHOP_API_KEY", "PROFITEER_MODEL_USER", "PROFITEER_MODEL_PASSWORD",
       "PROFITEER_READER_USER", "DAGSTER_HOME", "DAGSTER_DISABLE_TELEMETRY",
       "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "AIRBYTE_OFFLINE_MODE",
       "AIRBYTE_LOGGING_ROOT"},
    # MindsDB: none of ours (its datasource's password arrives through SQL, from Dagster)
    "mindsdb": set(),
    # the embedded PostgreSQL: none either (initdb reads the admin password from a 0600 file)
    "postgres": set(),
}  # fmt: skip
# what a service also takes from the `profiteer` command's environment when set: its own knobs
PASSTHROUGH = {
    "app": ("PROFITEER_CURRENCY", "PROFITEER_MODEL"),
    "shop_api": ("PROFITEER_SHOP_API_POOL",),
    "dagster": (
        "PROFITEER_RETRAIN_MIN_PARTITIONS", "PROFITEER_RETRAIN_MAE_DEGRADATION",
        "MINDSDB_USER", "MINDSDB_PASSWORD",
        "AIRBYTE_REST_API_BASE_URL", "AIRBYTE_CONFIGURATION_API_BASE_URL",
        "AIRBYTE_WORKSPACE_ID", "AIRBYTE_CONNECTION_ID", "AIRBYTE_CLIENT_ID",
        "AIRBYTE_CLIENT_SECRET", "AIRBYTE_USERNAME", "AIRBYTE_PASSWORD", "AIRBYTE_POLL_INTERVAL",
    ),
}  # fmt: skip


@dataclass
class Context:
    settings: Settings
    state: Path
    table: ProcessTable
    echo: Callable[[str], None] = print
    err: Callable[[str], None] = print
    modes: dict[str, str] = field(default_factory=dict)  # service -> embedded | external

    @classmethod
    def load(cls, echo: Callable[[str], None], err: Callable[[str], None]) -> Context:
        """Read the settings and choose each service's mode, once, from the environment."""
        state = settings_mod.state_dir()
        modes = {name: settings_mod.mode(name) for name in settings_mod.MODE_VARIABLES}
        table = ProcessTable(state / "run", state / "logs")
        return cls(settings_mod.load(), state, table, echo, err, modes)

    def embedded(self, name: str) -> bool:
        return self.modes.get(name, "embedded") == "embedded"

    def environment(self) -> dict[str, str]:
        """What every process of the stack gets, and what `profiteer env` prints.

        The modes and ports are included so that a shell that evaluated `profiteer env` (and the
        services themselves) make the same choices as the `profiteer up` that started them.
        """
        modes = {settings_mod.MODE_VARIABLES[n][0]: m for n, m in self.modes.items()}
        ports = {
            f"PROFITEER_{n.upper()}_PORT": str(settings_mod.port(n))
            for n in settings_mod.DEFAULT_PORTS
        }
        return (
            settings_mod.environment(self.settings)
            | modes
            | ports
            | {
                "DO_NOT_TRACK": "1",
                "DAGSTER_DISABLE_TELEMETRY": "1",
                # a single-run backfill records ONE "materialization planned" event per asset for
                # its whole range, not one per hour (720 x 12 for 30 days, about 7 MB of events);
                # Dagster's caveat: the hours of a failed range run then show as missing, not
                # failed, in the asset's partitions (the failed run and its backfill still show)
                "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
                "AIRBYTE_OFFLINE_MODE": "1",  # PyAirbyte: no connector-registry lookup
                "AIRBYTE_LOGGING_ROOT": str(self.state / "airbyte-logs"),
            }
        )

    def service_environment(self, service: str) -> dict[str, str]:
        """What one service's processes get: the base variables (PATH, HOME, locale), the state
        folder, the modes and ports, then only that service's own settings and secrets; never a
        copy of this process's environment. `profiteer env` still prints them all (environment()).
        """
        everything = self.environment()
        own = SERVICE_VARIABLES[service]
        env = base_environment(*PASSTHROUGH.get(service, ()))
        env |= {k: v for k, v in everything.items() if k in SHARED_VARIABLES or k in own}
        env[settings_mod.SECRETS_SOURCE_VARIABLE] = "environment"  # never read secrets.json
        # on the embedded server: the pipeline's writer and the shop API's reader, not the admin
        # (which only `profiteer up` itself uses)
        login = {"dagster": self.settings.pipeline, "shop_api": self.settings.shop_api_login}.get(
            service
        )
        if login is not None and login.user != self.settings.warehouse.user:
            env |= {
                "PROFITEER_PG_USER": login.user,
                "PROFITEER_PG_PASSWORD": login.password,
                "PROFITEER_DATABASE_URL": login.with_database(
                    self.settings.warehouse.database
                ).dsn(),
            }
        if service == "app":
            # the reader's coordinates as a URL without a password: the app cannot hold the admin's
            reader = self.settings.reader
            env["PROFITEER_DATABASE_URL"] = settings_mod.PgUrl(
                reader.user, "", reader.host, reader.port, reader.database
            ).dsn()
        if service != "mindsdb":  # MindsDB keeps its own interpreter, found by absolute path
            bindir = str(Path(sys.executable).parent)  # PyAirbyte calls `uv` from PATH
            env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        return env

    def cli_environment(self) -> dict[str, str]:
        """What the `dagster` CLI needs in the project's `.env` (stack/dotenv.py): Dagster's own
        share (the pipeline's login, not the admin's), without the base variables (PATH, HOME,
        locale) and pass-throughs, which the user's shell has."""
        dagster = self.service_environment("dagster")
        skip = set(base_environment(*PASSTHROUGH["dagster"])) | {"PATH"}
        return {k: v for k, v in dagster.items() if k not in skip}

    @property
    def dagster_home(self) -> Path:
        return Path(self.environment()["DAGSTER_HOME"])

    def prepare_dagster_home(self) -> Path:
        """$DAGSTER_HOME with the repository's dagster.yaml (refreshed on every start)."""
        home = self.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        return home
