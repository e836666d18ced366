"""The local stack manager behind `profiteer up/down/status`: it starts, watches and stops the
services (lineup.py) by looping over them; what each one is lives in its kind.

Every process is recorded by PID under the state folder (`run/`), logs in `logs/`; a lock file
keeps two `profiteer up`/`down` from managing one state folder at once (locking.py).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from profiteer_pipeline.stack import dotenv, locking
from profiteer_pipeline.stack.context import REPO_ROOT, Context
from profiteer_pipeline.stack.errors import MainJobError, StackError
from profiteer_pipeline.stack.interrupts import Interrupted, StopFlag
from profiteer_pipeline.stack.lineup import URL_ORDER, lineup
from profiteer_pipeline.stack.ports import port_free, port_owner, suggest_port
from profiteer_pipeline.stack.processes import cause, tail
from profiteer_pipeline.stack.service import Service, exit_text


class Stack:
    def __init__(self, echo: Callable[[str], None] = print, err: Callable[[str], None] = print):
        self.echo, self.err = echo, err
        self.ctx = Context.load(echo, err)
        self.state = self.ctx.state
        self.settings = self.ctx.settings
        lined_up = lineup(self.ctx)
        self.active, self.dormant = lined_up.active, lined_up.dormant
        self.by_name = lined_up.by_name()
        self.stop_flag = StopFlag()

    def managed(self) -> list[Service]:
        """The services this stack starts (an external database or MindsDB is only checked)."""
        return [svc for svc in self.active if svc.managed]

    def url(self, name: str) -> str:
        return self.by_name[name].url()

    def environment(self) -> dict[str, str]:
        return self.ctx.environment()

    @property
    def dagster_home(self) -> Path:
        return self.ctx.dagster_home

    def prepare_dagster_home(self) -> Path:
        return self.ctx.prepare_dagster_home()

    # --- up ------------------------------------------------------------------------------

    def up(self, *, detach: bool, main_job: bool) -> int:
        self.stop_flag.install()
        with locking.hold(self.state, "up", self.echo):
            self.echo(f"Profiteer stack (state folder {self.state})")
            for svc in self.active + self.dormant:
                for note in svc.notes():
                    self.echo(note)
            todo = [svc for svc in self.managed() if svc.pid() is None]
            if not todo:
                self.echo(
                    "The stack is already running; nothing started (`profiteer down` stops it)."
                )
                self.print_urls()
                return 0
            self._preflight(todo)
            started: list[Service] = []
            try:
                for stage in _stages(self.active):
                    self._start_stage(stage, started)
            except Interrupted:
                self.echo("Interrupted: stopping what this `profiteer up` started.")
                self.stop(started)
                return 0 if not detach else 128 + (self.stop_flag.signum or signal.SIGINT)
            except BaseException:
                self.err("Stopping what this `profiteer up` started.")
                self.stop(started)
                dotenv.remove(REPO_ROOT, self.state)
                raise
            self.print_urls()
            if dotenv.for_this_clone(REPO_ROOT, self.state):
                self.echo(f"  {dotenv.write(REPO_ROOT, self.state, self.ctx.cli_environment())}\n")
            try:
                failed = self._run_main_job() if main_job else False
                if detach:
                    return 3 if failed else 0
                self.echo("Profiteer is running. Ctrl-C stops everything.")
                self._watch()
            except Interrupted as exc:
                if detach:
                    self.echo(
                        f"{exc}: stopped waiting; the stack keeps running (`profiteer down` stops it)."
                    )
                    return 0
                self.echo(f"\n{exc} received: stopping the stack.")
                self.stop(self.managed())
                dotenv.remove(REPO_ROOT, self.state)
                return 0
            return 0

    def _preflight(self, todo: list[Service]) -> None:
        """Everything that can be checked before starting anything: ports, installs, files."""
        problems = []
        wanted: dict[int, str] = {}
        for svc in todo:
            for port, var in svc.claims():
                if port in wanted:
                    problems.append(
                        f"{svc.label} and {wanted[port]} are both configured for port {port}: set {var}."
                    )
                    continue
                wanted[port] = svc.label
                if not port_free(port):
                    owner = port_owner(port)
                    problems.append(
                        f"port {port} is already in use{f' by {owner}' if owner else ''}, so "
                        f"{svc.label} cannot listen there. Fix: stop that process, or choose a free "
                        f"port, e.g. `{var}={suggest_port(port)} profiteer up`."
                    )
        for svc in self.managed():
            problems += svc.problems()
        if problems:
            raise StackError("cannot start the stack:\n  - " + "\n  - ".join(problems))

    def _start_stage(self, stage: list[Service], started: list[Service]) -> None:
        """Check the stage's external endpoints, start the rest, then wait for all of them at
        once, printing each in the stage's order with its own time. A service that exits or stays
        silent past its timeout fails the start (ServiceError, naming its log)."""
        began: dict[str, float] = {}  # started now: when
        found: dict[str, float] = {}  # running already or external: how long the check took
        for svc in sorted(stage, key=lambda s: s.managed):
            self.stop_flag.check()
            t = time.monotonic()
            if svc.start():
                started.append(svc)
                began[svc.name] = t
            else:
                found[svc.name] = time.monotonic() - t
        pending = [svc for svc in stage if svc.name in began]
        ready_after: dict[str, float] = {}
        order = list(stage)
        while order:
            self.stop_flag.check()
            for svc in pending:
                if svc.poll_start():
                    ready_after[svc.name] = time.monotonic() - began[svc.name]
            pending = [svc for svc in pending if svc.name not in ready_after]
            while order and (order[0].name in ready_after or order[0].name in found):
                svc = order.pop(0)
                if svc.name in ready_after:
                    self.echo(svc.started_line(ready_after[svc.name]))
                else:
                    self.echo(svc.found_line(found[svc.name]))
            if order:
                time.sleep(0.3)

    def _run_main_job(self) -> bool:
        """True when it failed (reported, without a traceback); the stack stays up either way."""
        from profiteer_pipeline.stack.main_job import run_main_job

        self.echo("Main job: backfill the last 48 hourly partitions, then watch automation")
        t = time.monotonic()
        try:
            run_main_job(self.url("dagster"), self.echo, self.stop_flag.check)
        except MainJobError as exc:
            self.err(f"  main job failed: {exc}")
            return True
        self.echo(f"  main job finished in {time.monotonic() - t:.1f}s")
        return False

    def _watch(self) -> None:
        """Stay in the foreground; report a service that crashes, with its log tail."""
        watched = self.managed()
        gone: set[str] = set()
        while True:
            self.stop_flag.check()
            for svc in watched:
                if svc.name in gone or svc.pid() is not None:
                    continue
                gone.add(svc.name)
                log = svc.log()
                self.err(
                    f"  {svc.name} crashed{exit_text(svc.exit_code())}{cause(log)}.\n"
                    f"  log: {log}\n{tail(log)}\n"
                    "  The other services keep running; Ctrl-C stops everything, "
                    "then `profiteer up` starts it all again."
                )
            if len(gone) == len(watched):
                raise StackError("every service has stopped; see the logs above")
            time.sleep(1)

    # --- down ----------------------------------------------------------------------------

    def down(self) -> int:
        self.stop_flag.install()  # a Ctrl-C must not leave the stack half stopped
        with locking.hold(self.state, "down", self.echo) as took_over:
            table = self.ctx.table
            for name in table.names():
                rec = table.stale(name)
                if rec is not None:
                    self.echo(
                        f"  {name:<10} was not running (stale pid file for pid {rec.pid}: removed)"
                    )
                    table.forget(name)
            running = [s for s in self.active + self.dormant if s.managed and s.pid() is not None]
            if not running:
                self.echo("Nothing else was running." if took_over else "Nothing was running.")
            else:
                self.stop(running)
            if dotenv.remove(REPO_ROOT, self.state):
                self.echo(f"  removed {REPO_ROOT / dotenv.NAME}")
            return 0

    def stop(self, services: list[Service]) -> None:
        """Stop stage by stage in reverse (PostgreSQL last); each stage's services concurrently."""
        for stage in reversed(_stages(services)):
            order = list(reversed(stage))
            with ThreadPoolExecutor(len(order)) as pool:
                futures = [pool.submit(_timed_stop, svc) for svc in order]
                for svc, future in zip(order, futures, strict=True):
                    result, took = future.result()
                    if result is not None:
                        self.echo(svc.line(*result, took))

    # --- status and URLs -----------------------------------------------------------------

    def status(self) -> dict:
        services = {svc.name: svc.entry() for svc in self.active}
        for svc in self.dormant:  # left from an earlier `up` in another mode, say
            if svc.pid() is not None:
                key = f"embedded_{svc.name}" if svc.name in services else svc.name
                services[key] = svc.entry()
        return {
            "state_dir": str(self.state),
            **{self.by_name[n].url_key: self.url(n) for n in URL_ORDER},
            "dagster_home": str(self.dagster_home),
            "logs": str(self.ctx.table.log_dir),
            "services": services,
        }

    def print_urls(self) -> None:
        rows = [(self.by_name[n].url_label, self.url(n)) for n in URL_ORDER]
        rows += [("DAGSTER_HOME", str(self.dagster_home)), ("logs", str(self.ctx.table.log_dir))]
        self.echo("")
        for label, value in rows:
            self.echo(f"  {label:<13} {value}")
        self.echo("")


def _stages(services: list[Service]) -> list[list[Service]]:
    """The services grouped by stage, lowest first, each group in the given order."""
    return [
        [svc for svc in services if svc.stage == stage]
        for stage in sorted({svc.stage for svc in services})
    ]


def _timed_stop(svc: Service) -> tuple[tuple[str, str] | None, float]:
    t = time.monotonic()
    result = svc.stop()
    return result, time.monotonic() - t
