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
from profiteer_pipeline.stack.processes import ProcessTable

REPO_ROOT = Path(profiteer_pipeline.__file__).resolve().parent.parent


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
                "AIRBYTE_OFFLINE_MODE": "1",  # PyAirbyte: no connector-registry lookup
                "AIRBYTE_LOGGING_ROOT": str(self.state / "airbyte-logs"),
            }
        )

    def child_environment(self) -> dict[str, str]:
        """environment() over this process's own, with the venv's bin first on PATH."""
        env = dict(os.environ) | self.environment()
        bindir = str(Path(sys.executable).parent)  # PyAirbyte calls `uv` from PATH
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        return env

    @property
    def dagster_home(self) -> Path:
        return Path(self.environment()["DAGSTER_HOME"])

    def prepare_dagster_home(self) -> Path:
        """$DAGSTER_HOME with the repository's dagster.yaml (refreshed on every start)."""
        home = self.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        return home
