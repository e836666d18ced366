"""`./.env` in the project folder: the running stack's variables for the `dagster` CLI.

Every `dagster` command reads a `.env` file from its working folder before it builds the instance,
so with this file the README's `dagster ...` commands work in a new shell in the project folder
as written, without `eval "$(profiteer env)"` (which stays the way for other folders).

- `profiteer up` writes it once the services answer: Dagster's own variables (DAGSTER_HOME, the
  pipeline's login, not the admin's: `Context.cli_environment`), owner-only (0600) from the
  first byte (`secret_files.write_private`); `.gitignore` lists it.
- `profiteer down` removes it.
- It is the stack's file only when its first line says so and names this state folder: a `.env`
  of your own is never overwritten or removed, and neither is one written by a stack on another
  state folder (a benchmark's or a test's stack, say) while that one runs.

Only a stack whose state folder is inside the project folder writes it (the default
`.profiteer/`): a test's or a benchmark's stack, on a state folder elsewhere, never touches the
clone's `.env`, so a `dagster` command run in the clone meanwhile is not pointed at it.

Dagster's services are started outside the project folder (in DAGSTER_HOME), so `dagster dev`
never loads this file: each service keeps only its own variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from profiteer_pipeline.secret_files import write_private

NAME = ".env"
MARKER = "# written by `profiteer up` for the stack with the state folder "


def for_this_clone(folder: Path, state: Path) -> bool:
    """True when the stack's state folder lies inside the project folder (the default one does)."""
    return Path(state).resolve().is_relative_to(Path(folder).resolve())


def header(state: Path) -> str:
    return f"{MARKER}{state}\n"


def unwritable(variables: Mapping[str, str]) -> list[str]:
    """Variables a .env cannot carry as they are: Dagster's reader (python-dotenv) expands
    `${NAME}` even in quotes, with no escape."""
    return [key for key, value in variables.items() if "${" in value or "\n" in value]


def render(state: Path, variables: Mapping[str, str]) -> str:
    """KEY='value' lines: single quotes, with `\\` and `\\'` escaped (as python-dotenv reads them)."""
    if bad := unwritable(variables):
        raise ValueError(f"cannot write {', '.join(bad)} to a .env file (`${{` or a line break)")
    lines = [
        header(state).rstrip("\n"),
        "# the database passwords are in here: keep it private; `profiteer down` removes it",
    ]
    for key, value in variables.items():
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"{key}='{escaped}'")
    return "\n".join(lines) + "\n"


def owner(path: Path) -> str | None:
    """The state folder a `.env` was written for; None when it is not the stack's file."""
    try:
        with open(path) as fh:
            first = fh.readline()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if not first.startswith(MARKER):
        return None
    return first[len(MARKER) :].rstrip("\n")


def write(folder: Path, state: Path, variables: Mapping[str, str]) -> str:
    """Write `folder/.env` unless it belongs to someone else; returns what was done, for the log."""
    path = folder / NAME
    if path.exists():
        found = owner(path)
        if found is None:
            return f'{path} is your own file: left as it is (use `eval "$(profiteer env)"`)'
        if (
            found != str(state)
            and Path(found, "run").is_dir()
            and any(Path(found, "run").glob("*.json"))
        ):
            return (
                f"{path} belongs to the stack with the state folder {found}, which still runs: "
                "left as it is"
            )
    if bad := unwritable(variables):
        return f"{path} not written: {', '.join(bad)} cannot be carried by a .env file"
    write_private(path, render(state, variables))
    return (
        f"{path} written (the `dagster` CLI reads it in this folder; `profiteer down` removes it)"
    )


def remove(folder: Path, state: Path) -> bool:
    """Remove `folder/.env` when this stack wrote it."""
    path = folder / NAME
    if owner(path) != str(state):
        return False
    path.unlink(missing_ok=True)
    return True
