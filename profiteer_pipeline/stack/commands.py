"""`profiteer up/down/status/env`: the local stack from the command line.

Known failures (a taken port, a missing MindsDB install, a service that crashes while starting)
end with one clear message and a non-zero exit, never a traceback. Anything unexpected is logged
with its traceback under the state folder and summarized in one line.
"""

from __future__ import annotations

import json
import shlex
import sys
import traceback
from collections.abc import Callable
from functools import wraps

import click


def _errors_to_messages(command: str) -> Callable:
    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args, **kwargs):
            from profiteer_pipeline.stack.errors import StackError

            try:
                return fn(*args, **kwargs)
            except StackError as exc:  # every known failure: its message names the fix
                click.echo(f"profiteer {command}: {exc}", err=True)
                sys.exit(1)
            except (ValueError, OSError) as exc:  # a bad setting (port, URL) or the file system
                click.echo(f"profiteer {command}: {type(exc).__name__}: {exc}", err=True)
                sys.exit(1)
            except Exception as exc:
                log = _log_traceback(command)
                click.echo(
                    f"profiteer {command}: unexpected {type(exc).__name__}: {exc}"
                    f" (traceback in {log})",
                    err=True,
                )
                sys.exit(1)

        return wrapper

    return decorate


def _log_traceback(command: str) -> str:
    from profiteer_pipeline.settings import state_dir

    path = state_dir() / "logs" / "profiteer.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            fh.write(f"--- profiteer {command}\n{traceback.format_exc()}\n")
    except OSError:
        return "(could not write the log)"
    return str(path)


def _stack():
    from profiteer_pipeline.stack.stack import Stack

    return Stack(echo=click.echo, err=lambda msg: click.echo(msg, err=True))


@click.command()
@click.option(
    "--detach", is_flag=True, help="Return once every service answers (after the main job)."
)
@click.option(
    "--no-main-job", is_flag=True, help="Start the services only; skip the backfill and training."
)
@_errors_to_messages("up")
def up(detach: bool, no_main_job: bool) -> None:
    """Start PostgreSQL, MindsDB, the shop API, Dagster and the app; run the main job.

    In the foreground (the default) it watches the services; Ctrl-C stops everything.
    """
    sys.exit(_stack().up(detach=detach, main_job=not no_main_job))


@click.command()
@_errors_to_messages("down")
def down() -> None:
    """Stop every service of the stack (by PID) and the embedded PostgreSQL."""
    sys.exit(_stack().down())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_errors_to_messages("status")
def status(as_json: bool) -> None:
    """Each service's state (running, stopped, crashed, external) and the URLs."""
    report = _stack().status()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key in [k for k in report if k.endswith("_url")] + ["dagster_home"]:
        click.echo(f"  {key:<13} {report[key]}")
    click.echo("")
    for name, svc in report["services"].items():
        where = f"port {svc['port']}" if svc.get("port") else svc.get("url", "")
        pid = f"pid {svc['pid']}" if svc.get("pid") else ""
        answers = "answers" if svc.get("ready") else ""
        click.echo(f"  {name:<10} {svc['state']:<8} {where:<12} {pid:<11} {answers}".rstrip())


@click.command()
@_errors_to_messages("env")
def env() -> None:
    """Print `export VAR=...` lines for the running stack: eval "$(profiteer env)".

    Then the dagster CLI (backfills, materializations) talks to the same instance and databases.
    The output contains the database password: it is meant for your own shell only.
    """
    stack = _stack()
    stack.prepare_dagster_home()  # so `dagster` commands find the instance config even before `up`
    click.echo("# Profiteer stack environment (includes the database password; keep it private)")
    for key, value in stack.environment().items():
        click.echo(f"export {key}={shlex.quote(value)}")


def register(main: click.Group) -> None:
    for command in (up, down, status, env):
        main.add_command(command)
