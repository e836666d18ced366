"""Where the stack lives and how to reach it, read from the environment.

Pure module (no Dagster import): the CLI, the app, the assets and the tests all read the same
settings. The embedded stack keeps its generated secrets in the state folder; anything set in
the environment wins over them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from profiteer_pipeline.secret_files import is_private, write_private

MINDSDB_VERSION = "25.14.1"

DEFAULT_PORTS = {
    "dagster": 3000,
    "app": 8501,
    "mindsdb": 47334,
    "shop_api": 8765,
}


def state_dir() -> Path:
    """The state folder (default `.profiteer/` under the working directory), absolute."""
    return Path(os.environ.get("PROFITEER_STATE_DIR", ".profiteer")).resolve()


def cache_dir() -> Path:
    """Installs shared by every clone (the MindsDB environment), outside the project."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "profiteer"
    return Path(os.environ.get("PROFITEER_CACHE_DIR", default)).resolve()


def mindsdb_venv() -> Path:
    return Path(
        os.environ.get("PROFITEER_MINDSDB_VENV", cache_dir() / f"mindsdb-{MINDSDB_VERSION}")
    ).resolve()


def port(name: str) -> int:
    return int(os.environ.get(f"PROFITEER_{name.upper()}_PORT", DEFAULT_PORTS[name]))


# --- embedded or external, chosen once -------------------------------------------------------

# service -> (its mode variable, the variable naming the external server)
MODE_VARIABLES = {
    "postgres": ("PROFITEER_PG_MODE", "PROFITEER_DATABASE_URL"),
    "mindsdb": ("PROFITEER_MINDSDB_MODE", "MINDSDB_URL"),
}
MODES = ("embedded", "external")


def mode(service: str) -> str:
    """'embedded' (the stack runs it) or 'external' (the server its URL variable names).

    The mode variable decides when set; otherwise a set URL variable means external. `profiteer
    env` exports the mode too, so the URLs it exports never turn the embedded servers external.
    """
    if service not in MODE_VARIABLES:
        return "embedded"
    mode_var, url_var = MODE_VARIABLES[service]
    chosen = os.environ.get(mode_var, "").strip().lower()
    if not chosen:
        return "external" if os.environ.get(url_var) else "embedded"
    if chosen not in MODES:
        raise ValueError(f"{mode_var} must be 'embedded' or 'external', not {chosen!r}")
    if chosen == "external" and not os.environ.get(url_var):
        raise ValueError(f"{mode_var}=external needs {url_var} (the server to use)")
    return chosen


# --- URLs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgUrl:
    """A PostgreSQL URL split into parts, so the other databases on the same server can be named."""

    user: str
    password: str
    host: str
    port: int
    database: str

    @classmethod
    def parse(cls, url: str) -> PgUrl:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError("PROFITEER_DATABASE_URL must be a postgresql:// URL")
        return cls(
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            database=(parts.path or "/").lstrip("/") or "postgres",
        )

    def with_database(self, database: str) -> PgUrl:
        return PgUrl(self.user, self.password, self.host, self.port, database)

    def url(self, driver: str = "postgresql+psycopg2") -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return urlunsplit((driver, f"{auth}@{self.host}:{self.port}", f"/{self.database}", "", ""))

    def dsn(self) -> str:
        """libpq form for psycopg2.connect."""
        return self.url("postgresql")

    def redacted(self) -> str:
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.database}"


# --- generated secrets of the embedded stack ------------------------------------------------


def _secrets_file() -> Path:
    return state_dir() / "secrets.json"


# key in secrets.json -> how it is made
GENERATED_SECRETS = {
    "pg_password": lambda: secrets.token_urlsafe(24),
    "pg_reader_password": lambda: secrets.token_urlsafe(24),
    "pg_model_password": lambda: secrets.token_urlsafe(24),
    "pg_pipeline_password": lambda: secrets.token_urlsafe(24),
    "pg_shop_api_password": lambda: secrets.token_urlsafe(24),
    "shop_api_key": lambda: secrets.token_urlsafe(32),
}

# `environment` in a process's environment: its secrets are the variables it was given, and the
# state folder's secrets.json is never read (the stack's services get only their own secrets)
SECRETS_SOURCE_VARIABLE = "PROFITEER_SECRETS_SOURCE"


def embedded_secrets() -> dict[str, str]:
    """Per-state-folder secrets (database passwords, shop API key), created on first use, mode 600.

    A file from an older version gets the secrets it lacks added (and its mode tightened).
    """
    path = _secrets_file()
    if path.exists():
        values = json.loads(path.read_text())
        missing = {k: make() for k, make in GENERATED_SECRETS.items() if k not in values}
        if missing or not is_private(path):
            values |= missing
            write_private(path, json.dumps(values))
        return values
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {k: make() for k, make in GENERATED_SECRETS.items()}
    try:
        write_private(path, json.dumps(values), exclusive=True)
    except FileExistsError:  # another process created it first: use its values
        return embedded_secrets()
    return values


def embedded_pg_port() -> int:
    """The embedded server's port: configured, or chosen once per state folder and kept."""
    if "PROFITEER_PG_PORT" in os.environ:
        return int(os.environ["PROFITEER_PG_PORT"])
    path = state_dir() / "pg_port"
    if path.exists():
        return int(path.read_text())
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        chosen = s.getsockname()[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(chosen))
    return chosen


