"""The MindsDB server: its own virtual environment (outside the project's), storage in the state folder."""

from __future__ import annotations

import json
from pathlib import Path

from profiteer_pipeline.stack.errors import MindsDBNotInstalled

INSTALLED_MARKER = ".profiteer-installed"


def python_of(venv: Path) -> Path:
    """The venv's interpreter, refusing a missing or half-finished install with the fix."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise MindsDBNotInstalled(
            f"MindsDB is not installed at {venv}. Fix: run `make mindsdb` (about 1-6 min, once)."
        )
    if not (venv / INSTALLED_MARKER).exists():
        raise MindsDBNotInstalled(
            f"The MindsDB install at {venv} was interrupted. Fix: `rm -rf {venv} && make mindsdb`."
        )
    return python


def write_config(storage: Path, port: int) -> Path:
    """The server's config in its storage folder, which is owner-only (0700): MindsDB keeps its
    datasources' connection data there, the model login's password included."""
    storage.mkdir(parents=True, exist_ok=True)
    storage.chmod(0o700)
    config = storage / "config.json"
    config.write_text(
        json.dumps(
            {
                "api": {"http": {"host": "127.0.0.1", "port": str(port)}},
                "gui": {"autoupdate": False, "open_on_start": False},
                "auth": {"http_auth_enabled": False},
            }
        )
    )
    return config


def command(venv: Path, storage: Path, port: int) -> list[str]:
    config = write_config(storage, port)
    return [
        str(python_of(venv)),
        "-m",
        "mindsdb",
        "--api",
        "http",
        "--no_studio",
        "--config",
        str(config),
    ]


def environment(storage: Path) -> dict[str, str]:
    return {
        "MINDSDB_STORAGE_DIR": str(storage),
        "MINDSDB_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "NLTK_DATA": str(storage / "nltk_data"),
        "HF_HUB_OFFLINE": "1",
        # every source's count model is a BYOM engine that runs inside MindsDB (model.engine)
        "MINDSDB_BYOM_INHOUSE_ENABLED": "true",
    }


def status_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/status"
