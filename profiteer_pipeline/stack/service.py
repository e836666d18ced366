"""The one interface the stack manager drives: a service knows how it starts, whether it answers,
how it reports itself, and how it stops.

Kinds: a spawned process (spawned.py), the embedded PostgreSQL (embedded_pg.py) and an external
endpoint that is only checked (external.py). Which kind each service is, in the chosen mode, is
decided in lineup.py; stack.py then loops over services and never asks which one it holds.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod


class Service(ABC):
    name: str  # key of the status entry, the pid file and the log
    label: str  # how messages name it
    url_label: str  # its row in the URL list
    url_key: str  # its key in `profiteer status --json`
    stage: int  # started after every service of a lower stage answers, stopped before them
    managed: bool = True  # started and stopped by this stack (False: only checked)

    # --- before starting -------------------------------------------------------------------

    def claims(self) -> list[tuple[int, str]]:
        """(port, variable that sets it) for each port a start now would listen on."""
        return []

    def problems(self) -> list[str]:
        """What would make a start fail, found without starting anything (each with its fix)."""
        return []

    def notes(self) -> list[str]:
        """Lines `up` prints first: what a crash left behind (cleaned), a setting not used."""
        return []

    # --- starting ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The running process this stack manages, if any."""
        return None

    @abstractmethod
    def start(self) -> bool:
        """Start it, or check it when it runs already or is external. True: started now (so
        `poll_start` follows, and a failed `up` stops it again)."""

    def poll_start(self) -> bool:
        """After start() returned True: whether it answers yet. Raises ServiceError once it
        never will (it exited, or its start timeout passed)."""
        return True

    # --- reporting ---------------------------------------------------------------------------

    @abstractmethod
    def where(self) -> str:
        """Host and port (or URL) for a status line."""

    @abstractmethod
    def url(self) -> str:
        """The URL clients use (a database URL with its password redacted)."""

    @abstractmethod
    def answers(self) -> bool:
        """It answers now (the status entry's `ready`)."""

    @abstractmethod
    def entry(self) -> dict:
        """Its entry under `services` in `profiteer status --json`."""

    def line(self, state: str, where: str = "", seconds: float | None = None) -> str:
        took = f"{seconds:6.1f}s" if seconds is not None else ""
        return f"  {self.name:<10} {state:<8} {where:<22} {took}".rstrip()

    def started_line(self, seconds: float) -> str:
        return self.line("ready", self.where(), seconds)

    def found_line(self, seconds: float) -> str:
        """The line for a service start() did not start: it was running already."""
        return self.line("running", self.where()) + "  (already)"

    def log(self) -> str:
        return ""

    def exit_code(self) -> int | None:
        """The exit status, when this process spawned it and it has ended."""
        return None

    # --- stopping ----------------------------------------------------------------------------

    def stop(self) -> tuple[str, str] | None:
        """Stop it by PID; (state, where) for its line, or None when there was nothing to stop."""
        return None


def exit_text(code: int | None) -> str:
    """' (exit code N)' or ' (killed by SIGNAME)' for a message, or ''."""
    if code is None:
        return ""
    if code < 0:
        return f" (killed by {signal.Signals(-code).name})"
    return f" (exit code {code})"