@dataclass(frozen=True)
class Settings:
    warehouse: PgUrl
    shop_db: str = "shop"
    dagster_db: str = "dagster"
    embedded_postgres: bool = True
    embedded_mindsdb: bool = True
    mindsdb_url: str = ""
    shop_api_url: str = ""
    shop_api_key: str = field(default="", repr=False)
    reader_user: str = "profiteer_reader"
    reader_password: str = field(default="", repr=False)
    model_user: str = "profiteer_model"
    model_password: str = field(default="", repr=False)
    pipeline_user: str = "profiteer_pipeline"
    pipeline_password: str = field(default="", repr=False)
    shop_api_user: str = "profiteer_shop_api"
    shop_api_password: str = field(default="", repr=False)

    @property
    def shop(self) -> PgUrl:
        return self.warehouse.with_database(self.shop_db)

    @property
    def dagster(self) -> PgUrl:
        return self.warehouse.with_database(self.dagster_db)

    @property
    def reader(self) -> PgUrl:
        """The app's read-only login to the warehouse."""
        w = self.warehouse
        return PgUrl(self.reader_user, self.reader_password, w.host, w.port, w.database)

    @property
    def pipeline(self) -> PgUrl:
        """The pipeline's login (Dagster's runs and storage, the shop API's store): the writer on
        the embedded server, the URL's own user on an external one."""
        w = self.warehouse
        if not (self.embedded_postgres and self.pipeline_password):
            return w
        return PgUrl(self.pipeline_user, self.pipeline_password, w.host, w.port, w.database)

    @property
    def shop_api_login(self) -> PgUrl:
        """The shop API's login to its store: read-only on the embedded server, the URL's own
        user on an external one."""
        w = self.warehouse
        if not (self.embedded_postgres and self.shop_api_password):
            return self.shop
        return PgUrl(self.shop_api_user, self.shop_api_password, w.host, w.port, self.shop_db)

    @property
    def model(self) -> PgUrl:
        """MindsDB's login to the warehouse (its datasource): reads the training view only."""
        w = self.warehouse
        return PgUrl(self.model_user, self.model_password, w.host, w.port, w.database)


def load() -> Settings:
    """Settings from the environment, falling back to the embedded stack's generated values.

    An embedded server's URL is always its own (generated secrets, chosen port), whatever the
    URL variable says: `mode()` has already decided that variable is not in use. A service of the
    stack (PROFITEER_SECRETS_SOURCE=environment) has only the secrets its environment holds: the
    others stay empty, and secrets.json is not read.
    """
    env = os.environ
    embedded = mode("postgres") == "embedded"
    embedded_mindsdb = mode("mindsdb") == "embedded"
    login = "postgres"  # the embedded server's admin
    if env.get(SECRETS_SOURCE_VARIABLE) == "environment":  # a service: the login it was given
        login = env.get("PROFITEER_PG_USER", login)
        generated = {"pg_password": env.get("PROFITEER_PG_PASSWORD", "")}
    elif embedded or not env.get("PROFITEER_SHOP_API_KEY"):
        generated = embedded_secrets()
    else:
        generated = {}
    if embedded:
        warehouse = PgUrl(
            login, generated["pg_password"], "127.0.0.1", embedded_pg_port(), "warehouse"
        )
    else:
        warehouse = PgUrl.parse(env["PROFITEER_DATABASE_URL"])
    return Settings(
        warehouse=warehouse,
        shop_db=env.get("PROFITEER_SHOP_DB", "shop"),
        dagster_db=env.get("PROFITEER_DAGSTER_DB", "dagster"),
        embedded_postgres=embedded,
        embedded_mindsdb=embedded_mindsdb,
        mindsdb_url=f"http://127.0.0.1:{port('mindsdb')}"
        if embedded_mindsdb
        else env["MINDSDB_URL"],
        shop_api_url=env.get("PROFITEER_SHOP_API_URL", f"http://127.0.0.1:{port('shop_api')}"),
        shop_api_key=env.get("PROFITEER_SHOP_API_KEY") or generated.get("shop_api_key", ""),
        reader_user=env.get("PROFITEER_READER_USER", "profiteer_reader"),
        reader_password=env.get("PROFITEER_READER_PASSWORD")
        or generated.get("pg_reader_password", ""),
        model_user=env.get("PROFITEER_MODEL_USER", "profiteer_model"),
        model_password=env.get("PROFITEER_MODEL_PASSWORD")
        or generated.get("pg_model_password", ""),
        pipeline_password=generated.get("pg_pipeline_password", ""),
        shop_api_password=generated.get("pg_shop_api_password", ""),
    )


def environment(settings: Settings) -> dict[str, str]:
    """Every variable of the stack (what `profiteer env` prints; Dagster's EnvVar reads these).

    Each service of `profiteer up` gets only its own share of them (stack/context.py).
    """
    w = settings.warehouse
    return {
        "PROFITEER_STATE_DIR": str(state_dir()),
        "PROFITEER_DATABASE_URL": w.dsn(),
        "PROFITEER_PG_HOST": w.host,
        "PROFITEER_PG_PORT": str(w.port),
        "PROFITEER_PG_USER": w.user,
        "PROFITEER_PG_PASSWORD": w.password,
        "PROFITEER_WAREHOUSE_DB": w.database,
        "PROFITEER_DAGSTER_DB": settings.dagster_db,
        "PROFITEER_SHOP_DB": settings.shop_db,
        "PROFITEER_READER_USER": settings.reader_user,
        "PROFITEER_READER_PASSWORD": settings.reader_password,
        "PROFITEER_MODEL_USER": settings.model_user,
        "PROFITEER_MODEL_PASSWORD": settings.model_password,
        "MINDSDB_URL": settings.mindsdb_url,
        "PROFITEER_SHOP_API_URL": settings.shop_api_url,
        "PROFITEER_SHOP_API_KEY": settings.shop_api_key,
        "DAGSTER_HOME": str(state_dir() / "dagster_home"),
    }
